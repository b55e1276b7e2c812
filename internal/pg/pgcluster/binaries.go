package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MinMajorVersion is the oldest PostgreSQL major version deltalog runs on.
const MinMajorVersion = 14

// Binaries locates one PostgreSQL installation's server programs.
type Binaries struct {
	Dir      string // directory holding the programs
	Initdb   string // absolute path of initdb
	PgCtl    string // absolute path of pg_ctl
	Postgres string // absolute path of postgres
	Version  string // full version, e.g. "15.18"
	Major    int    // major version, e.g. 15
}

// searchDirs are the directories searched after pg_config --bindir and PATH,
// in order. Globs are expanded highest version first. Tests replace it.
var searchDirs = []string{
	"/usr/lib/postgresql/*/bin",                          // Debian, Ubuntu
	"/usr/pgsql-*/bin",                                   // PGDG packages for RHEL, Fedora
	"/usr/local/pgsql/bin",                               // built from source
	"/opt/homebrew/opt/postgresql@*/bin",                 // Homebrew, Apple silicon
	"/opt/homebrew/bin",                                  //
	"/usr/local/opt/postgresql@*/bin",                    // Homebrew, Intel
	"/usr/local/bin",                                     //
	"/usr/bin",                                           // Fedora postgresql-server, Arch
	"/Applications/Postgres.app/Contents/Versions/*/bin", // Postgres.app
}

// FindBinaries finds PostgreSQL server binaries of version 14 or newer: in the
// directory reported by `pg_config --bindir`, then next to each initdb on
// PATH, then in the usual installation directories (highest version
// first). When none is usable the error wraps [ErrNoBinaries] and says how to
// install them.
func FindBinaries() (Binaries, error) {
	return defaultFinder().find(0)
}

// binFinder holds what the search depends on, so tests can run it against
// an empty PATH and their own directories without touching the environment.
type binFinder struct {
	path string   // a PATH list
	dirs []string // searchDirs
}

func defaultFinder() binFinder {
	return binFinder{path: os.Getenv("PATH"), dirs: searchDirs}
}

// find returns the first usable installation; with wantMajor > 0, the first
// one of exactly that major version (to run an existing data directory).
func (f binFinder) find(wantMajor int) (Binaries, error) {
	var (
		seen     = map[string]bool{}
		rejected []string
		found    []string
	)
	for _, dir := range f.candidates() {
		key := dir
		if resolved, err := filepath.EvalSymlinks(dir); err == nil {
			key = resolved
		}
		if seen[key] {
			continue
		}
		seen[key] = true

		bins, err := probe(dir)
		switch {
		case errors.Is(err, errNoInitdb):
			continue
		case err != nil:
			rejected = append(rejected, fmt.Sprintf("%s: %v", dir, err))
		case wantMajor > 0 && bins.Major != wantMajor:
			found = append(found, fmt.Sprintf("PostgreSQL %s in %s", bins.Version, dir))
		case wantMajor == 0 && bins.Major < MinMajorVersion:
			rejected = append(rejected, fmt.Sprintf("%s: PostgreSQL %s is older than %d", dir, bins.Version, MinMajorVersion))
		default:
			return bins, nil
		}
	}

	var detail strings.Builder
	fmt.Fprintf(&detail, " (searched `pg_config --bindir`, initdb on PATH, %s)", strings.Join(f.dirs, ", "))
	if len(rejected) > 0 {
		fmt.Fprintf(&detail, "; rejected: %s", strings.Join(rejected, "; "))
	}
	detail.WriteString("; ")
	detail.WriteString(installHint)
	if wantMajor > 0 {
		have := "none"
		if len(found) > 0 {
			have = strings.Join(found, ", ")
		}
		return Binaries{}, fmt.Errorf("pgcluster: %w: the data directory needs PostgreSQL %d, found %s%s",
			ErrNoBinaries, wantMajor, have, detail.String())
	}
	return Binaries{}, fmt.Errorf("pgcluster: %w%s", ErrNoBinaries, detail.String())
}

// candidates lists directories to probe, in search order.
func (f binFinder) candidates() []string {
	var dirs []string
	if pgConfig := lookPathIn("pg_config", f.path); pgConfig != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, pgConfig, "--bindir").Output()
		cancel()
		if dir := strings.TrimSpace(string(out)); err == nil && dir != "" {
			dirs = append(dirs, dir)
		}
	}
	for _, initdb := range lookPathAll("initdb", f.path) {
		// Follow a symlink such as /usr/local/bin/initdb to the directory
		// holding the whole installation.
		if resolved, err := filepath.EvalSymlinks(initdb); err == nil {
			dirs = append(dirs, filepath.Dir(resolved))
		}
		dirs = append(dirs, filepath.Dir(initdb))
	}
	for _, pattern := range f.dirs {
		matches, _ := filepath.Glob(pattern)
		slices.SortStableFunc(matches, func(a, b string) int {
			return -slices.Compare(numbers(a), numbers(b)) // highest version first
		})
		dirs = append(dirs, matches...)
	}
	return dirs
}

// lookPathIn is exec.LookPath over an explicit PATH list.
func lookPathIn(name, pathList string) string {
	if all := lookPathAll(name, pathList); len(all) > 0 {
		return all[0]
	}
	return ""
}

// lookPathAll returns every executable name in the PATH list, in order.
func lookPathAll(name, pathList string) []string {
	var found []string
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			if abs, err := filepath.Abs(p); err == nil {
				found = append(found, abs)
			}
		}
	}
	return found
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

var numberRE = regexp.MustCompile(`\d+`)

// numbers returns the integers in s, for ordering paths by version.
func numbers(s string) []int {
	var ns []int
	for _, m := range numberRE.FindAllString(s, -1) {
		n, _ := strconv.Atoi(m)
		ns = append(ns, n)
	}
	return ns
}

var errNoInitdb = errors.New("no initdb")

// probe checks that dir holds initdb, pg_ctl and postgres and reads the
// version of postgres.
func probe(dir string) (Binaries, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Binaries{}, err
	}
	b := Binaries{
		Dir:      dir,
		Initdb:   filepath.Join(dir, "initdb"),
		PgCtl:    filepath.Join(dir, "pg_ctl"),
		Postgres: filepath.Join(dir, "postgres"),
	}
	if !isExecutable(b.Initdb) {
		return Binaries{}, errNoInitdb
	}
	for _, p := range []string{b.PgCtl, b.Postgres} {
		if !isExecutable(p) {
			return Binaries{}, fmt.Errorf("has initdb but no executable %s", filepath.Base(p))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, b.Postgres, "--version").Output()
	if err != nil {
		return Binaries{}, fmt.Errorf("`postgres --version`: %w", err)
	}
	b.Version, b.Major, err = parseVersion(string(out))
	if err != nil {
		return Binaries{}, err
	}
	return b, nil
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\)\s+((\d+)\S*)`)

// parseVersion reads the output of `postgres --version`, e.g.
// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
func parseVersion(out string) (version string, major int, err error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return "", 0, fmt.Errorf("cannot read version from %q", strings.TrimSpace(out))
	}
	major, err = strconv.Atoi(m[2])
	if err != nil {
		return "", 0, fmt.Errorf("cannot read version from %q: %w", strings.TrimSpace(out), err)
	}
	return m[1], major, nil
}
