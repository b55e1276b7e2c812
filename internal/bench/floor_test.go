package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
)

// floorSetup loads a hand-made catalog — foo 1.0 in r1, r2 and r3, each
// with its own maintainer and the same homepage, and bar 2.0 in r1 with r1's
// maintainer — then takes foo in r1 down to 0.9 (B) and back (A), snapshots
// both states and compares them, as deltaCase does. It returns the
// projections' counts of the two deltas too.
func floorSetup(t *testing.T) (*harness, *floor, []map[string]projections.TableStats) {
	t.Helper()
	ctx := context.Background()
	h := &harness{cfg: Config{URL: dbtest.NewURL(t)}, rep: &Report{}}
	require.NoError(t, h.cfg.withDefaults())
	pool, err := openPool(ctx, h.cfg.URL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	h.pool = pool
	require.NoError(t, h.wipe(ctx))

	dir := t.TempDir()
	write := func(name string, pkgs ...events.Package) string {
		var b []byte
		for i := range pkgs {
			b = append(gen.AppendJSON(b, &pkgs[i]), '\n')
		}
		path := filepath.Join(dir, name+".jsonl")
		require.NoError(t, os.WriteFile(path, b, 0o644))
		return path
	}
	foo := func(r int, v string) events.Package {
		return events.Package{Project: "foo", Name: "foo", Version: v,
			Maintainers: []events.Maintainer{{Email: fmt.Sprintf("m%d@example.org", r), Name: fmt.Sprintf("M%d", r)}},
			Links:       []events.Link{{Kind: "homepage", URL: "https://foo.example.org"}}}
	}
	bar := events.Package{Project: "bar", Name: "bar", Version: "2.0",
		Maintainers: []events.Maintainer{{Email: "m1@example.org", Name: "M1"}}}
	a := snapshots([]string{"r1", "r2", "r3"},
		[]string{write("a1", foo(1, "1.0"), bar), write("a2", foo(2, "1.0")), write("a3", foo(3, "1.0"))})
	b := snapshots([]string{"r1"}, []string{write("b1", foo(1, "0.9"), bar)})

	_, err = h.update(ctx, a)
	require.NoError(t, err)
	there, err := h.update(ctx, b)
	require.NoError(t, err)
	require.NoError(t, snapshotFloor(ctx, pool, "b"))
	back, err := h.update(ctx, a[:1])
	require.NoError(t, err)
	require.NoError(t, snapshotFloor(ctx, pool, "a"))
	f, err := newFloor(ctx, pool)
	require.NoError(t, err)
	return h, f, []map[string]projections.TableStats{there.tables, back.tables}
}

// differing counts the rows in which the live tables the floor covers and
// the snapshot label differ (over the snapshot's columns, but for the
// forward-only clock columns), per table with a difference.
func differing(t *testing.T, h *harness, f *floor, label string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tb := range f.tables {
		var cols []string
		for _, c := range append(append([]string{}, tb.keys...), tb.values...) {
			if !floorForward[c] {
				cols = append(cols, c)
			}
		}
		sel := strings.Join(cols, ", ")
		live := fmt.Sprintf("SELECT %s FROM public.%s", sel, tb.name)
		snap := fmt.Sprintf("SELECT %s FROM bench_floor.%s_%s", sel, label, tb.name)
		var n int
		require.NoError(t, h.pool.QueryRow(context.Background(), fmt.Sprintf(
			"SELECT (SELECT count(*) FROM ((%[1]s) EXCEPT ALL (%[2]s)) x) + (SELECT count(*) FROM ((%[2]s) EXCEPT ALL (%[1]s)) y)",
			live, snap)).Scan(&n), tb.name)
		if n > 0 {
			out[tb.name] = n
		}
	}
	return out
}

// TestFloorReachesOtherState: the floor's differences written into the
// live tables in state A make them exactly B's (every derived table as
// recomputed in B, packagesets and packages), and written back make them
// A's again — a database the audit finds consistent.
func TestFloorReachesOtherState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, f, _ := floorSetup(t)

	require.Empty(t, differing(t, h, f, "a"), "the live tables are in state A")
	require.NotEmpty(t, differing(t, h, f, "b"))

	d, err := f.apply(ctx, floorAB)
	require.NoError(t, err)
	require.Positive(t, d)
	require.Empty(t, differing(t, h, f, "b"), "A + the floor's differences = B")

	_, err = f.apply(ctx, floorBA)
	require.NoError(t, err)
	require.Empty(t, differing(t, h, f, "a"), "B + the differences back = A")
	rep, err := projections.Audit(ctx, h.pool, projections.AuditOpts{})
	require.NoError(t, err)
	require.Equal(t, projections.OutcomeConsistent, rep.Outcome, "%+v", rep.Failed())
}

// TestFloorAmplification: the hand-made change's counts, table by table.
// foo in r1 goes from 1.0 (newest) to 0.9 (outdated): its row of
// project_repositories, project_maintainers (m1 in r1), projects
// (num_updates), maintainer_repositories (m1 in r1), maintainers (m1),
// repositories (r1) change, history_versions loses (foo, r1, 1.0) and
// gains (foo, r1, 0.9), and foo in r1 becomes outdated while r2 and r3 have
// the newest: a problems row (outdated_alone) and its counts for r1 and m1.
// 11 rows. The projections, both ways, wrote exactly
// those rows of each table, and re-derived at least them: the changed
// packageset's (project, repository) pair — foo in r1, with its
// project_links row that does not change — and foo's projects row.
func TestFloorAmplification(t *testing.T) {
	t.Parallel()
	_, f, runs := floorSetup(t)
	s := f.summary()
	changed := map[string]int64{}
	for name, td := range s.Tables {
		changed[name] = td.Changed
	}
	require.Equal(t, map[string]int64{
		"project_repositories": 1, "project_maintainers": 1, "project_links": 0, "maintainer_repositories": 1,
		"projects": 1, "maintainers": 1, "links": 0, "repositories": 1, "statistics": 0, "history_versions": 2,
		"related_urls": 0, "project_related": 0,
		"project_categories": 0, "category_projects": 0, "repository_categories": 0,
		"problems": 1, "repository_problems": 1, "maintainer_problems": 1,
	}, changed)
	require.Equal(t, int64(11), s.Changed)
	for i, run := range runs {
		for name, td := range s.Tables {
			require.Equal(t, td.Changed, run[name].Changed, "run %d: %s: the projections wrote exactly the changed rows", i, name)
			require.GreaterOrEqual(t, run[name].Rederived, td.Changed, "run %d: %s", i, name)
		}
	}
	s.measured(runs)
	require.Equal(t, int64(11), s.Written)
	require.GreaterOrEqual(t, s.Amplification(), 1.0)
	require.LessOrEqual(t, s.Amplification(), 1.5, "%+v", s.Tables)
	for _, tb := range f.tables {
		ab, ba := tb.counts[floorAB], tb.counts[floorBA]
		require.Equal(t, [3]int64{ab[2], ab[1], ab[0]}, ba, "%s: the way back deletes what the way there inserts", tb.name)
	}
	require.True(t, math.IsNaN((&Floor{}).Amplification()), "nothing changed: no ratio")
}
