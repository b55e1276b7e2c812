package projections_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// The fixture's snapshots, as catalogFixture leaves them.
func fixtureSnapshots() map[string][]events.Package {
	return map[string][]events.Package{
		"r": {p("a", "a", "1", "m@x"), p("b", "b", "3", "m@x", "n@x")},
		"s": {p("a", "a", "2", "n@x"), p("b", "b", "2", "o@x")},
	}
}

// TestInvalidateReDerivesWithoutHistory is issue 4's third proof:
// invalidating a repository and updating it with the same snapshot emits
// events of kind invalidated for that repository only, adds no history
// entry, leaves every counter where it was, and the audit is clean.
func TestInvalidateReDerivesWithoutHistory(t *testing.T) {
	t.Parallel()
	f := catalogFixture(t)
	ctx := context.Background()
	before := digest(t, f.pool)
	history := count(t, f.pool, `SELECT count(*) FROM project_history`)
	head := count(t, f.pool, `SELECT seq FROM changelog_head`)

	res, err := changelog.Invalidate(ctx, f.pool, changelog.InvalidateParams{Repo: "r", Reason: "a new derived column"})
	require.NoError(t, err)
	require.Equal(t, 2, res.Packagesets)
	f.update(t, "s", version.SchemeGeneric, fixtureSnapshots()["s"])
	got := f.update(t, "r", version.SchemeGeneric, fixtureSnapshots()["r"])
	require.Equal(t, events.Counts{Packages: 2, Packagesets: 2, Invalidated: 2, Events: 2}, got.Counts)
	page, err := changelog.ReadPage(ctx, f.pool, changelog.PageParams{After: head, Limit: 100})
	require.NoError(t, err)
	evs := page.Events
	require.Len(t, evs, 2)
	for _, ev := range evs {
		require.Equal(t, "r", ev.Repo)
		require.Equal(t, events.KindInvalidated, ev.Kind)
	}
	require.NoError(t, f.runner.Run(ctx, false))

	require.Equal(t, history, count(t, f.pool, `SELECT count(*) FROM project_history`), "no history entries")
	require.Equal(t, before, digest(t, f.pool), "every counter where it was")
	rep := audit(t, f, projections.AuditOpts{ReplayHistory: true})
	require.Equal(t, projections.OutcomeConsistent, rep.Outcome, "%+v", rep.Failed())
}

// TestInvalidationFollowsDerivationChange: stored version keys the current
// code would not derive (as after a fix of the version order) are found by
// the audit; its repair leaves them to the next update, which re-derives
// them — the counters move to what the current code derives, still without
// history entries.
func TestInvalidationFollowsDerivationChange(t *testing.T) {
	t.Parallel()
	f := catalogFixture(t)
	ctx := context.Background()
	want := digest(t, f.pool)
	history := count(t, f.pool, `SELECT count(*) FROM project_history`)

	// "Old code": r's b sorts below everything, and the derived tables agree
	// with that (as the old code derived them).
	_, err := f.pool.Exec(ctx, `UPDATE packages SET version_key = '\x00' WHERE project = 'b' AND repo_id = 1`)
	require.NoError(t, err)
	rep := audit(t, f, projections.AuditOpts{})
	require.Equal(t, [3]int64{0, 0, 1}, failedChecks(rep.Checks)["packages"])
	rep = audit(t, f, projections.AuditOpts{Repair: true})
	require.Equal(t, projections.OutcomeRepaired, rep.Outcome, "%+v", rep.Remaining)
	require.NotEqual(t, want, digest(t, f.pool), "derived from the stale key")
	require.Equal(t, int64(1), count(t, f.pool, `SELECT count(*) FROM packagesets WHERE invalid`))
	require.Equal(t, int64(1), count(t, f.pool, `SELECT count(*) FROM invalidations WHERE scope = 'audit' AND batch_id IS NULL`))

	got := f.update(t, "r", version.SchemeGeneric, fixtureSnapshots()["r"])
	require.Equal(t, 1, got.Counts.Invalidated)
	require.NoError(t, f.runner.Run(ctx, false))
	require.Equal(t, want, digest(t, f.pool), "re-derived with the current code")
	require.Equal(t, history, count(t, f.pool, `SELECT count(*) FROM project_history`))
	require.Equal(t, projections.OutcomeConsistent, audit(t, f, projections.AuditOpts{}).Outcome)
}
