package projections_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
)

// TestNormalizeURL checks the one normalization of URLs (the SQL function
// normalize_url, whose value the links keep in normalized_url for the
// catalog, its delta path and the audit) on tricky URLs.
func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	for in, want := range map[string]string{
		"https://www.Example.ORG/Foo/":          "example.org/Foo",
		"http://example.org":                    "example.org",
		"HTTPS://WWW.EXAMPLE.ORG":               "example.org",
		"git+https://GitHub.com/user/Repo.git":  "github.com/user/Repo",
		"https://github.com/user/repo.git/":     "github.com/user/repo",
		"git://git.example.org/x.git.git//":     "git.example.org/x",
		"https://www2.example.org/":             "www2.example.org",
		"https://example.org/www.Path/":         "example.org/www.Path",
		"https://example.org/?q=WWW.X":          "example.org/?q=WWW.X",
		"https://example.org#Frag/":             "example.org#Frag",
		"  https://example.org/a//  ":           "example.org/a",
		"ftp://ftp.gnu.org/gnu/hello/":          "ftp.gnu.org/gnu/hello",
		"example.org/path/":                     "example.org/path",
		"https://example.org:8080/A/":           "example.org:8080/A",
		"https://www.Bücher.example/Straße.git": "bücher.example/Straße",
		"https://example.org/repo.github":       "example.org/repo.github",
		"https://example.org/it's/":             "example.org/it's",
		"https://":                              "",
		"":                                      "",
	} {
		var got, kept string
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT normalize_url($1)`, in).Scan(&got))
		require.Equal(t, want, got, "normalize_url(%q)", in)
		// A link keeps the same value.
		require.NoError(t, pool.QueryRow(context.Background(),
			`INSERT INTO links (url) VALUES ($1) RETURNING normalized_url`, in).Scan(&kept))
		require.Equal(t, want, kept, "links.normalized_url of %q", in)
	}
	// An index serves the lookups by normalized URL (the table is tiny:
	// scans are ruled out).
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = tx.Exec(ctx, `SET LOCAL enable_seqscan = off`)
	require.NoError(t, err)
	rows, err := tx.Query(ctx, `EXPLAIN (FORMAT TEXT) SELECT id FROM links WHERE normalized_url = 'example.org'`)
	require.NoError(t, err)
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, strings.Join(plan, "\n"), "links_normalized")
}

// related lists project_related as "project>related:weight", sorted.
func related(t *testing.T, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) []string {
	t.Helper()
	rows, err := q.Query(context.Background(),
		`SELECT project || '>' || related || ':' || weight FROM project_related ORDER BY project, related`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// linked is a package of project carrying urls (none: no link at all).
func linked(project, name, ver string, urls ...string) events.Package {
	pkg := events.Package{Project: project, Name: name, Version: ver}
	for i, u := range urls {
		pkg.Links = append(pkg.Links, events.Link{Kind: []string{"homepage", "vcs"}[i%2], URL: u})
	}
	pkg.Normalize()
	return pkg
}

func urlCap(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	return int(count(t, pool, `SELECT related_url_cap()`))
}

// TestRelatedProjects: projects sharing normalized URLs are related, both
// ways, weighted by the URLs they share; the relations follow updates by
// delta (the audit's recomputation agrees after every step), re-deriving
// only the projects of the URLs that moved; names with quotes and unicode
// round-trip; a URL over the cap relates nobody, and crossing the cap
// either way moves its projects' relations.
func TestRelatedProjects(t *testing.T) {
	t.Parallel()
	counter := &projections.StatsSum{Only: projections.CatalogName}
	f := setupRunner(t, projections.Config{PageSize: 7, MaxRetries: 1, RebuildLag: -1, PageFunc: counter.Add})
	ctx := context.Background()
	quoted, uni := `o'brien "q"`, "日本語-ü"
	state := map[string][]events.Package{
		"r": {
			linked("foo", "foo", "1", "https://www.Foo.example/", "https://git.example/foo.git"),
			linked("libfoo", "libfoo", "1", "http://foo.example", "git+https://git.example/foo"),
			linked(quoted, quoted, "1", "https://foo.example/"),
			linked("alone", "alone", "1", "https://alone.example"),
		},
		"s": {
			linked(uni, uni, "1", "https://FOO.example"),
			linked("foo", "foo", "2", "https://foo.example"),
		},
	}
	apply := func(step string, repos ...string) map[string]projections.TableStats {
		t.Helper()
		f.step(t, step, state, nil, repos...)
		return counter.Take()
	}
	apply("initial", "r", "s")
	require.Equal(t, []string{
		"foo>libfoo:2", "foo>" + quoted + ":1", "foo>" + uni + ":1",
		"libfoo>foo:2", "libfoo>" + quoted + ":1", "libfoo>" + uni + ":1",
		quoted + ">foo:1", quoted + ">libfoo:1", quoted + ">" + uni + ":1",
		uni + ">foo:1", uni + ">libfoo:1", uni + ">" + quoted + ":1",
	}, related(t, f.pool))
	require.Equal(t, int64(4), count(t, f.pool, `SELECT num_projects FROM related_urls WHERE url = 'foo.example'`))

	// A version bump moves no link: nothing of the relations is read.
	state["r"][3] = linked("alone", "alone", "2", "https://alone.example")
	st := apply("bump", "r")
	require.Zero(t, st["related_urls"].Rederived)
	require.Zero(t, st["project_related"].Rederived)

	// libfoo drops its vcs link: only the projects of git.example/foo are
	// re-derived (foo and libfoo), and foo-libfoo loses a weight.
	state["r"][1] = linked("libfoo", "libfoo", "1", "http://foo.example")
	st = apply("drop vcs", "r")
	require.Equal(t, projections.TableStats{Rederived: 1, Changed: 1}, counts(st["related_urls"]))
	require.Equal(t, int64(2), count(t, f.pool, `SELECT count(*) FROM project_related WHERE weight = 1 AND project IN ('foo', 'libfoo') AND related IN ('foo', 'libfoo')`))
	require.Equal(t, int64(6), st["project_related"].Rederived, "foo's and libfoo's three relations each")
	require.Equal(t, int64(2), st["project_related"].Changed)

	// The same snapshot again: no event, nothing written.
	before := rowVersions(t, f.pool, "related_urls", "project_related")
	require.NotEmpty(t, before)
	f.update(t, "r", version.SchemeGeneric, state["r"])
	require.NoError(t, f.runner.Run(ctx, false))
	require.Empty(t, counter.Take())
	require.Equal(t, before, rowVersions(t, f.pool, "related_urls", "project_related"))

	// The cap: cap+1 projects carrying one URL relate nobody through it;
	// one fewer and they are all related; one more again and none is.
	n := urlCap(t, f.pool)
	var crowd []events.Package
	for i := range n + 1 {
		crowd = append(crowd, linked(fmt.Sprintf("c%02d", i), fmt.Sprintf("c%02d", i), "1", "https://forge.example/"))
	}
	state["t"] = crowd
	apply("over the cap", "t")
	require.Zero(t, count(t, f.pool, `SELECT count(*) FROM project_related WHERE project LIKE 'c%'`))
	require.Equal(t, int64(n+1), count(t, f.pool, `SELECT num_projects FROM related_urls WHERE url = 'forge.example'`))
	state["t"] = crowd[:n]
	apply("at the cap", "t")
	require.Equal(t, int64(n*(n-1)), count(t, f.pool, `SELECT count(*) FROM project_related WHERE project LIKE 'c%'`))
	state["t"] = crowd
	apply("over again", "t")
	require.Zero(t, count(t, f.pool, `SELECT count(*) FROM project_related WHERE project LIKE 'c%'`))
	// Over the cap before and after: one project more or less re-derives
	// that project only, not the crowd.
	state["t"] = append(slices.Clone(crowd), linked("c99", "c99", "1", "https://forge.example"))
	st = apply("further over", "t")
	require.Equal(t, int64(0), st["project_related"].Changed)
	require.LessOrEqual(t, st["project_related"].Rederived, int64(1))
}

// rowVersions identifies every row version of the tables (its
// transaction and place): a row rewritten, deleted or added changes it.
func rowVersions(t *testing.T, pool *pgxpool.Pool, tables ...string) []string {
	t.Helper()
	var out []string
	for _, tb := range tables {
		rows, err := pool.Query(context.Background(), "SELECT xmin::text || ' ' || ctid::text FROM "+tb+" ORDER BY ctid")
		require.NoError(t, err)
		v, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		out = append(out, v...)
	}
	return out
}

// randomRelated is a random state of three repositories whose projects
// draw their URLs from a small pool (in various spellings), so that
// relations come and go, and one URL hovers around the cap.
func randomRelated(rng *rand.Rand, cap int) map[string][]events.Package {
	spell := []string{"https://%s/", "http://www.%s", "git+https://%s.git", "https://%s"}
	out := map[string][]events.Package{}
	for _, repo := range []string{"r1", "r2", "r3"} {
		var pkgs []events.Package
		for i := range cap + 6 {
			if rng.IntN(3) == 0 {
				continue
			}
			var urls []string
			for range rng.IntN(3) {
				host := fmt.Sprintf("u%d.example", rng.IntN(8))
				urls = append(urls, fmt.Sprintf(spell[rng.IntN(len(spell))], host))
			}
			if rng.IntN(4) > 0 {
				urls = append(urls, "https://crowd.example")
			}
			name := fmt.Sprintf("p%d", i)
			pkgs = append(pkgs, linked(name, name, fmt.Sprint(rng.IntN(3)), urls...))
		}
		out[repo] = pkgs
	}
	return out
}

// TestRelatedRandomUpdates: after every random update the delta path
// equals the full definition (verifyClean), and the final tables equal a
// database that ingested the final state alone.
func TestRelatedRandomUpdates(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, 16))
	n := urlCap(t, f.pool)
	var last map[string][]events.Package
	for step := range 8 {
		last = randomRelated(rng, n)
		for _, repo := range slices.Sorted(maps.Keys(last)) {
			f.update(t, repo, version.SchemeGeneric, last[repo])
		}
		require.NoError(t, f.runner.Run(ctx, false), "step %d", step)
		verifyClean(t, f.pool)
	}
	require.NotEmpty(t, related(t, f.pool))

	alone := setup(t)
	for _, repo := range slices.Sorted(maps.Keys(last)) {
		alone.update(t, repo, version.SchemeGeneric, last[repo])
	}
	require.NoError(t, alone.runner.Run(ctx, false))
	require.Equal(t, related(t, alone.pool), related(t, f.pool))
	want, got := digest(t, alone.pool), digest(t, f.pool)
	for _, tb := range []string{"related_urls", "project_related"} {
		require.Equal(t, want[tb], got[tb], tb)
	}
}

// TestRelatedAuditRepairRebuild: the audit names corrupted rows of the
// related tables (wrong, missing, extra), the repair fixes exactly them;
// rebuilds from the state and from the changelog give the tables the delta
// path keeps.
func TestRelatedAuditRepairRebuild(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3 {
		for repo, pkgs := range randomRelated(rng, urlCap(t, f.pool)) {
			f.update(t, repo, version.SchemeGeneric, pkgs)
		}
	}
	require.NoError(t, f.runner.Run(ctx, false))
	want := digest(t, f.pool)
	rows := related(t, f.pool)
	require.NotEmpty(t, rows)

	for _, q := range []string{
		`UPDATE related_urls SET num_projects = num_projects + 1 WHERE url = 'u1.example'`,
		`DELETE FROM project_related WHERE (project, related) = (SELECT project, related FROM project_related ORDER BY 1, 2 LIMIT 1)`,
		`INSERT INTO project_related VALUES ('p0', 'nobody', 3)`,
		`UPDATE project_related SET weight = weight + 5 WHERE (project, related) = (SELECT project, related FROM project_related ORDER BY 1 DESC, 2 LIMIT 1)`,
	} {
		_, err := f.pool.Exec(ctx, q)
		require.NoError(t, err)
	}
	rep := audit(t, f, projections.AuditOpts{})
	require.Equal(t, map[string][3]int64{
		"catalog.related_urls":    {0, 0, 1},
		"catalog.project_related": {1, 1, 1},
	}, failedChecks(rep.Checks))
	require.Equal(t, []string{`{"url": "u1.example"}`}, keysOf(t, rep.Checks, "catalog.related_urls"))
	require.Contains(t, keysOf(t, rep.Checks, "catalog.project_related"), `{"project": "p0", "related": "nobody"}`)

	rep = audit(t, f, projections.AuditOpts{Repair: true})
	require.Equal(t, projections.OutcomeRepaired, rep.Outcome, "%+v", rep.Remaining)
	require.Len(t, rep.Repairs, 2)
	for _, c := range rep.Repairs {
		switch c.Name {
		case "catalog.related_urls":
			require.Equal(t, int64(1), c.Repaired.Updated)
		case "catalog.project_related":
			require.Equal(t, [3]int64{1, 1, 1}, [3]int64{c.Repaired.Deleted, c.Repaired.Updated, c.Repaired.Inserted})
		}
	}
	require.Equal(t, want, digest(t, f.pool))
	require.Equal(t, rows, related(t, f.pool))

	rebuildBoth(t, f, projections.CatalogName, want)
	// And kept by delta from there.
	f.update(t, "r1", version.SchemeGeneric, []events.Package{linked("p0", "p0", "9", "https://u1.example")})
	require.NoError(t, f.runner.Run(ctx, false))
	verifyClean(t, f.pool)
}

// rebuildBoth rebuilds the projection from the state and from the
// changelog (pages of 3 events) and requires every table's digest to stay
// want.
func rebuildBoth(t *testing.T, f *fixture, projection string, want map[string]string) {
	t.Helper()
	for _, from := range []string{projections.FromState, projections.FromChangelog} {
		_, err := projections.Rebuild(context.Background(), f.pool, projections.RebuildOpts{From: from, PageSize: 3,
			Projections: []string{projection}})
		require.NoError(t, err, from)
		require.Equal(t, want, digest(t, f.pool), "rebuilt from %s", from)
	}
}
