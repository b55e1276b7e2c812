package projections_test

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
	dlsql "github.com/deltalog/deltalog/sql"
)

type fixture struct {
	pool    *pgxpool.Pool
	updater *changelog.Updater
	runner  *projections.Runner
}

// setup uses tiny pages, so that updates span several pages and page
// boundaries are exercised.
func setup(t *testing.T, ps ...projections.Projection) *fixture {
	t.Helper()
	return setupPaged(t, 7, ps...)
}

func setupPaged(t testing.TB, pageSize int, ps ...projections.Projection) *fixture {
	t.Helper()
	// Always page by page: these fixtures exist to exercise the delta path.
	return setupRunner(t, projections.Config{PageSize: pageSize, MaxRetries: 1, RebuildLag: -1}, ps...)
}

// setupRunner is a fixture whose runner has cfg (DB and, when ps is
// empty, Projections filled in: the catalog and history).
func setupRunner(t testing.TB, cfg projections.Config, ps ...projections.Projection) *fixture {
	t.Helper()
	pool := dbtest.New(t)
	u, err := changelog.NewUpdater(pool, changelog.Config{})
	require.NoError(t, err)
	if len(ps) == 0 {
		cat, err := projections.NewCatalog(projections.CatalogConfig{CacheSize: 1000})
		require.NoError(t, err)
		ps = []projections.Projection{cat, projections.History{}}
	}
	cfg.DB, cfg.Projections, cfg.Logger = pool, ps, testLogger()
	r, err := projections.NewRunner(cfg)
	require.NoError(t, err)
	return &fixture{pool: pool, updater: u, runner: r}
}

// testLogger logs every statement's time when DELTALOG_TEST_LOG is set
// (profiling), and nothing otherwise.
func testLogger() *slog.Logger {
	if os.Getenv("DELTALOG_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// numbered is n one-package projects p0, p1, … maintained by maintainer(i).
func numbered(n int, maintainer func(i int) string) []events.Package {
	pkgs := make([]events.Package, n)
	for i := range pkgs {
		pkgs[i] = p(fmt.Sprintf("p%d", i), fmt.Sprintf("p%d", i), "1", maintainer(i))
	}
	return pkgs
}

// relation identifies the projects table: a rebuild swaps in a new one.
func relation(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	return count(t, pool, `SELECT 'projects'::regclass::oid::bigint`)
}

func (f *fixture) update(t *testing.T, repo string, scheme version.Scheme, pkgs []events.Package) *changelog.UpdateResult {
	t.Helper()
	res, err := f.updater.Update(context.Background(), changelog.UpdateParams{
		Repo: repo, Seed: hashing.DefaultSeed, VersionScheme: scheme, Force: true,
		Snapshot: hashing.Group(hashing.New(hashing.DefaultSeed), pkgs),
	})
	require.NoError(t, err)
	return res
}

// step updates each of repos to its snapshot in state (generic versions
// unless schemes names another), runs the projections to the head and
// requires every derived table to equal its recomputation.
func (f *fixture) step(t *testing.T, name string, state map[string][]events.Package, schemes map[string]version.Scheme, repos ...string) {
	t.Helper()
	for _, r := range repos {
		f.update(t, r, cmp.Or(schemes[r], version.SchemeGeneric), state[r])
	}
	require.NoError(t, f.runner.Run(context.Background(), false), name)
	verifyClean(t, f.pool)
}

// verifyClean runs the from-scratch recomputation and requires every table
// to match.
func verifyClean(t *testing.T, pool *pgxpool.Pool) []projections.TableDiff {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	diffs, err := projections.Verify(ctx, tx)
	require.NoError(t, err)
	for _, d := range diffs {
		require.True(t, d.Clean(), "%s: %+v", d.Table, d)
	}
	return diffs
}

func p(project, name, ver string, maint ...string) events.Package {
	pkg := events.Package{Project: project, Name: name, Version: ver}
	for _, m := range maint {
		pkg.Maintainers = append(pkg.Maintainers, events.Maintainer{Email: m, Name: "N " + m})
	}
	pkg.Links = []events.Link{{Kind: "homepage", URL: "https://" + project + ".example"}}
	pkg.Normalize()
	return pkg
}

func count(t *testing.T, q changelog.Querier, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, q.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestCatalogFollowsUpdates(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	steps := []struct {
		repo string
		pkgs []events.Package
	}{
		{"deb", []events.Package{p("foo", "foo", "1.0-1", "a@x", "b@x"), p("foo", "libfoo1", "1.0-1", "a@x"),
			p("bar", "bar", "2:0.9-3", "b@x"), p("baz", "baz", "3.0-1", "c@x")}},
		{"reg", []events.Package{p("foo", "foo", "1.1", "z@y"), p("qux", "qux", "0.1")}},
		// foo updated in deb (now newest everywhere), bar's maintainer
		// changes, baz goes (c@x orphaned), qux arrives in deb.
		{"deb", []events.Package{p("foo", "foo", "1.2-1", "a@x", "b@x"), p("foo", "libfoo1", "1.2-1", "a@x"),
			p("bar", "bar", "2:0.9-3", "d@x"), p("qux", "qux", "0.1-1", "a@x")}},
		// baz returns: c@x comes back to life.
		{"reg", []events.Package{p("foo", "foo", "1.1", "z@y"), p("qux", "qux", "0.1"), p("baz", "baz", "3.1", "c@x")}},
	}
	for i, s := range steps {
		f.update(t, s.repo, map[string]version.Scheme{"deb": version.SchemeDebian, "reg": version.SchemeGeneric}[s.repo], s.pkgs)
		require.NoError(t, f.runner.Run(ctx, false), "step %d", i)
		verifyClean(t, f.pool)
	}

	// Spot checks of meaning, beyond self-consistency.
	var newest string
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT newest_version FROM projects WHERE name = 'foo'`).Scan(&newest))
	require.Equal(t, "1.2-1", newest)
	require.Equal(t, int64(1), count(t, f.pool, `SELECT count(*) FROM package_statuses WHERE project = 'foo' AND status = 'outdated'`))
	require.Equal(t, int64(2), count(t, f.pool, `SELECT num_repos FROM projects WHERE name = 'foo'`))
	// a@x maintains foo and libfoo1 (project foo) and qux in deb.
	require.Equal(t, int64(2), count(t, f.pool, `SELECT num_projects FROM maintainers WHERE email = 'a@x'`))
	require.Equal(t, int64(3), count(t, f.pool, `SELECT num_packages FROM maintainers WHERE email = 'a@x'`))
	// b@x lost bar; c@x was orphaned and came back.
	require.Equal(t, int64(1), count(t, f.pool, `SELECT num_projects FROM maintainers WHERE email = 'b@x'`))
	require.Equal(t, int64(0), count(t, f.pool, `SELECT count(*) FROM maintainers WHERE email = 'c@x' AND orphaned_at IS NOT NULL`))
	require.Equal(t, int64(1), count(t, f.pool, `SELECT count(*) FROM maintainers WHERE email = 'd@x' AND orphaned_at IS NULL`))
	require.Equal(t, int64(4), count(t, f.pool, `SELECT num_projects FROM statistics`))
	require.Equal(t, int64(2), count(t, f.pool, `SELECT num_repos FROM statistics`))

	// History: foo's version update in deb, and the new newest version.
	var kinds []string
	rows, err := f.pool.Query(ctx, `SELECT kind || ':' || coalesce(old_version, '') || '>' || coalesce(new_version, '')
		FROM project_history WHERE project = 'foo' ORDER BY seq, id`)
	require.NoError(t, err)
	kinds, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"added:>1.0-1", "new_newest:>1.0-1", "added:>1.1", "new_newest:1.0-1>1.1",
		"version_update:1.0-1>1.2-1", "new_newest:1.1>1.2-1"}, kinds)
}

func TestCatalogOrphansAndRevives(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "1", "m@x"), p("b", "b", "1", "m@x")})
	require.NoError(t, f.runner.Run(ctx, false))
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("b", "b", "1", "n@x")})
	require.NoError(t, f.runner.Run(ctx, false))
	verifyClean(t, f.pool)
	require.Equal(t, int64(1), count(t, f.pool, `SELECT count(*) FROM maintainers WHERE email = 'm@x' AND orphaned AND num_packages = 0`))
	require.Equal(t, int64(1), count(t, f.pool, `SELECT count(*) FROM projects WHERE name = 'a' AND orphaned AND num_packages = 0`))
	require.Equal(t, int64(1), count(t, f.pool, `SELECT count(*) FROM links WHERE url = 'https://a.example' AND orphaned AND refcount = 0`))
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "2", "m@x"), p("b", "b", "1", "n@x")})
	require.NoError(t, f.runner.Run(ctx, false))
	verifyClean(t, f.pool)
	require.Equal(t, int64(0), count(t, f.pool, `SELECT count(*) FROM maintainers WHERE orphaned`))
	require.Equal(t, int64(0), count(t, f.pool, `SELECT count(*) FROM projects WHERE orphaned`))
}

func TestManyRandomUpdatesStayConsistent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for step := range 12 {
		for r, repo := range []string{"r1", "r2", "r3"} {
			var pkgs []events.Package
			for i := range 30 {
				if (i+step+r)%7 == 0 {
					continue // some projects come and go
				}
				ver := fmt.Sprintf("1.%d", (i*step+r)%5)
				pkgs = append(pkgs, p(fmt.Sprintf("proj%d", i), fmt.Sprintf("proj%d", i), ver,
					fmt.Sprintf("m%d@x", (i+step)%6), fmt.Sprintf("m%d@x", (i*r)%4)))
			}
			f.update(t, repo, version.SchemeGeneric, pkgs)
		}
		require.NoError(t, f.runner.Run(ctx, false))
		verifyClean(t, f.pool)
	}
}

// TestVerifyNamesCorruptedRows: Verify is only worth something if it fails.
// Corrupt one row per kind (missing, differing, extra) and check that it
// names exactly those rows and nothing else (no cascade into totals).
func TestVerifyNamesCorruptedRows(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "1", "m@x"), p("b", "b", "2", "m@x", "n@x")})
	require.NoError(t, f.runner.Run(ctx, false))
	verifyClean(t, f.pool)

	for _, q := range []string{
		`DELETE FROM project_repositories WHERE project = 'a'`,
		`UPDATE maintainers SET num_packages = 99 WHERE email = 'n@x'`,
		`INSERT INTO maintainer_repositories VALUES (12345, 1, 1, 1, 1, 0)`,
		`UPDATE statistics SET num_links = 7`,
	} {
		_, err := f.pool.Exec(ctx, q)
		require.NoError(t, err)
	}
	tx, err := f.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	diffs, err := projections.Verify(ctx, tx)
	require.NoError(t, err)
	got := map[string][3]int{}
	for _, d := range diffs {
		if !d.Clean() {
			got[d.Table] = [3]int{d.Missing, d.Extra, d.Differing}
			require.NotEmpty(t, d.Samples)
		}
	}
	require.Equal(t, map[string][3]int{
		"project_repositories":    {1, 0, 0},
		"maintainers":             {0, 0, 1},
		"maintainer_repositories": {0, 1, 0},
		"statistics":              {0, 0, 1},
	}, got)
}

// TestMaintainerNameFollowsPackages: a maintainer's name is the least of the
// names its packages give. The delta path keeps it without reading the
// maintainer's other rows unless the row that carried it went away; every
// branch of that is taken here, and checked against the recomputation.
func TestMaintainerNameFollowsPackages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	named := func(project, name string) events.Package {
		pkg := events.Package{Project: project, Name: project, Version: "1",
			Maintainers: []events.Maintainer{{Email: "m@x", Name: name}}}
		pkg.Normalize()
		return pkg
	}
	for i, s := range []struct {
		pkgs []events.Package
		want string
	}{
		{[]events.Package{named("a", "Bob"), named("b", "Alice")}, "Alice"},
		{[]events.Package{named("a", "Bob")}, "Bob"},                        // the carrier went: read the rest
		{[]events.Package{named("a", "Bob"), named("c", "Aaron")}, "Aaron"}, // a lesser name arrives
		{[]events.Package{named("a", "Bob"), named("c", "Zed")}, "Bob"},     // the carrier renamed
		{[]events.Package{named("d", "Dan")}, "Dan"},                        // every row replaced
		{nil, "Dan"}, // orphaned: keeps its name
		{[]events.Package{named("e", "Carl")}, "Carl"},                                     // back to life
		{[]events.Package{named("e", "Carl"), named("f", "Carl"), named("g", "Al")}, "Al"}, // ties and a lesser one
		{[]events.Package{named("e", "Carl"), named("f", "Carl")}, "Carl"},
	} {
		f.update(t, "r", version.SchemeGeneric, s.pkgs)
		require.NoError(t, f.runner.Run(ctx, false), "step %d", i)
		verifyClean(t, f.pool)
		var name string
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT name FROM maintainers WHERE email = 'm@x'`).Scan(&name))
		require.Equal(t, s.want, name, "step %d", i)
	}
}

// TestRandomNamesAndLinksStayConsistent varies what the counter-kept tables
// depend on: maintainer names, shared links and maintainers across
// repositories, projects coming and going.
func TestRandomNamesAndLinksStayConsistent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	for step := range 15 {
		for _, repo := range []string{"r1", "r2", "r3"} {
			var pkgs []events.Package
			for i := range 25 {
				if rng.IntN(5) == 0 {
					continue
				}
				pkg := events.Package{Project: fmt.Sprintf("p%d", i), Name: fmt.Sprintf("p%d-%d", i, rng.IntN(2)),
					Version: fmt.Sprintf("1.%d", rng.IntN(3))}
				for range rng.IntN(3) {
					m := rng.IntN(5)
					pkg.Maintainers = append(pkg.Maintainers, events.Maintainer{
						Email: fmt.Sprintf("m%d@x", m), Name: fmt.Sprintf("Name%d", rng.IntN(3))})
				}
				for range rng.IntN(3) {
					pkg.Links = append(pkg.Links, events.Link{Kind: "homepage", URL: fmt.Sprintf("https://l%d.example", rng.IntN(6))})
				}
				pkg.Normalize()
				pkgs = append(pkgs, pkg)
			}
			f.update(t, repo, version.SchemeGeneric, pkgs)
		}
		require.NoError(t, f.runner.Run(ctx, false), "step %d", step)
		verifyClean(t, f.pool)
	}
}

// TestRunnerCatchesUpByRebuild: a catalog far behind the head is rebuilt
// from state (its tables are swapped: new relations) rather than paged, and
// then follows page by page again; history, event-sourced, always pages.
func TestRunnerCatchesUpByRebuild(t *testing.T) {
	t.Parallel()
	f := setupRunner(t, projections.Config{PageSize: 7, RebuildLag: 20})
	ctx := context.Background()

	pkgs := numbered(30, func(i int) string { return fmt.Sprintf("m%d@x", i%4) })
	f.update(t, "r1", version.SchemeGeneric, pkgs)
	before := relation(t, f.pool)
	require.NoError(t, f.runner.Run(ctx, false))
	require.NotEqual(t, before, relation(t, f.pool), "30 events behind, over the lag of 20: rebuilt")
	verifyClean(t, f.pool)
	require.Equal(t, int64(30), count(t, f.pool, `SELECT count(*) FROM project_history WHERE kind = 'added'`))

	rebuilt := relation(t, f.pool)
	pkgs[0].Version = "2"
	f.update(t, "r1", version.SchemeGeneric, pkgs[:25])
	require.NoError(t, f.runner.Run(ctx, false))
	require.Equal(t, rebuilt, relation(t, f.pool), "6 events behind: paged")
	verifyClean(t, f.pool)
	require.Equal(t, int64(25), count(t, f.pool, `SELECT num_projects FROM statistics`))
}

// TestRunnerRebuildsAFreshCatalogAutomatically: by default a lag over
// 10000 events and a fifth of the catalog is caught up by a rebuild.
func TestRunnerRebuildsAFreshCatalogAutomatically(t *testing.T) {
	t.Parallel()
	f := setupRunner(t, projections.Config{})
	f.update(t, "r1", version.SchemeGeneric, numbered(12_000, func(i int) string { return fmt.Sprintf("m%d@x", i%50) }))
	before := relation(t, f.pool)
	require.NoError(t, f.runner.Run(context.Background(), false))
	require.NotEqual(t, before, relation(t, f.pool))
	verifyClean(t, f.pool)
	require.Equal(t, int64(12_000), count(t, f.pool, `SELECT num_projects FROM statistics`))
}

// TestRunnerPagesWhileAnotherRebuildRuns: when the catalog is being rebuilt
// by someone else (deltalog rebuild holds its lock), a far-behind runner
// pages instead of failing.
func TestRunnerPagesWhileAnotherRebuildRuns(t *testing.T) {
	t.Parallel()
	f := setupRunner(t, projections.Config{PageSize: 7, RebuildLag: 5})
	ctx := context.Background()
	f.update(t, "r1", version.SchemeGeneric, numbered(20, func(int) string { return "m@x" }))

	holder, err := f.pool.Acquire(ctx)
	require.NoError(t, err)
	defer holder.Release()
	var locked bool
	require.NoError(t, holder.QueryRow(ctx, dlsql.Query("rebuild-try-lock"), projections.CatalogName).Scan(&locked))
	require.True(t, locked)
	defer holder.Exec(ctx, dlsql.Query("rebuild-unlock"), projections.CatalogName) //nolint:errcheck

	before := relation(t, f.pool)
	require.NoError(t, f.runner.Run(ctx, false))
	require.Equal(t, before, relation(t, f.pool), "paged, not rebuilt")
	verifyClean(t, f.pool)
}
