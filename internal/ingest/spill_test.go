package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/formats"
)

// TestSpilledEqualsInMemory: a snapshot read through the spill (a base and
// an overlay, cut from the real Debian indexes, so that the overlay rule
// runs on the kept entries) has the
// packagesets, checksums, counts and duplicates of the same files read
// whole and grouped in memory, and loading a packageset back gives its
// packages exactly.
func TestSpilledEqualsInMemory(t *testing.T) {
	t.Parallel()
	files := []string{
		filepath.Join("..", "..", "testdata", "formats", "bookworm-main-Sources.xz"),
		filepath.Join("..", "..", "testdata", "formats", "bookworm-updates-main-Sources.xz"),
	}
	ctx := context.Background()
	h := hashing.New(hashing.DefaultSeed)
	snap, err := formats.ReadSnapshot(ctx, formats.DebianSources, files)
	require.NoError(t, err)
	want := hashing.Group(h, snap.Packages)

	s, err := readSpilled(ctx, Params{Format: formats.DebianSources, Files: files}, h, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.Equal(t, snap.Files, s.read.Files)
	require.Equal(t, snap.Skipped, s.read.Skipped)
	require.NotEmpty(t, want.Packagesets)
	require.Equal(t, snap.Stale, s.read.Stale)
	require.Equal(t, want.Packages, s.grouped.Packages)
	require.Equal(t, want.Duplicates, s.grouped.Duplicates)
	require.Len(t, s.grouped.Packagesets, len(want.Packagesets))
	var sets []*hashing.Packageset
	for i := range want.Packagesets {
		w, got := &want.Packagesets[i], &s.grouped.Packagesets[i]
		require.Equal(t, w.Project, got.Project)
		require.Equal(t, w.Sum, got.Sum, w.Project)
		require.Empty(t, got.Packages, "nothing is loaded before it is asked for")
		if i%97 == 0 || len(w.Packages) > 3 {
			sets = append(sets, got)
		}
	}
	require.NoError(t, s.load(sets))
	for _, got := range sets {
		i := slicesIndex(want.Packagesets, got.Project)
		require.Equal(t, want.Packagesets[i].Packages, got.Packages, got.Project)
	}
}

func slicesIndex(sets []hashing.Packageset, project string) int {
	for i := range sets {
		if sets[i].Project == project {
			return i
		}
	}
	return -1
}

// TestSpillDuplicates: identical packages in one packageset are kept once
// and reported, as in memory.
func TestSpillDuplicates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "d.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(`{"name":"a","version":"1"}`+"\n"+`{"name":"a","version":"1"}`+"\n"+
		`{"name":"a","version":"1"}`+"\n"+`{"name":"b","version":"1"}`+"\n"), 0o644))
	h := hashing.New(hashing.DefaultSeed)
	s, err := readSpilled(context.Background(), Params{Format: formats.JSONL, Files: []string{file}}, h, dir)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, 2, s.grouped.Packages)
	require.Equal(t, []hashing.Duplicate{{Project: "a", Name: "a", Version: "1", Copies: 3}}, s.grouped.Duplicates)
}

// FuzzDecodeCanonical: any bytes decode or fail without panicking, and
// what decodes encodes to a record that decodes to itself.
func FuzzDecodeCanonical(f *testing.F) {
	f.Add(hashing.AppendCanonical(nil, &events.Package{Project: "p", Name: "n", Version: "1",
		Maintainers: []events.Maintainer{{Email: "a@b", Name: "A"}}, Links: []events.Link{{Kind: "homepage", URL: "u"}},
		Extra: map[string]string{"k": "v", "l": "w"}}))
	f.Add([]byte{hashing.AlgorithmVersion, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{hashing.AlgorithmVersion, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p events.Package
		if hashing.DecodeCanonical(b, &p) != nil {
			return
		}
		// One round through the encoding reaches its fixed point.
		b2 := hashing.AppendCanonical(nil, &p)
		var p2 events.Package
		require.NoError(t, hashing.DecodeCanonical(b2, &p2))
		require.Equal(t, b2, hashing.AppendCanonical(nil, &p2))
	})
}
