package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
	"go.uber.org/goleak"

	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

// TestRunEndToEnd runs the whole harness at a tiny scale: every case is
// in the report with positive times, the deltas append events and the
// no-change update none, and the database ends in a state whose derived
// tables match their recomputation.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	var progress bytes.Buffer
	rep, err := Run(ctx, Config{
		URL: url, Dir: t.TempDir(), Gen: gen.Config{Seed: 1, Repos: 3, Packages: 2000},
		Reps: 2, PageSize: 500, Progress: &progress,
	})
	require.NoError(t, err)

	require.Equal(t, 3, rep.Scale.Repos)
	require.InDelta(t, 2000, rep.Scale.Packages, 50)
	want := []string{CaseParseHash, CaseCopy, CaseFull, CaseNoChange, CaseSingle, DeltaCase(0.001), DeltaCase(0.01), DeltaCase(0.1),
		CaseRecompute, CaseViews, CaseTail}
	var got []string
	for _, c := range rep.Cases {
		got = append(got, c.Name)
		require.Positive(t, c.Seconds, c.Name)
		for _, s := range c.Samples {
			require.Positive(t, s, c.Name)
		}
		require.Positive(t, c.PeakRSS, c.Name)
		if c.Name != CaseParseHash {
			require.NotNil(t, c.DBSeconds, c.Name)
			require.Positive(t, *c.DBSeconds, c.Name)
		}
	}
	require.Equal(t, want, got)
	require.Equal(t, 1, rep.Case(CaseFull).Runs)
	require.Equal(t, 2, rep.Case(CaseNoChange).Runs)
	require.Equal(t, rep.Scale.Packagesets, rep.Case(CaseFull).Events)
	require.Zero(t, rep.Case(CaseNoChange).Events)
	require.Positive(t, *rep.Case(CaseNoChange).ParseSeconds)
	for _, rate := range []float64{0.01, 0.1} {
		c := rep.Case(DeltaCase(rate))
		require.InDelta(t, rate*float64(rep.Scale.Packagesets), c.Events, 0.5*rate*float64(rep.Scale.Packagesets)+3, c.Name)
		require.Positive(t, *c.ProjectSeconds, c.Name)
	}
	require.Equal(t, 1, rep.Case(CaseSingle).Events)
	// Every delta case has its floor: both ways, each run writing at least
	// the changed packageset's rows, and re-deriving no fewer derived rows
	// than changed.
	for _, name := range []string{CaseSingle, DeltaCase(0.001), DeltaCase(0.01), DeltaCase(0.1)} {
		f := rep.Case(name).Floor
		require.NotNil(t, f, name)
		require.Len(t, f.Samples, 2, name)
		if rep.Case(name).Events == 0 { // 0.1 % of this tiny catalog may be nothing
			require.Zero(t, f.StateRows, name)
			require.Zero(t, f.Changed, name)
			continue
		}
		require.Positive(t, f.Seconds, name)
		require.Positive(t, f.StateRows, name)
		require.Positive(t, f.Changed, name)
		require.GreaterOrEqual(t, f.Amplification(), 1.0, name)
		// The tables the delta path wrote took time in its statements.
		for _, table := range []string{"project_repositories", "projects", "repositories"} {
			require.Positive(t, f.StatementSeconds[table], "%s: %s", name, table)
		}
		for table, td := range f.Tables {
			require.Equal(t, td.Changed, td.Written, "%s: %s: the projections wrote exactly the rows that changed", name, table)
		}
	}
	require.Equal(t, []string{"synthetic"}, auditFamilies(rep))
	require.Equal(t, "consistent", rep.Audits[0].Outcome)
	require.Equal(t, int64(rep.Scale.Packages), rep.Case(CaseCopy).Rows)
	require.GreaterOrEqual(t, rep.Case(CaseTail).Events, rep.Scale.Packagesets)
	require.Positive(t, rep.HashBytesPerSecond)
	require.Positive(t, rep.PeakRSS)

	// Every target is listed; those whose cases ran are measured, those
	// of the real workloads (not run here) are listed unmeasured.
	require.Len(t, rep.Targets, 18)
	for _, tg := range rep.Targets {
		if strings.Contains(tg.Name, "PyPI") || strings.Contains(tg.Name, "Repology") || strings.Contains(tg.Name, "Debian") {
			require.Nil(t, tg.Measured, tg.Name)
			continue
		}
		if tg.Name == "amplification (re-derived ÷ changed rows), "+DeltaCase(0.001) && rep.Case(DeltaCase(0.001)).Events == 0 {
			continue // nothing changed: no ratio
		}
		require.NotNil(t, tg.Measured, tg.Name)
	}

	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	for _, name := range want {
		require.Contains(t, table.String(), name)
	}
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	require.Contains(t, string(b), `"db_seconds"`)
	require.Contains(t, progress.String(), "bench: full ingest 1/1")

	// Back at generation 0 with the projections caught up and correct.
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	diffs, err := projections.Verify(ctx, tx)
	require.NoError(t, err)
	for _, d := range diffs {
		require.True(t, d.Clean(), "%s: %+v", d.Table, d)
	}
	var packages int
	require.NoError(t, tx.QueryRow(ctx, "SELECT count(*) FROM packages").Scan(&packages))
	require.Equal(t, rep.Scale.Packages, packages)
}

func auditFamilies(rep *Report) []string {
	var out []string
	for _, a := range rep.Audits {
		out = append(out, a.Family)
	}
	return out
}

// TestSelectedCases runs only some case groups.
func TestSelectedCases(t *testing.T) {
	t.Parallel()
	rep, err := Run(context.Background(), Config{
		URL: dbtest.NewURL(t), Gen: gen.Config{Seed: 2, Repos: 2, Packages: 500}, Reps: 1,
		Cases: []string{"parse", "nochange"},
	})
	require.NoError(t, err)
	var got []string
	for _, c := range rep.Cases {
		got = append(got, c.Name)
	}
	require.Equal(t, []string{CaseParseHash, CaseFull, CaseNoChange}, got)
	for _, tg := range rep.Targets {
		if strings.Contains(tg.Name, "recompute") {
			require.Nil(t, tg.Measured, tg.Name)
			require.Nil(t, tg.Met, tg.Name)
		}
	}

	_, err = Run(context.Background(), Config{URL: "postgres://x@/y", Cases: []string{"nope"}, Rates: []float64{2}})
	require.ErrorContains(t, err, `unknown case "nope"`)
	require.ErrorContains(t, err, "rate 2")
}

// TestRefusesDatabaseWithData: the harness wipes its database, so it
// refuses one that holds a catalog (unless named for benchmarks).
func TestRefusesDatabaseWithData(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	_, err := pool.Exec(context.Background(),
		`INSERT INTO repos (name, hash_seed, hash_version, version_scheme) VALUES ('precious', 1, 1, 'generic')`)
	require.NoError(t, err)
	_, err = Run(context.Background(), Config{URL: pool.Config().ConnString(), Gen: gen.Config{Repos: 1, Packages: 10}})
	require.ErrorContains(t, err, "holds 1 repositories")
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM repos").Scan(&n))
	require.Equal(t, 1, n)
}

// TestViewsMatchCatalog: the materialized views compute the same data as
// the catalog and history projections (live rows), after a full load and
// a delta with additions and removals.
func TestViewsMatchCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := &harness{cfg: Config{URL: dbtest.NewURL(t), Gen: gen.Config{Seed: 4, Repos: 6, Packages: 4000}}, rep: &Report{}}
	require.NoError(t, h.cfg.withDefaults())
	pool, err := openPool(ctx, h.cfg.URL)
	require.NoError(t, err)
	defer pool.Close()
	h.pool = pool
	require.NoError(t, h.wipe(ctx))

	cfg := h.cfg.Gen
	cfg.Rate = 0.2
	g, err := gen.New(cfg)
	require.NoError(t, err)
	dir := t.TempDir()
	for n := range 2 {
		files, _, err := g.WriteFiles(ctx, n, filepath.Join(dir, "gen", string(rune('0'+n))))
		require.NoError(t, err)
		_, err = h.update(ctx, snapshots(g.Repos(), files))
		require.NoError(t, err)
	}
	require.NoError(t, h.createViews(ctx))
	_, err = h.refreshViews(ctx)
	require.NoError(t, err)

	pairs := map[string][2]string{
		"projects": {
			`SELECT name, num_repos, num_packages, newest_version, num_updates FROM projects WHERE NOT orphaned`,
			`SELECT name, num_repos, num_packages, newest_version, num_updates FROM bench_mv.projects`},
		"project_repositories": {
			`SELECT project, repo_id, num_packages, num_newest, num_outdated, best_version FROM project_repositories`,
			`SELECT project, repo_id, num_packages, num_newest, num_outdated, best_version FROM bench_mv.project_repositories`},
		"project_maintainers": {
			`SELECT pm.project, m.email, pm.repo_id, pm.name, pm.num_packages, pm.num_newest, pm.num_outdated
			 FROM project_maintainers pm JOIN maintainers m ON m.id = pm.maintainer_id`,
			`SELECT project, email, repo_id, name, num_packages, num_newest, num_outdated FROM bench_mv.project_maintainers`},
		"maintainer_repositories": {
			`SELECT m.email, mr.repo_id, mr.num_packages, mr.num_projects, mr.num_newest, mr.num_outdated
			 FROM maintainer_repositories mr JOIN maintainers m ON m.id = mr.maintainer_id`,
			`SELECT email, repo_id, num_packages, num_projects, num_newest, num_outdated FROM bench_mv.maintainer_repositories`},
		"maintainers": {
			`SELECT email, name, num_packages, num_projects, num_repos, num_newest, num_outdated, repo_counts FROM maintainers WHERE NOT orphaned`,
			`SELECT email, name, num_packages, num_projects, num_repos, num_newest, num_outdated, repo_counts FROM bench_mv.maintainers`},
		"project_links": {
			`SELECT pl.project, pl.repo_id, l.url, pl.refcount FROM project_links pl JOIN links l ON l.id = pl.link_id`,
			`SELECT project, repo_id, url, refcount FROM bench_mv.project_links`},
		"links": {
			`SELECT url, refcount FROM links WHERE NOT orphaned`,
			`SELECT url, refcount FROM bench_mv.links`},
		"repositories": {
			`SELECT id, name, num_packages, num_projects, num_maintainers, num_newest, num_outdated FROM repositories WHERE num_packages > 0`,
			`SELECT id, name, num_packages, num_projects, num_maintainers, num_newest, num_outdated FROM bench_mv.repositories`},
		"statistics": {
			`SELECT num_packages, num_projects, num_maintainers, num_repos, num_links FROM statistics`,
			`SELECT num_packages, num_projects, num_maintainers, num_repos, num_links FROM bench_mv.statistics`},
		"history_versions": {
			`SELECT project, repo_id, version, version_key, count FROM history_versions`,
			`SELECT project, repo_id, version, version_key, count FROM bench_mv.history_versions`},
	}
	for name, q := range pairs {
		var rows, diff int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM ("+q[0]+") a").Scan(&rows), name)
		require.Positive(t, rows, name)
		require.NoError(t, pool.QueryRow(ctx,
			"SELECT (SELECT count(*) FROM (("+q[0]+") EXCEPT ("+q[1]+")) a) + (SELECT count(*) FROM (("+q[1]+") EXCEPT ("+q[0]+")) b)").
			Scan(&diff), name)
		require.Zero(t, diff, "%s: %d of %d rows differ", name, diff, rows)
	}
}

func TestWritePyPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.tsv")
	var b strings.Builder
	b.WriteString("name\tversion\tsummary\n")
	for i := range 250 {
		b.WriteString("p" + string(rune('a'+i%26)) + "\t1." + string(rune('0'+i%10)) + "\ts\n")
	}
	require.NoError(t, os.WriteFile(src, []byte(b.String()), 0o644))
	base, changed := filepath.Join(dir, "base.tsv"), filepath.Join(dir, "changed.tsv")
	require.NoError(t, writePyPI(src, base, changed))
	bb, err := os.ReadFile(base)
	require.NoError(t, err)
	require.Equal(t, b.String(), string(bb))
	cb, err := os.ReadFile(changed)
	require.NoError(t, err)
	lines := strings.Split(string(cb), "\n")
	require.Len(t, lines, 252)
	require.Equal(t, 2, strings.Count(string(cb), ".post9"))
	require.Equal(t, "pv\t1.9.post9\ts", lines[100])
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	require.Equal(t, "postgres://postgres@/deltalog_bench?host=%2Ftmp%2Fs",
		withDatabase("postgres://postgres@/deltalog?host=%2Ftmp%2Fs", "deltalog_bench"))
	require.Equal(t, "host=/tmp dbname=deltalog_bench", withDatabase("host=/tmp", "deltalog_bench"))
}

// TestPeerDebianWorkload runs the Debian workload and Repology's on small
// real Sources fixtures laid out as the archive's indexes are: every case is
// there, the peer's figures beside deltalog's, the overlays delta with its
// floor, the replay measured, and each family audited consistent.
func TestPeerDebianWorkload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fixture := func(name string) string {
		p, err := filepath.Abs(filepath.Join("..", "..", "testdata", "formats", name))
		require.NoError(t, err)
		return p
	}
	main, overlay := fixture("bookworm-main-Sources.xz"), fixture("bookworm-updates-main-Sources.xz")
	// The updates fixture lags behind the main one (a point release): the
	// security overlay is the main index's first stanza with a newer
	// upstream version, so that the overlays are a delta.
	rc, err := formats.Open(main)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(b), "\n\n")
	first = regexp.MustCompile(`(?m)^Version: (.*)$`).ReplaceAllString(first, "Version: 99.0-1")
	require.Contains(t, first, "Version: 99.0-1")
	security := filepath.Join(t.TempDir(), "security.xz")
	f, err := os.Create(security)
	require.NoError(t, err)
	xw, err := xz.NewWriter(f)
	require.NoError(t, err)
	_, err = xw.Write([]byte(first + "\n"))
	require.NoError(t, err)
	require.NoError(t, xw.Close())
	require.NoError(t, f.Close())
	for link, target := range map[string]string{
		"debian-bookworm-main-Sources-1.xz":          main,
		"debian-bookworm-updates-main-Sources-1.xz":  overlay,
		"debian-bookworm-security-main-Sources-1.xz": security,
		"debian-trixie-main-Sources-1.xz":            main,
		"debian-trixie-updates-main-Sources-1.xz":    overlay,
		"debian-trixie-security-main-Sources-1.xz":   overlay,
		"debian-bookworm-main-Packages-amd64-1.xz":   fixture("bookworm-updates-main-Packages-amd64.xz"),
	} {
		require.NoError(t, os.Symlink(target, filepath.Join(dir, link)))
	}
	rep, err := Run(context.Background(), Config{
		URL: dbtest.NewURL(t), Gen: gen.Config{Seed: 3, Repos: 2, Packages: 300}, Reps: 2,
		Cases: []string{"nochange", "replay"}, DebianDir: dir, PeerDebian: true,
	})
	require.NoError(t, err)
	require.Equal(t, []string{"synthetic", "Debian", PeerWorkload}, auditFamilies(rep))
	for _, a := range rep.Audits {
		require.Equal(t, projections.OutcomeConsistent, a.Outcome, a.Family)
	}

	require.Len(t, rep.Workloads, 2)
	debian, peer := rep.Workloads[0], rep.Workloads[1]
	require.Equal(t, PeerWorkload, peer.Name)
	var names []string
	for _, c := range peer.Cases {
		names = append(names, c.Name)
		require.NotNil(t, c.PeerSeconds, c.Name)
		require.Positive(t, c.Seconds, c.Name)
	}
	require.Equal(t, []string{PeerInitial, PeerNoChange, PeerDelta}, names)
	require.Equal(t, CaseFull+" (bookworm)", debian.Cases[0].Name)
	require.Positive(t, debian.Cases[0].Events)
	require.Equal(t, 2*debian.Cases[0].Events, peer.Cases[0].Events, "the same Sources in each repository")
	require.Zero(t, peer.Cases[1].Events)
	delta := peer.Cases[2]
	require.Equal(t, 2, delta.Runs)
	require.Positive(t, delta.Events)
	require.NotNil(t, delta.Floor)
	require.Positive(t, delta.Floor.Changed, "%+v", delta.Floor)

	var replay *Case
	for i := range debian.Cases {
		if debian.Cases[i].Name == CaseReplay {
			replay = &debian.Cases[i]
		}
	}
	require.NotNil(t, replay)
	require.Positive(t, replay.Events)

	measured := map[string]bool{}
	for _, tg := range rep.Targets {
		measured[tg.Name] = tg.Measured != nil && tg.Met != nil
	}
	for _, name := range []string{"Repology workload, initial: peer ÷ deltalog", "Repology workload, bookworm overlays delta: peer ÷ deltalog",
		"Repology workload, no-change (both repositories)", "replay (rebuild --from changelog) on Debian"} {
		require.True(t, measured[name], name)
	}
	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	require.Contains(t, table.String(), "peer ÷ this")
	require.Contains(t, table.String(), "audit after the "+PeerWorkload+" cases: consistent")
}
