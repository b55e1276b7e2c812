package ingest_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
)

// TestParseCacheUpdatesAsParsing: a suite read with changing overlays
// through a parse cache gives, update after update, what reading every
// file gives (the same events and state checksums in a database updated
// without the cache), and the cache holds just the last read's files.
func TestParseCacheUpdatesAsParsing(t *testing.T) {
	t.Parallel()
	fixtures := filepath.Join("..", "..", "testdata", "formats")
	base, updates := filepath.Join(fixtures, "bookworm-main-Sources.xz"), filepath.Join(fixtures, "bookworm-updates-main-Sources.xz")
	// A later overlay: the same, every version one revision up.
	rc, err := formats.Open(updates)
	require.NoError(t, err)
	text, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	var later strings.Builder
	for line := range strings.Lines(string(text)) {
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			line = "Version: " + strings.TrimSpace(v) + ".1\n"
		}
		later.WriteString(line)
	}
	overlay2 := writeFile(t, filepath.Join(t.TempDir(), "updates-later-Sources"), later.String())

	_, cached := setup(t)
	_, plain := setup(t)
	cache := &formats.ParseCache{Dir: t.TempDir()}
	ctx := context.Background()
	for step, files := range [][]string{{base}, {base, updates}, {base, overlay2}, {base, updates}} {
		p := ingest.Params{Repo: "debian_12", Format: formats.DebianSources, Files: files}
		want, err := ingest.Run(ctx, plain, p)
		require.NoError(t, err)
		p.ParseCache = cache
		got, err := ingest.Run(ctx, cached, p)
		require.NoError(t, err)
		if step >= 2 {
			require.Positive(t, got.Events, "step %d: the overlay changed", step)
		}
		require.Equal(t, want.Events, got.Events, "step %d", step)
		require.Equal(t, want.Added, got.Added, "step %d", step)
		require.Equal(t, want.Changed, got.Changed, "step %d", step)
		require.Equal(t, want.StateChecksum, got.StateChecksum, "step %d", step)

		entries, err := os.ReadDir(cache.Dir)
		require.NoError(t, err)
		var n int
		for _, e := range entries {
			if e.Type().IsRegular() {
				n++
			}
		}
		if len(files) == 1 {
			require.Zero(t, n, "a one-file snapshot is not cached")
		} else {
			require.Equal(t, len(files), n, "step %d: the entries of the last read's files", step)
		}
	}
}
