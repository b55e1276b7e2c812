package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// singleBackend returns an updater on a fresh database reached through one
// connection, so that its table statistics can be flushed on demand.
func singleBackend(t *testing.T) (*pgxpool.Pool, *changelog.Updater) {
	t.Helper()
	pool := dbtest.NewSingle(t)
	u, err := changelog.NewUpdater(pool, changelog.Config{})
	require.NoError(t, err)
	return pool, u
}

// tableCounters returns, per table, the rows written (inserted, updated,
// deleted) and the rows read (by sequential and index scans), after making
// the single backend flush its pending statistics.
func tableCounters(t *testing.T, pool *pgxpool.Pool) (written, read map[string]int64) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{"SELECT pg_stat_force_next_flush()", "SELECT 1", "SELECT pg_stat_clear_snapshot()"} {
		_, err := pool.Exec(ctx, q) // the flush happens when the backend goes idle
		require.NoError(t, err)
	}
	rows, err := pool.Query(ctx, `SELECT relname, n_tup_ins + n_tup_upd + n_tup_del,
		coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables`)
	require.NoError(t, err)
	written, read = map[string]int64{}, map[string]int64{}
	var name string
	var w, r int64
	_, err = pgx.ForEachRow(rows, []any{&name, &w, &r}, func() error {
		written[name], read[name] = w, r
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, written, "packages")
	return written, read
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// TestByteIdenticalInputIsNotParsed is invariant 1 for a repeated update
// from byte-identical files, now also without parsing them: the update
// hashes the files, finds them equal to the last batch's input, writes no
// row and reads no stored packageset or package; it says so, and reports
// what a real read reports (--reparse).
func TestByteIdenticalInputIsNotParsed(t *testing.T) {
	t.Parallel()
	pool, u := singleBackend(t)
	dir := t.TempDir()
	base := writeFile(t, filepath.Join(dir, "base.tsv"), "name\tversion\na\t1.0\nb\t2.0\nc\t\nd\t1\n")
	overlay := writeFile(t, filepath.Join(dir, "overlay.tsv"), "name\tversion\na\t1.1\n")
	ctx := context.Background()
	update := func(reparse bool, files ...string) *ingest.Summary {
		t.Helper()
		s, err := ingest.Run(ctx, u, ingest.Params{Repo: "r", Format: formats.TSV, VersionScheme: version.SchemePyPI, Files: files, Reparse: reparse})
		require.NoError(t, err)
		return s
	}
	first := update(false, base, overlay)
	require.False(t, first.ParseSkipped)
	require.Equal(t, 3, first.Events)
	require.Equal(t, 1, first.Skipped, "c has no version")

	written, read := tableCounters(t, pool)
	again := update(false, base, overlay)
	require.True(t, again.ParseSkipped)
	require.Equal(t, first.Batch, again.BatchOfInput)
	require.Zero(t, again.Batch)
	require.Zero(t, again.Events)
	w2, r2 := tableCounters(t, pool)
	require.Equal(t, written, w2, "a repeated update wrote rows")
	for _, table := range []string{"packages", "packagesets", "changelog"} {
		require.Equal(t, read[table], r2[table], "a repeated update read rows of %s", table)
	}

	// A real read of the same bytes finds the same, and writes nothing.
	reparsed := update(true, base, overlay)
	require.False(t, reparsed.ParseSkipped)
	require.Zero(t, reparsed.Batch)
	for _, s := range []*ingest.Summary{again, reparsed} {
		require.Equal(t, first.Packages, s.Packages)
		require.Equal(t, first.Packagesets, s.Packagesets)
		require.Equal(t, first.Packagesets, s.Unchanged)
		require.Equal(t, first.Skipped, s.Skipped)
		require.Equal(t, first.HeadSeq, s.HeadSeq)
		require.Equal(t, first.StateChecksum, s.StateChecksum)
		require.Equal(t, first.RepoStateChecksum, s.RepoStateChecksum)
	}
	w3, _ := tableCounters(t, pool)
	require.Equal(t, written, w3)

	// The order of the files is part of the input: read again (to the
	// same content here, a's 1.1 being newer than the base's 1.0).
	swapped := update(false, overlay, base)
	require.False(t, swapped.ParseSkipped)
	require.Zero(t, swapped.Events)

	// Same size, one byte changed: read and applied.
	writeFile(t, base, "name\tversion\na\t1.0\nb\t2.1\nc\t\nd\t1\n")
	changed := update(false, base, overlay)
	require.False(t, changed.ParseSkipped)
	require.Equal(t, 1, changed.Events, "b 2.0 → 2.1")
	require.True(t, update(false, base, overlay).ParseSkipped)
}

// TestSameInputRespectsScope: what can make the same bytes read
// differently forces a read — a new seed or version scheme (re-derived),
// invalidated packagesets (re-stated) — and the size guard still refuses an
// empty snapshot without --force even when it is the last one.
func TestSameInputRespectsScope(t *testing.T) {
	t.Parallel()
	pool, u := singleBackend(t)
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "r.jsonl"), `{"name":"a","version":"1.0"}`+"\n"+`{"name":"b","version":"2.0"}`+"\n")
	ctx := context.Background()
	update := func(p ingest.Params) *ingest.Summary {
		t.Helper()
		p.Repo, p.Format, p.Files = "r", formats.JSONL, []string{file}
		s, err := ingest.Run(ctx, u, p)
		require.NoError(t, err)
		return s
	}
	update(ingest.Params{})
	require.True(t, update(ingest.Params{}).ParseSkipped)

	seeded := update(ingest.Params{Seed: 42})
	require.False(t, seeded.ParseSkipped)
	require.Equal(t, 2, seeded.Invalidated)
	require.True(t, update(ingest.Params{Seed: 42}).ParseSkipped)
	require.False(t, update(ingest.Params{}).ParseSkipped, "back to the default seed")

	scheme := update(ingest.Params{VersionScheme: "pypi"})
	require.False(t, scheme.ParseSkipped)
	require.Equal(t, 2, scheme.Invalidated)
	require.True(t, update(ingest.Params{VersionScheme: "pypi"}).ParseSkipped)

	_, err := changelog.Invalidate(ctx, pool, changelog.InvalidateParams{Repo: "r", Project: "a", Reason: "test"})
	require.NoError(t, err)
	restated := update(ingest.Params{VersionScheme: "pypi"})
	require.False(t, restated.ParseSkipped)
	require.Equal(t, 1, restated.Invalidated)
	require.True(t, update(ingest.Params{VersionScheme: "pypi"}).ParseSkipped)

	// An empty snapshot, forced in; the same empty file again without
	// --force is refused as before, with it unchanged.
	writeFile(t, file, "")
	update(ingest.Params{VersionScheme: "pypi", Force: true})
	_, err = ingest.Run(ctx, u, ingest.Params{Repo: "r", Format: formats.JSONL, Files: []string{file}, VersionScheme: "pypi"})
	require.ErrorIs(t, err, changelog.ErrSuspiciousSnapshot)
	require.True(t, update(ingest.Params{VersionScheme: "pypi", Force: true}).ParseSkipped)
}
