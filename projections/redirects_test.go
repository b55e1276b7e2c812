package projections_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// redirects lists project_redirects as "old>new@seq", in seq order.
func redirects(t *testing.T, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) []string {
	t.Helper()
	rows, err := q.Query(context.Background(),
		`SELECT old_project || '>' || new_project || '@' || seq FROM project_redirects ORDER BY seq, old_project, new_project`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// movingState is a repository of filler projects m00…m19 at version v, and
// the packages given.
func movingState(v string, pkgs ...events.Package) []events.Package {
	out := append([]events.Package{}, pkgs...)
	for i := range 20 {
		out = append(out, p(fmt.Sprintf("m%02d", i), fmt.Sprintf("m%02d", i), v))
	}
	return out
}

// seqOf is the seq of the last event of project in repo r.
func seqOf(t *testing.T, f *fixture, project string) int64 {
	t.Helper()
	return count(t, f.pool, `SELECT max(seq) FROM changelog WHERE project = $1`, project)
}

// TestRedirects: packages that move to another project between two
// snapshots are recorded once, old → new, at the later of the two events,
// whichever comes first and though the removal and the addition are pages
// apart (pages of 7 events, 20 other projects changing in between); a
// package that stays, or goes without coming back elsewhere, redirects
// nothing. The audit's replay (one page) agrees with the delta path, names
// corrupted rows and repairs them; rebuilds from the changelog (pages of
// 3) and from the state give the same rows.
func TestRedirects(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	quoted := `o'ld "ü"`
	f.update(t, "deb", version.SchemeDebian, movingState("1",
		p("aaa", "libaaa1", "1"), p("aaa", "aaa", "1"),
		p("yyy", "yyy-bin", "1"), p(quoted, "quoted-bin", "1"),
		p("gone", "gone", "1")))
	require.NoError(t, f.runner.Run(ctx, false))
	require.Empty(t, redirects(t, f.pool))

	// libaaa1 moves to zzz (removal first), yyy-bin to bbb (addition
	// first), quoted-bin to 新しい; aaa keeps its own package, gone goes.
	f.update(t, "deb", version.SchemeDebian, movingState("2",
		p("zzz", "libaaa1", "1"), p("aaa", "aaa", "1"),
		p("bbb", "yyy-bin", "1"), p("新しい", "quoted-bin", "1")))
	require.NoError(t, f.runner.Run(ctx, false))
	zzz, bbb, neu := seqOf(t, f, "zzz"), seqOf(t, f, "bbb"), seqOf(t, f, "新しい")
	require.Greater(t, zzz-seqOf(t, f, "aaa"), int64(7), "the halves of the move are pages apart")
	require.Greater(t, seqOf(t, f, "yyy")-bbb, int64(7))
	got := redirects(t, f.pool)
	require.ElementsMatch(t, []string{
		fmt.Sprintf("aaa>zzz@%d", zzz),
		fmt.Sprintf("yyy>bbb@%d", seqOf(t, f, "yyy")),
		fmt.Sprintf("%s>新しい@%d", quoted, max(neu, seqOf(t, f, quoted))),
	}, got)

	// The same snapshot again: nothing new.
	f.update(t, "deb", version.SchemeDebian, movingState("2",
		p("zzz", "libaaa1", "1"), p("aaa", "aaa", "1"), p("bbb", "yyy-bin", "1"), p("新しい", "quoted-bin", "1")))
	require.NoError(t, f.runner.Run(ctx, false))
	require.Equal(t, got, redirects(t, f.pool))

	rep := audit(t, f, projections.AuditOpts{ReplayHistory: true, PageSize: 10000})
	require.Equal(t, projections.OutcomeConsistent, rep.Outcome, "%+v", rep.Failed())
	want := digest(t, f.pool)

	for _, q := range []string{
		`UPDATE project_redirects SET new_project = 'wrong' WHERE old_project = 'aaa'`,
		`DELETE FROM project_redirects WHERE old_project = 'yyy'`,
		`UPDATE project_redirects SET batch_id = 99 WHERE new_project = '新しい'`,
	} {
		_, err := f.pool.Exec(ctx, q)
		require.NoError(t, err)
	}
	rep = audit(t, f, projections.AuditOpts{ReplayHistory: true})
	require.Equal(t, map[string][3]int64{projections.CheckProjectRedirects: {2, 1, 1}}, failedChecks(rep.Checks))
	require.Contains(t, keysOf(t, rep.Checks, projections.CheckProjectRedirects),
		fmt.Sprintf(`{"seq": %d, "new_project": "wrong", "old_project": "aaa"}`, zzz))
	rep = audit(t, f, projections.AuditOpts{ReplayHistory: true, Repair: true})
	require.Equal(t, projections.OutcomeRepaired, rep.Outcome, "%+v", rep.Remaining)
	require.Equal(t, got, redirects(t, f.pool))
	require.Equal(t, want, digest(t, f.pool))
	rebuildBoth(t, f, projections.HistoryName, want)
	require.Equal(t, got, redirects(t, f.pool))
}
