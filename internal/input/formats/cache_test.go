package formats

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseCache: a snapshot of several files read through a ParseCache
// gives what a plain read gives, first parsing and keeping each file's
// entry, then from the entries; an entry is what the read uses (one put
// under another file's checksum is what that file reads as), a damaged
// entry is parsed again and replaced, a one-file snapshot keeps none, and
// Retain keeps only the entries of each owner's last read.
func TestParseCache(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	base, overlay := fixture("bookworm-main-Sources.xz"), fixture("bookworm-updates-main-Sources.xz")
	files := []string{base, overlay}
	plain, err := ReadSnapshot(ctx, DebianSources, files)
	require.NoError(t, err)
	cache := &ParseCache{Dir: t.TempDir()}
	read := func(paths ...string) *Snapshot {
		t.Helper()
		s, err := ReadSnapshot(ctx, DebianSources, paths, WithParseCache(cache))
		require.NoError(t, err)
		return s
	}
	entries := func() []string {
		t.Helper()
		var out []string
		des, err := os.ReadDir(cache.Dir)
		require.NoError(t, err)
		for _, de := range des {
			if de.Type().IsRegular() {
				out = append(out, de.Name())
			}
		}
		return out
	}

	require.Equal(t, plain, read(files...), "parsed, entries written")
	require.Len(t, entries(), 2)
	require.Equal(t, plain, read(files...), "from the entries")

	// The entries are what is read: the overlay's entry under the base's
	// name makes the base read as the overlay.
	baseEntry := cache.name(DebianSources, plain.Files[0].SHA256)
	overlayEntry := cache.name(DebianSources, plain.Files[1].SHA256)
	b, err := os.ReadFile(overlayEntry)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(baseEntry, b, 0o644))
	swapped := read(files...)
	require.Equal(t, plain.Files, swapped.Files, "the files are recorded as they are")
	require.Len(t, swapped.Packages, 5, "the base read as the overlay's five packages")

	// A damaged entry is parsed again and replaced.
	require.NoError(t, os.WriteFile(baseEntry, b[:len(b)/2], 0o644))
	require.Equal(t, plain, read(files...))
	require.Equal(t, plain, read(files...), "the replaced entry reads right")

	// One file: read as it is, no entry.
	only := &ParseCache{Dir: t.TempDir()}
	s, err := ReadSnapshot(ctx, DebianSources, []string{overlay}, WithParseCache(only))
	require.NoError(t, err)
	require.Len(t, s.Packages, 5)
	des, err := os.ReadDir(only.Dir)
	require.NoError(t, err)
	require.Empty(t, des)

	// Retain: each owner holds its last read's entries; the rest go.
	require.NoError(t, cache.Retain("debian_12", DebianSources, plain.Files))
	require.ElementsMatch(t, []string{filepath.Base(baseEntry), filepath.Base(overlayEntry)}, entries())
	require.NoError(t, cache.Retain("debian_12_updates", DebianSources, plain.Files[1:]))
	require.Len(t, entries(), 2, "the base is still debian_12's")
	require.NoError(t, cache.Retain("debian_12", DebianSources, plain.Files[1:]))
	require.Equal(t, []string{filepath.Base(overlayEntry)}, entries())
}
