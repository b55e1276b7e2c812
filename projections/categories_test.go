package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// pc is p with a category.
func pc(project, name, ver, category string) events.Package {
	pkg := p(project, name, ver, "m@x")
	pkg.Category = category
	return pkg
}

// categorized is a random state of three repositories: projects with one
// or two packages, in categories that change between steps (some empty).
func categorized(rng *rand.Rand) map[string][]events.Package {
	cats := []string{"", "libs", "devel", "net", "admin"}
	out := map[string][]events.Package{}
	for _, repo := range []string{"r1", "r2", "r3"} {
		var pkgs []events.Package
		for i := range 20 {
			if rng.IntN(5) == 0 {
				continue
			}
			proj := fmt.Sprintf("proj%d", i)
			for j := range 1 + rng.IntN(2) {
				pkgs = append(pkgs, pc(proj, fmt.Sprintf("%s-%d", proj, j), fmt.Sprintf("1.%d", rng.IntN(3)), cats[rng.IntN(len(cats))]))
			}
		}
		out[repo] = pkgs
	}
	return out
}

// fullCategories are the two category tables computed here from the
// packages, independently of the projection's definitions.
const fullCategories = `
SELECT coalesce(string_agg(format('%s %s %s', category, project, n), ',' ORDER BY category, project), '') FROM (
    SELECT category, project, count(*) AS n FROM packages WHERE category <> '' GROUP BY 1, 2) x
UNION ALL
SELECT coalesce(string_agg(format('%s %s %s %s', repo_id, category, p, n), ',' ORDER BY repo_id, category), '') FROM (
    SELECT repo_id, category, count(DISTINCT project) AS p, count(*) AS n FROM packages WHERE category <> '' GROUP BY 1, 2) x`

const storedCategories = `
SELECT coalesce(string_agg(format('%s %s %s', category, project, refcount), ',' ORDER BY category, project), '') FROM category_projects
UNION ALL
SELECT coalesce(string_agg(format('%s %s %s %s', repo_id, category, num_projects, num_packages), ',' ORDER BY repo_id, category), '')
FROM repository_categories`

func rows(t *testing.T, f *fixture, sql string) []string {
	t.Helper()
	rs, err := f.pool.Query(context.Background(), sql)
	require.NoError(t, err)
	var out []string
	for rs.Next() {
		var s string
		require.NoError(t, rs.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rs.Err())
	return out
}

// TestCategoriesFollowRandomUpdates: after every step of random updates
// the delta path's category tables equal their full definition (the
// audit's recomputation) and a computation from the packages written
// here; an update that moves no category writes none of their rows, and
// a repeated one writes nothing at all.
func TestCategoriesFollowRandomUpdates(t *testing.T) {
	t.Parallel()
	counter := &projections.StatsSum{Only: projections.CatalogName}
	f := setupRunner(t, projections.Config{PageSize: 13, MaxRetries: 1, RebuildLag: -1, PageFunc: counter.Add})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, 17))
	var state map[string][]events.Package
	for step := range 10 {
		state = categorized(rng)
		for _, repo := range []string{"r1", "r2", "r3"} {
			f.update(t, repo, version.SchemeGeneric, state[repo])
		}
		require.NoError(t, f.runner.Run(ctx, false))
		verifyClean(t, f.pool)
		require.Equal(t, rows(t, f, fullCategories), rows(t, f, storedCategories), "step %d", step)
	}
	require.Positive(t, count(t, f.pool, `SELECT count(*) FROM category_projects`))
	counter.Take()

	// The same snapshots again: no batch, no page, nothing written.
	head := count(t, f.pool, `SELECT seq FROM changelog_head`)
	for _, repo := range []string{"r1", "r2", "r3"} {
		f.update(t, repo, version.SchemeGeneric, state[repo])
	}
	require.Equal(t, head, count(t, f.pool, `SELECT seq FROM changelog_head`))
	require.NoError(t, f.runner.Run(ctx, false))
	require.Empty(t, counter.Take())

	// A version bump moves no category: the level-1 rows are re-derived,
	// none is written, and the tables above are not even read.
	bumped := append([]events.Package{}, state["r1"]...)
	bumped[0].Version = "9.9"
	f.update(t, "r1", version.SchemeGeneric, bumped)
	require.NoError(t, f.runner.Run(ctx, false))
	st := counter.Take()
	require.Positive(t, st["project_categories"].Rederived)
	for _, tb := range []string{"project_categories", "category_projects", "repository_categories"} {
		require.Zero(t, st[tb].Changed, tb)
	}
	require.Zero(t, st["category_projects"].Rederived+st["repository_categories"].Rederived)
	verifyClean(t, f.pool)
}

// TestCategoriesAuditAndRepair corrupts each category table (a wrong row,
// a missing row, an extra row): the audit names exactly those rows, the
// repair rewrites them, and the tables are back to what they were.
func TestCategoriesAuditAndRepair(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.update(t, "r", version.SchemeGeneric, []events.Package{pc("a", "a", "1", "libs"), pc("b", "b", "1", "libs"),
		pc("b", "b-doc", "1", "doc"), pc("c", "c", "1", "")})
	f.update(t, "s", version.SchemeGeneric, []events.Package{pc("a", "a", "2", "libs"), pc("c", "c", "1", "net")})
	require.NoError(t, f.runner.Run(ctx, false))
	require.Equal(t, projections.OutcomeConsistent, audit(t, f, projections.AuditOpts{}).Outcome)
	before := digest(t, f.pool)
	require.Equal(t, int64(2), count(t, f.pool, `SELECT refcount FROM category_projects WHERE category = 'libs' AND project = 'a'`))
	require.Zero(t, count(t, f.pool, `SELECT count(*) FROM category_projects WHERE category = ''`), "no empty category")

	for _, q := range []string{
		`UPDATE category_projects SET refcount = 7 WHERE category = 'libs' AND project = 'b'`,
		`DELETE FROM repository_categories WHERE repo_id = 1 AND category = 'doc'`,
		`INSERT INTO project_categories VALUES ('c', 1, 'games', 1)`,
	} {
		_, err := f.pool.Exec(ctx, q)
		require.NoError(t, err)
	}
	rep := audit(t, f, projections.AuditOpts{Projections: []string{projections.CatalogName}})
	require.Equal(t, map[string][3]int64{
		"catalog.category_projects":     {0, 0, 1},
		"catalog.repository_categories": {1, 0, 0},
		"catalog.project_categories":    {0, 1, 0},
	}, failedChecks(rep.Checks))
	for name, keys := range map[string][]string{
		"catalog.category_projects":     {`{"category": "libs", "project": "b"}`},
		"catalog.repository_categories": {`{"repo_id": 1, "category": "doc"}`},
		"catalog.project_categories":    {`{"project": "c", "repo_id": 1, "category": "games"}`},
	} {
		require.Equal(t, normalizeJSON(t, keys), normalizeJSON(t, keysOf(t, rep.Checks, name)), name)
	}
	rep = audit(t, f, projections.AuditOpts{Projections: []string{projections.CatalogName}, Repair: true})
	require.Equal(t, projections.OutcomeRepaired, rep.Outcome, "remaining: %+v", rep.Remaining)
	require.Equal(t, before, digest(t, f.pool))
}
