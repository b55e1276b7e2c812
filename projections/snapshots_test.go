package projections_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

const snapshotRows = `
SELECT coalesce(string_agg(format('%s@%s: %s %s %s %s %s', r.name, h.batch_id, h.num_packages, h.num_projects,
       h.num_maintainers, h.num_newest, h.num_outdated), ', ' ORDER BY h.seq, r.name), '')
FROM repositories_history h JOIN repos r ON r.id = h.repo_id
UNION ALL
SELECT coalesce(string_agg(format('@%s: %s %s %s %s %s', batch_id, num_packages, num_projects, num_maintainers,
       num_repos, num_links), ', ' ORDER BY seq), '')
FROM statistics_history`

// TestSnapshotsFoldEqualRows: one row per batch that moved a repository's
// counts (its own batch, or another repository's that made its packages
// outdated) and per batch that moved the statistics; a batch that moves
// no count adds none.
func TestSnapshotsFoldEqualRows(t *testing.T) {
	t.Parallel()
	f := setupPaged(t, 100)
	ctx := context.Background()
	step := func(repo string, pkgs ...events.Package) {
		t.Helper()
		f.update(t, repo, version.SchemeGeneric, pkgs)
		require.NoError(t, f.runner.Run(ctx, false))
	}
	step("r1", p("a", "a", "1", "m@x"), p("b", "b", "1", "m@x"))
	// A version bump where r1 is alone: newest before and after, no count
	// moves.
	step("r1", p("a", "a", "2", "m@x"), p("b", "b", "1", "m@x"))
	// r2 brings a newer a: r1's a falls outdated.
	step("r2", p("a", "a", "3", "n@x"))
	require.Equal(t, int64(3), count(t, f.pool, `SELECT count(*) FROM batches`))
	require.Equal(t, []string{
		"r1@1: 2 2 1 2 0, r1@3: 2 2 1 1 1, r2@3: 1 1 1 1 0",
		"@1: 2 2 1 1 2, @3: 3 2 2 2 2",
	}, rows(t, f, snapshotRows))

	// The same snapshot again writes no batch and no row; a summary change
	// writes a batch and no row.
	step("r2", p("a", "a", "3", "n@x"))
	s := p("a", "a", "3", "n@x")
	s.Summary = "changed"
	s.Normalize()
	step("r2", s)
	require.Equal(t, int64(4), count(t, f.pool, `SELECT count(*) FROM batches`))
	require.Equal(t, int64(3), count(t, f.pool, `SELECT count(*) FROM repositories_history`))
	require.Equal(t, int64(2), count(t, f.pool, `SELECT count(*) FROM statistics_history`))
}

// TestSnapshotsOfBatchesSpanningPages: with pages smaller than batches, a
// batch gets rows when a page ends exactly at its last event, and none
// when its last event falls inside a page (the next row written holds
// its changes).
func TestSnapshotsOfBatchesSpanningPages(t *testing.T) {
	t.Parallel()
	for pageSize, want := range map[int][]string{
		// Pages (10, 20] and (20, 30] end both batches.
		10: {"r1@1: 20 20 1 20 0, r2@2: 10 10 1 10 0", "@1: 20 20 1 1 20, @2: 30 20 2 2 20"},
		// Page (14, 21] holds batch 1's end and batch 2's start.
		7: {"r1@2: 20 20 1 20 0, r2@2: 10 10 1 10 0", "@2: 30 20 2 2 20"},
	} {
		f := setupPaged(t, pageSize)
		f.update(t, "r1", version.SchemeGeneric, numbered(20, func(int) string { return "m@x" }))
		f.update(t, "r2", version.SchemeGeneric, numbered(10, func(int) string { return "n@x" }))
		require.NoError(t, f.runner.Run(context.Background(), false))
		require.Equal(t, want, rows(t, f, snapshotRows), "pages of %d", pageSize)
	}
}

// TestCatalogExtrasSurviveRebuild: after random updates, a rebuild of the
// catalog from state and from the changelog gives the category tables the
// delta path gave, and keeps the history snapshots exactly as they were;
// the worker goes on writing them after the swap.
func TestCatalogExtrasSurviveRebuild(t *testing.T) {
	t.Parallel()
	f := setupPaged(t, 50)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5 {
		for repo, pkgs := range categorized(rng) {
			f.update(t, repo, version.SchemeGeneric, pkgs)
		}
		require.NoError(t, f.runner.Run(ctx, false))
	}
	want, snaps := digest(t, f.pool), rows(t, f, snapshotRows)
	require.Positive(t, count(t, f.pool, `SELECT count(*) FROM repositories_history`))
	for _, from := range []string{projections.FromState, projections.FromChangelog} {
		_, err := projections.Rebuild(ctx, f.pool, projections.RebuildOpts{Projections: []string{projections.CatalogName},
			From: from, PageSize: 20})
		require.NoError(t, err, from)
		require.Equal(t, want, digest(t, f.pool), from)
		require.Equal(t, snaps, rows(t, f, snapshotRows), from)
		verifyClean(t, f.pool)
	}
	n := count(t, f.pool, `SELECT count(*) FROM repositories_history`)
	f.update(t, "r1", version.SchemeGeneric, []events.Package{pc("new", "new", "1", "libs")})
	require.NoError(t, f.runner.Run(ctx, false))
	require.Greater(t, count(t, f.pool, `SELECT count(*) FROM repositories_history`), n)
	verifyClean(t, f.pool)
}

// TestSnapshotsOfACatchUpByRebuild: a catalog far behind is caught up by a
// rebuild, whose swap records the state at the batch it reached; the
// batches it skipped get no row, and paging resumes the rows.
func TestSnapshotsOfACatchUpByRebuild(t *testing.T) {
	t.Parallel()
	f := setupRunner(t, projections.Config{PageSize: 7, RebuildLag: 20})
	ctx := context.Background()
	f.update(t, "r1", version.SchemeGeneric, numbered(30, func(int) string { return "m@x" }))
	f.update(t, "r2", version.SchemeGeneric, numbered(5, func(int) string { return "n@x" }))
	before := relation(t, f.pool)
	require.NoError(t, f.runner.Run(ctx, false))
	require.NotEqual(t, before, relation(t, f.pool), "35 events behind: rebuilt")
	require.Equal(t, []string{"r1@2: 30 30 1 30 0, r2@2: 5 5 1 5 0", "@2: 35 30 2 2 30"}, rows(t, f, snapshotRows))

	f.update(t, "r2", version.SchemeGeneric, numbered(6, func(int) string { return "n@x" }))
	require.NoError(t, f.runner.Run(ctx, false))
	require.Equal(t, []string{"r1@2: 30 30 1 30 0, r2@2: 5 5 1 5 0, r2@3: 6 6 1 6 0", "@2: 35 30 2 2 30, @3: 36 30 2 2 30"},
		rows(t, f, snapshotRows))
}
