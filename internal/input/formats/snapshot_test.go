package formats

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
)

func TestReadSnapshotOverlay(t *testing.T) {
	t.Parallel()
	base, overlay := fixture("bookworm-main-Sources.xz"), fixture("bookworm-updates-main-Sources.xz")
	basePkgs, _ := parseFixture(t, "bookworm-main-Sources.xz", DebianSources)
	updates, _ := parseFixture(t, "bookworm-updates-main-Sources.xz", DebianSources)
	require.Len(t, updates, 5)

	snap, err := ReadSnapshot(t.Context(), DebianSources, []string{base, overlay})
	require.NoError(t, err)

	replaced, stale := 0, 0
	for _, u := range updates {
		inBase := byName(basePkgs, u.Name)
		require.NotEmpty(t, inBase, "fixture must overlap: %s", u.Name)
		got := byName(snap.Packages, u.Name)
		if len(got) == 1 && reflect.DeepEqual(got[0], u) {
			replaced += len(inBase) // only the overlay's version is left
		} else {
			require.Equal(t, inBase, got, "%s: the base's newer version stays", u.Name)
			stale++
		}
	}
	require.Positive(t, replaced)
	require.Positive(t, stale)
	require.Equal(t, stale, snap.Stale)
	require.Len(t, snap.Packages, len(basePkgs)-replaced+len(updates)-stale)
	// This bookworm-updates (2026-11-19) still lists openssh
	// 1:9.2p1-2+deb12u7 while the later point release in bookworm
	// (2026-07-11) has 1:9.2p1-2+deb12u10: an overlay never downgrades.
	require.Equal(t, "1:9.2p1-2+deb12u10", one(t, basePkgs, "openssh").Version)
	require.Equal(t, "1:9.2p1-2+deb12u10", one(t, snap.Packages, "openssh").Version)
	// Not overlaid: both astropy versions of the base stay.
	require.Len(t, byName(snap.Packages, "astropy"), 2)

	// Files are recorded with the size and sha256 of their raw bytes; the
	// overlay's is the checksum in the shared data's MANIFEST.tsv.
	require.Len(t, snap.Files, 2)
	for i, path := range []string{base, overlay} {
		raw := mustRead(t, path)
		require.Equal(t, events.InputFile{Path: path, SHA256: sha256Hex(raw), Bytes: int64(len(raw))}, snap.Files[i])
	}
	require.Equal(t, "8ae1b74d1a8d9aef0645a188fb6e36adc6b2a2426900f7157f4ae4706fd5c2a9", snap.Files[1].SHA256)
	require.Equal(t, int64(3280), snap.Files[1].Bytes)
}

func TestReadSnapshotPackagesGzipAndXZ(t *testing.T) {
	t.Parallel()
	snap, err := ReadSnapshot(t.Context(), DebianPackages, []string{
		fixture("bookworm-main-Packages-amd64.gz"),
		fixture("bookworm-updates-main-Packages-amd64.xz"),
	})
	require.NoError(t, err)
	// bookworm-updates lists libssl3 3.0.17-1~deb12u2, older than the
	// base's 3.0.20-1~deb12u2: the newer base version stays.
	libssl := one(t, snap.Packages, "libssl3")
	require.Equal(t, "3.0.20-1~deb12u2", libssl.Version)
	require.Equal(t, "openssl", libssl.Project)
	// Binaries only in the base stay.
	require.Len(t, byName(snap.Packages, "linux-doc"), 2)
	require.Len(t, byName(snap.Packages, "0ad"), 1)
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

func TestReadSnapshotReplacesAllVersions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeFile(t, dir, "a.jsonl", `{"name":"mono","version":"6.8.0.105"}
{"name":"mono","version":"6.8.0.106"}
{"name":"astropy","version":"5.2.1"}
{"name":"stale","version":"2.0"}
`)
	b := writeFile(t, dir, "b.jsonl", `{"name":"mono","version":"6.8.0.107"}
{"name":"stale","version":"1.9"}
`)
	c := writeFile(t, dir, "c.jsonl", "\n")
	snap, err := ReadSnapshot(t.Context(), JSONL, []string{a, b, c})
	require.NoError(t, err)
	require.Equal(t, []events.Package{
		{Project: "astropy", Name: "astropy", Version: "5.2.1"},
		{Project: "stale", Name: "stale", Version: "2.0"},
		{Project: "mono", Name: "mono", Version: "6.8.0.107"},
	}, snap.Packages)
	require.Equal(t, 1, snap.Stale)
	require.Len(t, snap.Files, 3)
	require.Equal(t, int64(1), snap.Files[2].Bytes)
}

func TestReadSnapshotSkipped(t *testing.T) {
	t.Parallel()
	pypi, npm := fixture("pypi.tsv"), fixture("npm.tsv")
	snap, err := ReadSnapshot(t.Context(), TSV, []string{npm, pypi})
	require.NoError(t, err)
	require.Equal(t, 3, snap.Skipped)
	require.Equal(t, []SkippedLine{{pypi, 39}, {pypi, 40}, {pypi, 41}}, snap.SkippedLines)
	require.Len(t, snap.Packages, 50+47)
}

func TestReadSnapshotErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := fixture("bookworm-updates-main-Sources.xz")

	// The error names the file it is in.
	bad := writeFile(t, dir, "Sources", "Package: a\nVersion: 1\n\nPackage: b\n")
	_, err := ReadSnapshot(t.Context(), DebianSources, []string{good, bad})
	requireParseError(t, err, bad, 4, "Version", ErrMissingField)

	// Corrupt data is reported as such, even when the garbage it decodes
	// to fails to parse first.
	raw := mustRead(t, fixture("bookworm-main-Sources.xz"))
	raw = bytes.Clone(raw)
	raw[len(raw)/2] ^= 0x55
	corrupt := filepath.Join(dir, "corrupt.xz")
	require.NoError(t, os.WriteFile(corrupt, raw, 0o644))
	_, err = ReadSnapshot(t.Context(), DebianSources, []string{corrupt})
	require.ErrorIs(t, err, ErrCorrupt)
	requireParseError(t, err, corrupt, 0, "", ErrCorrupt)

	_, err = ReadSnapshot(t.Context(), Format("rpm"), []string{good})
	require.ErrorIs(t, err, ErrUnknownFormat)

	_, err = ReadSnapshot(t.Context(), DebianSources, []string{filepath.Join(dir, "absent")})
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestReadSnapshotCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := ReadSnapshot(ctx, DebianSources, []string{fixture("bookworm-main-Sources.xz")})
	require.ErrorIs(t, err, context.Canceled)
}

// cancelOnCheck is a context that cancels itself when its Err is called
// for the (after+1)th time: a deterministic cancellation in the middle of
// a read.
type cancelOnCheck struct {
	context.Context
	cancel func()
	after  int32
	calls  atomic.Int32
}

func (c *cancelOnCheck) Err() error {
	if c.calls.Add(1) > c.after {
		c.cancel()
	}
	return c.Context.Err()
}

// TestReadSnapshotCancelWhileReading cancels in the middle of a large real
// file: ReadSnapshot returns ctx.Err(), and the xz process is stopped
// (goleak in TestMain fails if its goroutines outlive the call).
func TestReadSnapshotCancelWhileReading(t *testing.T) {
	t.Parallel()
	path := sharedDebian(t, "debian-bookworm-main-Packages-amd64-20260711T101637Z.xz")
	inner, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Check 1: before the file; 2: first package; 3: package 4096.
	ctx := &cancelOnCheck{Context: inner, cancel: cancel, after: 2}
	_, err := ReadSnapshot(ctx, DebianPackages, []string{path})
	require.ErrorIs(t, err, context.Canceled)
	require.GreaterOrEqual(t, ctx.calls.Load(), int32(3), "cancelled at the third check")
}
