package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// pkg is a package of project proj named as the project, with the given
// homepage ("" for none) and maintainer.
func pkg(project, ver, homepage, maint string) events.Package {
	pk := events.Package{Project: project, Name: project, Version: ver,
		Maintainers: []events.Maintainer{{Email: maint}}}
	if homepage != "" {
		pk.Links = []events.Link{{Kind: "homepage", URL: homepage}}
	}
	pk.Normalize()
	return pk
}

// problemRows lists the problems as "repo project/name kind data [emails]".
func problemRows(t *testing.T, f *fixture) []string {
	t.Helper()
	return texts(t, f, `
		SELECT r.name || ' ' || p.project || '/' || p.name || ' ' || p.kind || ' ' || p.data::text || ' ' || p.maintainers::text
		FROM problems p JOIN repos r ON r.id = p.repo_id ORDER BY 1`)
}

// problemCounts is repository_problems and maintainer_problems as
// "repo kind n" and "email kind n".
func problemCounts(t *testing.T, f *fixture) []string {
	t.Helper()
	return texts(t, f, `
		SELECT r.name || ' ' || x.kind || ' ' || x.num_problems FROM repository_problems x JOIN repos r ON r.id = x.repo_id
		UNION ALL
		SELECT m.email || ' ' || x.kind || ' ' || x.num_problems FROM maintainer_problems x JOIN maintainers m ON m.id = x.maintainer_id
		ORDER BY 1`)
}

// texts runs a query of one text column and returns its rows.
func texts(t *testing.T, f *fixture, sql string) []string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), sql)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// TestProblemsAppearAndDisappear takes each kind of problem in and out,
// each time through a change of another repository's packages where the
// kind depends on other projects (so the package with the problem is not
// in the page: the delta path must reach it). After each step the audit's
// recomputation is the judge, and the rows are what the kind says.
func TestProblemsAppearAndDisappear(t *testing.T) {
	t.Parallel()
	counter := &projections.StatsSum{Only: projections.CatalogName}
	f := setupRunner(t, projections.Config{PageSize: 100, MaxRetries: 1, RebuildLag: -1, PageFunc: counter.Add})
	state := map[string][]events.Package{
		// a: http homepage on h.example, no https link there yet. c: a
		// homepage of its own. e: outdated in r1, newest in r2.
		"r1": {pkg("a", "1.0", "http://h.example/a", "m@x"), pkg("c", "1.0", "https://s.example/", "m@x"),
			pkg("e", "1.0", "https://e.example/", "n@x")},
		"r2": {pkg("e", "2.0", "https://e.example/", "n@x")},
		"r3": {},
	}
	schemes := map[string]version.Scheme{"r1": version.SchemeGeneric, "r2": version.SchemeGeneric,
		"r3": version.SchemeGeneric, "deb": version.SchemeDebian}
	apply := func(step string, repos ...string) []string {
		t.Helper()
		f.step(t, step, state, schemes, repos...)
		return problemRows(t, f)
	}
	require.Equal(t, []string{`r1 e/e outdated_alone {"version": "1.0"} {n@x}`}, apply("initial", "r1", "r2", "r3"))

	// homepage_http: b in r2 links h.example over https; a (r1) gets it.
	state["r2"] = append(state["r2"], pkg("b", "1", "https://h.example/b", "o@x"))
	require.Contains(t, apply("https link", "r2"), `r1 a/a homepage_http {"homepage": "http://h.example/a"} {m@x}`)
	require.Contains(t, problemCounts(t, f), "r1 homepage_http 1")
	require.Contains(t, problemCounts(t, f), "m@x homepage_http 1")
	state["r2"] = state["r2"][:1]
	require.NotContains(t, apply("https link gone", "r2"), `r1 a/a homepage_http {"homepage": "http://h.example/a"} {m@x}`)
	require.NotContains(t, problemCounts(t, f), "r1 homepage_http 1")

	// homepage_shared: d in r3 takes c's homepage; both share it. d
	// leaves: c's goes too.
	state["r3"] = []events.Package{pkg("d", "1", "https://s.example/", "p@x")}
	got := apply("shared", "r3")
	require.Contains(t, got, `r1 c/c homepage_shared {"homepage": "https://s.example/"} {m@x}`)
	require.Contains(t, got, `r3 d/d homepage_shared {"homepage": "https://s.example/"} {p@x}`)
	state["r3"] = []events.Package{pkg("d", "1", "https://d.example/", "p@x")}
	require.NotContains(t, apply("not shared", "r3"), `r1 c/c homepage_shared {"homepage": "https://s.example/"} {m@x}`)

	// outdated_alone: r3 gets e behind too, so r1 is no longer alone;
	// then r3 catches up, and r1 is alone again; then r1 catches up.
	state["r3"] = append(state["r3"], pkg("e", "1.5", "https://e.example/", "n@x"))
	require.NotContains(t, apply("another behind", "r3"), `r1 e/e outdated_alone {"version": "1.0"} {n@x}`)
	state["r3"][1] = pkg("e", "2.0", "https://e.example/", "n@x")
	require.Contains(t, apply("the other catches up", "r3"), `r1 e/e outdated_alone {"version": "1.0"} {n@x}`)
	state["r1"][2] = pkg("e", "2.0", "https://e.example/", "n@x")
	require.NotContains(t, apply("caught up", "r1"), `r1 e/e outdated_alone {"version": "1.0"} {n@x}`)
	// The newest moves away: r1 and r3 both behind, neither alone; r2
	// back at the newest.
	state["r2"][0] = pkg("e", "3.0", "https://e.example/", "n@x")
	got = apply("newest moves", "r2")
	require.NotContains(t, got, `r1 e/e outdated_alone {"version": "2.0"} {n@x}`)

	// no_homepage and version_unparsed, in a Debian repository.
	state["deb"] = []events.Package{pkg("f", "a1", "", "q@x"), pkg("g", "1:2.0-1", "https://g.example/", "q@x")}
	got = apply("debian", "deb")
	require.Contains(t, got, `deb f/f no_homepage {} {q@x}`)
	require.Contains(t, got, `deb f/f version_unparsed {"scheme": "debian", "version": "a1"} {q@x}`)
	require.Contains(t, problemCounts(t, f), "q@x version_unparsed 1")
	state["deb"][0] = pkg("f", "1.0-1", "https://f.example/", "q@x")
	got = apply("debian fixed", "deb")
	require.Empty(t, slices.DeleteFunc(got, func(s string) bool { return s[:4] != "deb " }))
	require.NotContains(t, problemCounts(t, f), "q@x version_unparsed 1")

	// A version bump that moves no problem re-derives its pair and writes
	// nothing to the problems tables.
	counter.Take()
	state["deb"][1] = pkg("g", "1:2.1-1", "https://g.example/", "q@x")
	apply("bump", "deb")
	st := counter.Take()
	require.Positive(t, st["project_repositories"].Changed)
	require.Zero(t, st["problems"].Changed)
	require.Zero(t, st["repository_problems"].Changed)
	require.Zero(t, st["maintainer_problems"].Changed)
}

// randomProblemSnapshot is a repository's packages with every kind of
// problem in play: few hosts over http and https, homepages shared or
// missing, versions PEP 440 rejects, versions behind.
func randomProblemSnapshot(rng *rand.Rand) []events.Package {
	var pkgs []events.Package
	for i := range 20 {
		if rng.IntN(4) == 0 {
			continue
		}
		ver := fmt.Sprintf("1.%d", rng.IntN(3))
		if rng.IntN(6) == 0 {
			ver = "x" + ver
		}
		var home string
		switch rng.IntN(5) {
		case 0:
		case 1:
			home = fmt.Sprintf("http://h%d.example/p%d", rng.IntN(3), i)
		case 2:
			home = fmt.Sprintf("https://h%d.example/p%d", rng.IntN(3), i)
		case 3:
			home = fmt.Sprintf("https://shared%d.example/", rng.IntN(3))
		default:
			home = fmt.Sprintf("https://p%d.example/", i)
		}
		pk := pkg(fmt.Sprintf("p%d", i), ver, home, fmt.Sprintf("m%d@x", rng.IntN(4)))
		if rng.IntN(4) == 0 {
			pk.Links = append(pk.Links, events.Link{Kind: "vcs-browser", URL: fmt.Sprintf("https://h%d.example/vcs", rng.IntN(3))})
			pk.Normalize()
		}
		pkgs = append(pkgs, pk)
	}
	return pkgs
}

// TestProblemsRandomlyConvergeAndRebuild: after every step of random
// updates the delta path equals the full definition (the audit's
// recomputation); the end state equals that of a database given only the
// last snapshots (A then B equals B alone); rebuilds from state and from
// the changelog give the same tables; a repeated update writes nothing to
// the problems tables.
func TestProblemsRandomlyConvergeAndRebuild(t *testing.T) {
	t.Parallel()
	counter := &projections.StatsSum{Only: projections.CatalogName}
	f := setupRunner(t, projections.Config{PageSize: 7, MaxRetries: 1, RebuildLag: -1, PageFunc: counter.Add})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, 3))
	repos := []string{"r1", "r2", "r3"}
	last := map[string][]events.Package{}
	for step := range 12 {
		for _, r := range repos {
			if rng.IntN(3) == 0 {
				continue
			}
			last[r] = randomProblemSnapshot(rng)
			f.update(t, r, version.SchemePyPI, last[r])
		}
		require.NoError(t, f.runner.Run(ctx, false), "step %d", step)
		verifyClean(t, f.pool)
	}
	rows := problemRows(t, f)
	kinds := map[string]bool{}
	for _, r := range rows {
		for _, k := range projections.ProblemKinds {
			kinds[k] = kinds[k] || strings.Contains(r, " "+k+" ")
		}
	}
	require.Len(t, kinds, len(projections.ProblemKinds), "every kind occurs: %v", rows)
	want := digest(t, f.pool)
	counts := problemCounts(t, f)

	// B alone.
	g := setup(t)
	for _, r := range repos {
		g.update(t, r, version.SchemePyPI, last[r])
	}
	require.NoError(t, g.runner.Run(ctx, false))
	require.Equal(t, rows, problemRows(t, g))
	require.Equal(t, counts, problemCounts(t, g))

	// A repeated update: no event, no write. Then invalidated packagesets
	// re-derive every pair of r1 without a change: the page stats count no
	// row changed, and every row keeps its version (xmin, ctid).
	versions := func() string {
		return str(t, f, `SELECT string_agg(v, ',' ORDER BY v) FROM (
			SELECT 'p' || ctid::text || xmin::text AS v FROM problems
			UNION ALL SELECT 'r' || ctid::text || xmin::text FROM repository_problems
			UNION ALL SELECT 'm' || ctid::text || xmin::text FROM maintainer_problems) x`)
	}
	before := versions()
	for _, r := range repos {
		res := f.update(t, r, version.SchemePyPI, last[r])
		require.Zero(t, res.Counts.Events)
	}
	require.NoError(t, f.runner.Run(ctx, false))
	counter.Take()
	_, err := changelog.Invalidate(ctx, f.pool, changelog.InvalidateParams{Repo: "r1", Reason: "test"})
	require.NoError(t, err)
	require.Positive(t, f.update(t, "r1", version.SchemePyPI, last["r1"]).Counts.Invalidated)
	require.NoError(t, f.runner.Run(ctx, false))
	st := counter.Take()
	require.Positive(t, st["problems"].Rederived)
	for _, tb := range []string{"problems", "repository_problems", "maintainer_problems"} {
		require.Zero(t, st[tb].Changed, tb)
	}
	require.Equal(t, before, versions(), "a repeated update writes nothing to the problems tables")

	for _, from := range []string{projections.FromState, projections.FromChangelog} {
		_, err := projections.Rebuild(ctx, f.pool, projections.RebuildOpts{From: from, Projections: []string{projections.CatalogName}})
		require.NoError(t, err, from)
		got := digest(t, f.pool)
		for _, tb := range []string{"problems", "repository_problems", "maintainer_problems"} {
			require.Equal(t, want[tb], got[tb], "%s rebuilt from %s", tb, from)
		}
		require.Equal(t, rows, problemRows(t, f))
		verifyClean(t, f.pool)
	}
}

// TestProblemsAuditAndRepair corrupts each problems table (a wrong row, a
// missing row, an extra row): the audit names those rows, the repair
// rewrites exactly them.
func TestProblemsAuditAndRepair(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.update(t, "r", version.SchemeDebian, []events.Package{pkg("a", "x1", "", "m@x"), pkg("b", "1", "http://h.example/", "m@x"),
		pkg("c", "1", "https://h.example/", "n@x")})
	require.NoError(t, f.runner.Run(ctx, false))
	before := digest(t, f.pool)
	require.Equal(t, int64(3), count(t, f.pool, `SELECT count(*) FROM problems`))

	for _, q := range []string{
		`UPDATE problems SET data = '{"version": "y"}' WHERE project = 'a' AND kind = 'version_unparsed'`,
		`DELETE FROM problems WHERE project = 'b'`,
		`INSERT INTO problems VALUES ('c', 1, 'c', 'no_homepage', '{}', '{n@x}')`,
		`UPDATE repository_problems SET num_problems = 7 WHERE kind = 'no_homepage'`,
		`DELETE FROM repository_problems WHERE kind = 'homepage_http'`,
		`INSERT INTO repository_problems VALUES (1, 'homepage_shared', 2)`,
		`UPDATE maintainer_problems SET num_problems = 9 WHERE kind = 'version_unparsed'`,
		`DELETE FROM maintainer_problems WHERE kind = 'homepage_http'`,
		`INSERT INTO maintainer_problems SELECT id, 'outdated_alone', 1 FROM maintainers WHERE email = 'n@x'`,
	} {
		_, err := f.pool.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	rep := audit(t, f, projections.AuditOpts{})
	require.Equal(t, projections.OutcomeInconsistent, rep.Outcome)
	require.Equal(t, map[string][3]int64{
		"catalog.problems":            {1, 1, 1},
		"catalog.repository_problems": {1, 1, 1},
		"catalog.maintainer_problems": {1, 1, 1},
	}, failedChecks(rep.Checks))
	require.ElementsMatch(t, normalizeJSON(t, []string{
		`{"kind": "version_unparsed", "name": "a", "repo_id": 1, "project": "a"}`,
		`{"kind": "homepage_http", "name": "b", "repo_id": 1, "project": "b"}`,
		`{"kind": "no_homepage", "name": "c", "repo_id": 1, "project": "c"}`,
	}), normalizeJSON(t, keysOf(t, rep.Checks, "catalog.problems")))
	require.ElementsMatch(t, normalizeJSON(t, []string{
		`{"kind": "homepage_http", "repo_id": 1}`, `{"kind": "homepage_shared", "repo_id": 1}`, `{"kind": "no_homepage", "repo_id": 1}`,
	}), normalizeJSON(t, keysOf(t, rep.Checks, "catalog.repository_problems")))

	rep = audit(t, f, projections.AuditOpts{Repair: true})
	require.Equal(t, projections.OutcomeRepaired, rep.Outcome, "remaining: %+v", rep.Remaining)
	repaired := map[string]changelog.Repaired{}
	for _, c := range rep.Repairs {
		if c.Repaired != nil {
			repaired[c.Name] = *c.Repaired
		}
	}
	one := changelog.Repaired{Deleted: 1, Updated: 1, Inserted: 1}
	require.Equal(t, map[string]changelog.Repaired{
		"catalog.problems": one, "catalog.repository_problems": one, "catalog.maintainer_problems": one,
	}, repaired)
	require.Equal(t, projections.OutcomeConsistent, audit(t, f, projections.AuditOpts{}).Outcome)
	require.Equal(t, before, digest(t, f.pool))
}
