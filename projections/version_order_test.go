package projections_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// orderSnapshots are two repositories on which the first version order and
// the current one disagree: Debian's 1.0~20240101-1 is a snapshot before
// 1.0 (dpkg), which an order blind to ~ ranks above 1.0.
func orderSnapshots() map[string][]events.Package {
	return map[string][]events.Package{
		"debian_12": {p("x", "x", "1.0~20240101-1", "m@x"), p("y", "y", "0.37-16+deb12u1", "m@x")},
		"upstream":  {p("x", "x", "1.0", "n@x"), p("y", "y", "0.37", "n@x")},
	}
}

var orderSchemes = map[string]version.Scheme{"debian_12": version.SchemeDebian, "upstream": version.SchemeGeneric}

// TestOrderChangeReDerives is the upgrade path of a database built with an
// earlier definition of the version orders (repositories recorded with
// version_order 1, keys and derived tables computed by that order): the
// next update of each repository re-derives it — events of kind
// invalidated only, no history entries — and the derived tables then equal
// those of a database built with the current orders from scratch, with a
// clean audit.
func TestOrderChangeReDerives(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fresh := setup(t)
	for _, repo := range []string{"debian_12", "upstream"} {
		fresh.update(t, repo, orderSchemes[repo], orderSnapshots()[repo])
	}
	require.NoError(t, fresh.runner.Run(ctx, false))
	want := digest(t, fresh.pool)
	require.Equal(t, "1.0", newestVersion(t, fresh, "x"), "the release is newer than the snapshot before it")

	// The old database: keys of another order (the generic order on the
	// raw strings, blind to Debian's ~), and derived tables that agree
	// with them, as the old code derived them.
	old := setup(t)
	for _, repo := range []string{"debian_12", "upstream"} {
		old.update(t, repo, orderSchemes[repo], orderSnapshots()[repo])
	}
	_, err := old.pool.Exec(ctx, `UPDATE repos SET version_order = 1`)
	require.NoError(t, err)
	rows, err := old.pool.Query(ctx, `SELECT DISTINCT version FROM packages`)
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	for _, v := range versions {
		_, err := old.pool.Exec(ctx, `UPDATE packages SET version_key = $2 WHERE version = $1`, v, version.Key(v))
		require.NoError(t, err)
	}
	require.NoError(t, old.runner.Run(ctx, false))
	for _, v := range versions {
		_, err := old.pool.Exec(ctx, `UPDATE history_versions SET version_key = $2 WHERE version = $1`, v, version.Key(v))
		require.NoError(t, err)
	}
	require.Equal(t, "1.0~20240101-1", newestVersion(t, old, "x"), "the old order's newest")
	require.NotEqual(t, want, digest(t, old.pool))
	require.NotEqual(t, projections.OutcomeConsistent, audit(t, old, projections.AuditOpts{}).Outcome,
		"the audit sees keys the current order would not derive")
	history := count(t, old.pool, `SELECT count(*) FROM project_history`)

	// The switch: the same snapshots, updated with the current code.
	for _, repo := range []string{"debian_12", "upstream"} {
		got := old.update(t, repo, orderSchemes[repo], orderSnapshots()[repo])
		require.Equal(t, events.Counts{Packages: 2, Packagesets: 2, Invalidated: 2, Events: 2}, got.Counts, repo)
	}
	require.Equal(t, int64(2), count(t, old.pool,
		`SELECT count(*) FROM batches WHERE kind = 'invalidate' AND reason LIKE '%version orders 1 → 2%'`))
	require.Equal(t, int64(0), count(t, old.pool, `SELECT count(*) FROM repos WHERE version_order <> $1`, version.OrderVersion))
	require.NoError(t, old.runner.Run(ctx, false))

	require.Equal(t, history, count(t, old.pool, `SELECT count(*) FROM project_history`), "no history entries")
	require.Equal(t, want, digest(t, old.pool), "derived as from scratch with the current orders")
	require.Equal(t, "1.0", newestVersion(t, old, "x"))
	rep := audit(t, old, projections.AuditOpts{ReplayHistory: true})
	require.Equal(t, projections.OutcomeConsistent, rep.Outcome, "%+v", rep.Failed())
}

func newestVersion(t *testing.T, f *fixture, project string) string {
	t.Helper()
	var v string
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT newest_version FROM projects WHERE name = $1`, project).Scan(&v))
	return v
}

// TestHistoryRecordsDirection: a version update in a repository is an
// upgrade or a downgrade by the repository's own order — dpkg's for
// Debian, where ~deb12u1 is below +deb12u1 and below the release.
func TestHistoryRecordsDirection(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, v := range []string{"0.9.2-3.1~deb12u1", "0.9.2-3.1+deb12u1", "0.9.2-3.1", "0.9.2-3.1+deb12u2"} {
		f.update(t, "debian_12", version.SchemeDebian, []events.Package{p("libtpms", "libtpms", v)})
	}
	require.NoError(t, f.runner.Run(context.Background(), false))
	rows, err := f.pool.Query(context.Background(),
		`SELECT old_version || ' → ' || new_version || ': ' || coalesce(direction, '') FROM project_history
		 WHERE kind = 'version_update' ORDER BY seq`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{
		"0.9.2-3.1~deb12u1 → 0.9.2-3.1+deb12u1: upgrade",
		"0.9.2-3.1+deb12u1 → 0.9.2-3.1: downgrade",
		"0.9.2-3.1 → 0.9.2-3.1+deb12u2: upgrade",
	}, got)
	require.Equal(t, projections.OutcomeConsistent, audit(t, f, projections.AuditOpts{ReplayHistory: true}).Outcome)
}
