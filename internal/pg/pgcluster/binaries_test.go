//go:build unix

package pgcluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFindBinaries(t *testing.T) {
	t.Parallel()

	bins := requireBinaries(t)
	require.GreaterOrEqual(t, bins.Major, MinMajorVersion)
	for _, p := range []string{bins.Initdb, bins.PgCtl, bins.Postgres} {
		require.FileExists(t, p)
		require.Equal(t, bins.Dir, filepath.Dir(p))
	}
}

func TestFindBinariesNone(t *testing.T) {
	t.Parallel()

	empty := t.TempDir()
	_, err := binFinder{path: "", dirs: []string{empty}}.find(0)
	require.ErrorIs(t, err, ErrNoBinaries)
	for _, want := range []string{
		"PostgreSQL 14+",
		"apt-get install postgresql",
		"dnf install postgresql-server",
		"brew install postgresql",
		"DATABASE_URL",
		empty,
	} {
		require.Contains(t, err.Error(), want)
	}
}

func TestFindBinariesVersions(t *testing.T) {
	t.Parallel()

	old := fakeInstall(t, "postgres (PostgreSQL) 13.16")
	newer := fakeInstall(t, "postgres (PostgreSQL) 16.4 (Homebrew)")

	t.Run("TooOld", func(t *testing.T) {
		t.Parallel()
		_, err := binFinder{dirs: []string{old}}.find(0)
		require.ErrorIs(t, err, ErrNoBinaries)
		require.Contains(t, err.Error(), old+": PostgreSQL 13.16 is older than 14")
	})

	t.Run("PicksFirstUsable", func(t *testing.T) {
		t.Parallel()
		bins, err := binFinder{dirs: []string{old, newer}}.find(0)
		require.NoError(t, err)
		require.Equal(t, Binaries{
			Dir:      newer,
			Initdb:   filepath.Join(newer, "initdb"),
			PgCtl:    filepath.Join(newer, "pg_ctl"),
			Postgres: filepath.Join(newer, "postgres"),
			Version:  "16.4",
			Major:    16,
		}, bins)
	})

	t.Run("OnPATH", func(t *testing.T) {
		t.Parallel()
		bins, err := binFinder{path: old + string(os.PathListSeparator) + newer}.find(0)
		require.NoError(t, err)
		require.Equal(t, newer, bins.Dir)
	})

	t.Run("ExactMajor", func(t *testing.T) {
		t.Parallel()
		_, err := binFinder{dirs: []string{newer}}.find(15)
		require.ErrorIs(t, err, ErrNoBinaries)
		require.Contains(t, err.Error(), "needs PostgreSQL 15, found PostgreSQL 16.4 in "+newer)
	})

	t.Run("Incomplete", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeScript(t, filepath.Join(dir, "initdb"), "exit 0")
		_, err := binFinder{dirs: []string{dir}}.find(0)
		require.ErrorIs(t, err, ErrNoBinaries)
		require.Contains(t, err.Error(), dir+": has initdb but no executable pg_ctl")
	})
}

func TestParseVersion(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		out     string
		version string
		major   int
	}{
		{"postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15.18", 15},
		{"postgres (PostgreSQL) 14.0\n", "14.0", 14},
		{"postgres (PostgreSQL) 18beta1\n", "18beta1", 18},
		{"postgres (PostgreSQL) 9.6.24\n", "9.6.24", 9},
	} {
		version, major, err := parseVersion(tt.out)
		require.NoError(t, err, tt.out)
		require.Equal(t, tt.version, version)
		require.Equal(t, tt.major, major)
	}
	_, _, err := parseVersion("postgres: unknown option\n")
	require.Error(t, err)
}

// fakeInstall makes a directory with initdb, pg_ctl and a postgres that
// prints version.
func fakeInstall(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "initdb"), "exit 1")
	writeScript(t, filepath.Join(dir, "pg_ctl"), "exit 1")
	writeScript(t, filepath.Join(dir, "postgres"), "echo '"+version+"'")
	return dir
}

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
}
