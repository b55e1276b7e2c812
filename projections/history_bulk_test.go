package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// historyRows is the history projection's content: every entry in id order
// (ids included, so that the entries' order counts too) and every version.
func historyRows(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT row(id, project, repo_id, seq, batch_id, kind, old_version, new_version, direction, at)::text
		 FROM project_history ORDER BY id`,
		`SELECT row(h.*)::text FROM history_versions h ORDER BY project, repo_id, version`,
	} {
		rows, err := f.pool.Query(context.Background(), q)
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		out = append(out, got...)
	}
	return out
}

// requireBulkEqualsFold requires the history written with runs of fresh
// pairs set-based (from bulkFrom events on) to equal the fold's, and the
// audit to agree; it returns the rows.
func requireBulkEqualsFold(t *testing.T, f *fixture, pageSize, bulkFrom int) []string {
	t.Helper()
	folded, bulk := runBothHistories(t, f, pageSize, bulkFrom, "")
	require.NotEqual(t, folded.versions, bulk.versions, "the set-based path ran")
	// The audit replays the history by the fold: it agrees.
	require.Equal(t, projections.OutcomeConsistent, audit(t, f, projections.AuditOpts{
		Projections: []string{projections.HistoryName}, ReplayHistory: true}).Outcome)
	return folded.rows
}

type historyPass struct {
	rows     []string
	versions int64
}

// runBothHistories runs the history over f's changelog twice from an empty
// history (and the statement prepare), folding every event and then with
// runs of fresh pairs written set-based, and requires the same rows.
func runBothHistories(t *testing.T, f *fixture, pageSize, bulkFrom int, prepare string) (folded, bulk historyPass) {
	t.Helper()
	ctx := context.Background()
	// run returns the rows and the history_versions rows the pages counted
	// as re-derived: the fold counts those it loaded and the page's new
	// ones, the set-based path those of each run it inserts — the same
	// count only if the same path ran.
	run := func(h projections.History) historyPass {
		_, err := f.pool.Exec(ctx, `TRUNCATE history_versions, project_history RESTART IDENTITY;
			UPDATE projection_checkpoints SET seq = 0 WHERE name = 'history'`)
		require.NoError(t, err)
		if prepare != "" {
			_, err := f.pool.Exec(ctx, prepare)
			require.NoError(t, err)
		}
		var versions int64
		r, err := projections.NewRunner(projections.Config{DB: f.pool, Projections: []projections.Projection{h},
			PageSize: pageSize, MaxRetries: 1, RebuildLag: -1,
			PageFunc: func(s projections.PageStats) { versions += s.Tables["history_versions"].Rederived }})
		require.NoError(t, err)
		require.NoError(t, r.Run(ctx, false))
		return historyPass{historyRows(t, f), versions}
	}
	folded = run(projections.HistoryBulkFrom(-1))
	require.NotEmpty(t, folded.rows)
	bulk = run(projections.HistoryBulkFrom(bulkFrom))
	require.Equal(t, folded.rows, bulk.rows)
	return folded, bulk
}

// TestHistoryBulkEqualsFold: the set-based history gives exactly the rows
// of the per-event fold on one page of adds in three repositories (the same
// projects in each: the running newest across them), changes, removals and
// re-adds of the same projects — several packages of one version, versions
// whose keys are equal but spelled apart, the repository's own order apart
// from the keys' (dpkg's epochs).
func TestHistoryBulkEqualsFold(t *testing.T) {
	t.Parallel()
	f := setupPaged(t, 1000, projections.HistoryBulkFrom(-1))
	deb, gen := version.SchemeDebian, version.SchemeGeneric
	f.update(t, "a", deb, []events.Package{
		p("p0", "p0", "1.0-1"), p("p0", "p0-doc", "1.0-2"),
		p("p1", "p1", "2.0"), p("p1", "p1-dev", "2.0"),
		p("p2", "p2", "1:0.9"), p("p2", "p2-old", "1.5"), // dpkg: the epoch wins; the keys: 1.5
		p("p3", "p3", "1.0"), p("p4", "p4", "3.1"), p("p5", "p5", "0.1"),
	})
	f.update(t, "b", gen, []events.Package{
		p("p0", "p0", "1.1"), p("p1", "p1", "2.0"), p("p2", "p2", "0.95"),
		p("p3", "p3", "1.00"), // the same key as 1.0, another spelling
		p("p6", "p6", "1"),
	})
	f.update(t, "c", gen, []events.Package{
		p("p0", "p0", "0.1"), p("p1", "p1", "3.0"), p("p3", "p3", "1.000"), p("p5", "p5", "9"),
	})
	f.update(t, "a", deb, []events.Package{ // changes and a removal
		p("p0", "p0", "1.2-1"), p("p2", "p2", "1:0.9"), p("p3", "p3", "1.0"), p("p4", "p4", "3.0"), p("p5", "p5", "0.1"),
	})
	f.update(t, "a", deb, []events.Package{ // p1 again, after its removal
		p("p0", "p0", "1.2-1"), p("p1", "p1", "4.0"), p("p2", "p2", "1:0.9"), p("p3", "p3", "1.0"),
		p("p4", "p4", "3.0"), p("p5", "p5", "0.1"),
	})
	f.update(t, "d", gen, []events.Package{p("p1", "p1", "4.0"), p("p6", "p6", "0.5"), p("p7", "p7", "1")})
	got := strings.Join(requireBulkEqualsFold(t, f, 1000, 1), "\n")
	// What the rows say (the fold is the definition): the best by dpkg's
	// order, the newest by the keys; the running newest across the
	// repositories' runs; no new newest for another spelling of it.
	for _, entry := range []string{
		"(5,p2,1,3,1,added,,1:0.9,,", "(6,p2,1,3,1,new_newest,,1.5,,",
		"(14,p0,2,7,2,new_newest,1.0-2,1.1,,", "(17,p3,2,10,2,added,,1.00,,\"", "(22,p1,3,13,3,new_newest,2.0,3.0,,",
		"(31,p1,1,20,5,new_newest,3.0,4.0,,", "(32,p1,4,21,6,added,,4.0,,",
	} {
		require.Contains(t, got, entry)
	}
	require.Equal(t, 35, strings.Count(got, ",\"20"), "entries")
}

// TestHistoryBulkEqualsFoldRandomly: random updates of four repositories
// (projects coming, going and coming back, several packages per project),
// paged small enough that runs are cut by pages too.
func TestHistoryBulkEqualsFoldRandomly(t *testing.T) {
	t.Parallel()
	f := setupPaged(t, 1000, projections.HistoryBulkFrom(-1))
	rng := rand.New(rand.NewPCG(3, 5))
	for step := range 8 {
		for r, repo := range []string{"r1", "r2", "r3", "r4"} {
			var pkgs []events.Package
			for i := range 40 {
				if rng.IntN(4) == 0 || (step+r+i)%5 == 0 {
					continue
				}
				for k := range 1 + rng.IntN(3) {
					pkgs = append(pkgs, p(fmt.Sprintf("p%d", i), fmt.Sprintf("p%d-%d", i, k),
						fmt.Sprintf("%d.%d", rng.IntN(3), rng.IntN(3))+[]string{"", ".0", "-1"}[rng.IntN(3)]))
				}
			}
			f.update(t, repo, []version.Scheme{version.SchemeGeneric, version.SchemeDebian}[r%2], pkgs)
		}
	}
	requireBulkEqualsFold(t, f, 37, 3)
}

// TestHistoryBulkFoldsStalePairs: a run whose pair already has versions
// (an inconsistent history: an "added" packageset had none) is folded, as
// it would have been without the set-based path.
func TestHistoryBulkFoldsStalePairs(t *testing.T) {
	t.Parallel()
	f := setupPaged(t, 1000, projections.HistoryBulkFrom(-1))
	f.update(t, "a", version.SchemeGeneric, []events.Package{p("p0", "p0", "1.0"), p("p1", "p1", "2.0")})
	folded, bulk := runBothHistories(t, f, 1000, 1, `INSERT INTO history_versions
		SELECT 'p1', id, '3.0', '\x60013330', 1 FROM repos WHERE name = 'a'`)
	require.Equal(t, folded.versions, bulk.versions, "folded both times")
	require.NotContains(t, strings.Join(folded.rows, "\n"), "p1,1,2,1,added", "p1 was not fresh")
}
