package projections_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// churn is a sequence of updates of three repositories in which projects,
// maintainers and links come, change and go (and some come back).
func churn(step int) map[string][]events.Package {
	out := map[string][]events.Package{}
	for r, repo := range []string{"r1", "r2", "r3"} {
		var pkgs []events.Package
		for i := range 24 {
			if (i+step+r)%7 == 0 {
				continue
			}
			pkg := p(fmt.Sprintf("proj%d", i), fmt.Sprintf("proj%d", i), fmt.Sprintf("1.%d", (i*step+r)%5),
				fmt.Sprintf("m%d@x", (i+step)%6), fmt.Sprintf("m%d@x", (i*r+step)%9))
			if i == r {
				// A maintainer of one step only: orphaned by the next.
				pkg.Maintainers = append(pkg.Maintainers, events.Maintainer{Email: fmt.Sprintf("step%d@x", step)})
			}
			if (i+step)%5 == 0 {
				pkg.Links = append(pkg.Links, events.Link{Kind: "vcs", URL: fmt.Sprintf("https://git.example/%d/%d", i, step%3)})
			}
			if i%3 == 0 {
				// Groups of related projects, their homepage spelt
				// differently (one normalized URL).
				pkg.Links = append(pkg.Links, events.Link{Kind: "homepage",
					URL: fmt.Sprintf("%s://www.Group%d.example/", []string{"http", "https"}[i%2], (i/3+step)%3)})
			}
			pkg.Category = []string{"", "libs", "devel", "net"}[(i+step+r)%4]
			pkg.Normalize()
			pkgs = append(pkgs, pkg)
		}
		if r == 0 {
			// A package that moves to another project at every step.
			pkgs = append(pkgs, p(fmt.Sprintf("home%d", step%2), "mover", "1", "m0@x"))
		}
		out[repo] = pkgs
	}
	return out
}

func applyChurn(t *testing.T, u *changelog.Updater, step int) {
	t.Helper()
	for _, repo := range []string{"r1", "r2", "r3"} {
		_, err := u.Update(context.Background(), updateParams(repo, churn(step)[repo]))
		require.NoError(t, err)
	}
}

// bigPool opens a pool of its own on f's database, with room for a worker,
// a rebuild and readers at once.
func bigPool(t *testing.T, f *fixture) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(f.pool.Config().ConnString())
	require.NoError(t, err)
	cfg.MaxConns = 12
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// readerLoop counts the rows of every derived table (and the view over
// them) in a loop until stopped, and reports the smallest counts seen and
// any error.
type readerLoop struct {
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	min    map[string]int64
	errs   []error
	rounds atomic.Int64
}

func startReaders(t *testing.T, pool *pgxpool.Pool) *readerLoop {
	t.Helper()
	l := &readerLoop{stop: make(chan struct{}), done: make(chan struct{}), min: map[string]int64{}}
	t.Cleanup(l.halt) // registered after the pool's: runs before it closes
	var tables []string
	for _, name := range projections.Names() {
		tables = append(tables, projections.Tables()[name]...)
	}
	tables = append(tables, "package_statuses")
	go func() {
		defer close(l.done)
		ctx := context.Background()
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			for _, tb := range tables {
				var n int64
				err := pool.QueryRow(ctx, "SELECT count(*) FROM "+tb).Scan(&n)
				l.mu.Lock()
				if err != nil {
					l.errs = append(l.errs, fmt.Errorf("%s: %w", tb, err))
				} else if m, ok := l.min[tb]; !ok || n < m {
					l.min[tb] = n
				}
				l.mu.Unlock()
			}
			l.rounds.Add(1)
		}
	}()
	return l
}

func (l *readerLoop) halt() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

// finish stops the readers and requires that they never saw an empty table
// nor an error.
func (l *readerLoop) finish(t *testing.T) {
	t.Helper()
	l.halt()
	require.Empty(t, l.errs)
	require.Positive(t, l.rounds.Load())
	for tb, n := range l.min {
		require.Positive(t, n, "a reader saw %s empty", tb)
	}
	t.Logf("readers: %d rounds over %d tables, never an empty one", l.rounds.Load(), len(l.min))
}

type identityRows struct{ maintainers, links []string }

func identities(t *testing.T, q changelog.Querier) identityRows {
	t.Helper()
	read := func(sql string) []string {
		rows, err := q.Query(context.Background(), sql)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}
	return identityRows{
		maintainers: read(`SELECT id || ' ' || email FROM maintainers ORDER BY id`),
		// With the URL columns a rebuild carries (migration 020).
		links: read(`SELECT id || ' ' || url || ' ' || normalized_url || ' ' || coalesce(https_host, '-') FROM links ORDER BY id`),
	}
}

// shape lists the public schema's indexes and constraints with their
// definitions, tables with their storage parameters and triggers, and views
// with their definitions: what a swap must keep (a rebuild from state
// creates the indexes and the constraints they back after filling its
// tables, and copies the tables' own triggers).
func shape(t *testing.T, q changelog.Querier) []string {
	t.Helper()
	rows, err := q.Query(context.Background(), `
		SELECT tablename || '.' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL
		SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE connamespace = 'public'::regnamespace
		UNION ALL
		SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
		UNION ALL
		SELECT relname || ' ' || coalesce(reloptions::text, '') FROM pg_class
		WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
		UNION ALL
		SELECT viewname || ' ' || definition FROM pg_views WHERE schemaname = 'public'
		ORDER BY 1`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// setupChurned is setupPaged with pages of pageSize events after steps of
// applyChurn, caught up.
func setupChurned(t *testing.T, pageSize, steps int) *fixture {
	t.Helper()
	f := setupPaged(t, pageSize)
	for step := range steps {
		applyChurn(t, f.updater, step)
	}
	require.NoError(t, f.runner.Run(context.Background(), false))
	return f
}

// TestRebuildMatchesIncremental is issue 4's second proof: rebuilding every
// projection, from the state and from the changelog, gives tables identical
// to the incrementally kept ones (the same content, the same maintainer and
// link ids, the same indexes), while a reader loop never sees an empty
// table; and the rebuilt tables go on being kept incrementally.
func TestRebuildMatchesIncremental(t *testing.T) {
	t.Parallel()
	f := setupChurned(t, 50, 5)
	ctx := context.Background()
	want := digest(t, f.pool)
	ids, tables := identities(t, f.pool), shape(t, f.pool)
	require.Contains(t, tables, "projects {fillfactor=85}")
	require.Contains(t, tables, "CREATE TRIGGER links_derive_urls BEFORE INSERT ON public.links FOR EACH ROW WHEN ((new.normalized_url IS NULL)) EXECUTE FUNCTION links_derive_urls()")
	require.NotEmpty(t, ids.links)
	require.Positive(t, count(t, f.pool, `SELECT count(*) FROM links WHERE https_host IS NOT NULL`), "the churn has https links")
	require.Positive(t, count(t, f.pool, `SELECT count(*) FROM maintainers WHERE orphaned`), "the churn orphans maintainers")

	pool := bigPool(t, f)
	readers := startReaders(t, pool)
	for _, from := range []string{projections.FromState, projections.FromChangelog} {
		phases := map[string]bool{}
		res, err := projections.Rebuild(ctx, pool, projections.RebuildOpts{From: from, PageSize: 40,
			ProgressFunc: func(p projections.RebuildProgress) { phases[p.Phase] = true }})
		require.NoError(t, err, from)
		require.Len(t, res, 2)
		head, err := changelog.Head(ctx, f.pool)
		require.NoError(t, err)
		for _, r := range res {
			require.Equal(t, head, r.BuiltAt, "%s from %s", r.Projection, from)
			require.Equal(t, head, r.Checkpoint)
			require.Positive(t, r.Rows)
		}
		if from == projections.FromChangelog {
			require.True(t, phases["replay"])
		} else {
			require.True(t, phases["build"])
		}
		require.True(t, phases["swap"] && phases["done"])
		require.Equal(t, want, digest(t, f.pool), "rebuilt from %s", from)
		require.Equal(t, ids, identities(t, f.pool), "ids stay what they were (from %s)", from)
		require.Equal(t, tables, shape(t, f.pool), "indexes, constraints, storage parameters, triggers and views survive the swap")
		require.Zero(t, count(t, f.pool, `SELECT count(*) FROM links
			WHERE normalized_url IS DISTINCT FROM normalize_url(url) OR https_host IS DISTINCT FROM https_host(url)`),
			"every link's URL columns are its URL's (from %s)", from)
		verifyClean(t, f.pool)
		require.Zero(t, count(t, f.pool, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'deltalog_re%'`))
	}
	readers.finish(t)

	// The swapped-in tables are kept incrementally from here: identity
	// sequences continue past the old ids, history continues.
	fresh := p("new", "new", "1", "fresh@x")
	fresh.Links = []events.Link{{Kind: "homepage", URL: "https://WWW.Fresh.example/new.git"}}
	f.update(t, "r1", version.SchemeGeneric, []events.Package{fresh})
	require.NoError(t, f.runner.Run(ctx, false))
	verifyClean(t, f.pool)
	var normalized, host string
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT normalized_url, https_host FROM links WHERE url = 'https://WWW.Fresh.example/new.git'`).
		Scan(&normalized, &host))
	require.Equal(t, "fresh.example/new", normalized, "the swapped-in links derive a new link's URL columns")
	require.Equal(t, "www.fresh.example", host)
	var maxOld, freshID int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT max(id) FILTER (WHERE email <> 'fresh@x'), max(id) FILTER (WHERE email = 'fresh@x') FROM maintainers`).
		Scan(&maxOld, &freshID))
	require.Greater(t, freshID, maxOld)
	require.Equal(t, projections.OutcomeConsistent, audit(t, f, projections.AuditOpts{ReplayHistory: true}).Outcome)
}

// TestRebuildWhileWorkerAndUpdatesRun: the worker keeps running and an
// update commits while the rebuild builds; the rebuild catches up with the
// worker's checkpoint before swapping, and the result equals a database
// that never rebuilt.
func TestRebuildWhileWorkerAndUpdatesRun(t *testing.T) {
	t.Parallel()
	for _, from := range []string{projections.FromState, projections.FromChangelog} {
		t.Run(from, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f, ref := setupPaged(t, 30), setupPaged(t, 30)
			for step := range 3 {
				applyChurn(t, f.updater, step)
				applyChurn(t, ref.updater, step)
			}
			// The worker runs on a pool of its own from the start: Runner.Run
			// leaves its session locks on the connection it hands back to
			// its pool, so a second runner on f.pool's database after
			// f.runner would find the projections busy.
			pool := bigPool(t, f)
			cat, err := projections.NewCatalog(projections.CatalogConfig{})
			require.NoError(t, err)
			worker, err := projections.NewRunner(projections.Config{DB: pool, PageSize: 30,
				Projections: []projections.Projection{cat, projections.History{}}})
			require.NoError(t, err)
			wctx, stop := context.WithCancel(ctx)
			workerDone := make(chan error, 1)
			go func() { workerDone <- worker.Run(wctx, true) }()
			t.Cleanup(func() { stop(); <-workerDone })
			waitCaughtUp(t, f)
			readers := startReaders(t, pool)

			updated := map[string]bool{}
			step := 3
			res, err := projections.Rebuild(ctx, pool, projections.RebuildOpts{From: from, PageSize: 25,
				ProgressFunc: func(p projections.RebuildProgress) {
					if updated[p.Projection] || (p.Phase != "build" && p.Phase != "replay") {
						return
					}
					// Mid-build: a new update, applied by the live worker.
					updated[p.Projection] = true
					applyChurn(t, f.updater, step)
					step++
					waitCaughtUp(t, f)
				}})
			require.NoError(t, err)
			require.Len(t, updated, 2)
			for _, r := range res {
				require.Positive(t, r.CaughtUp, "%s caught up with the worker before swapping", r.Projection)
			}
			applyChurn(t, f.updater, step)
			waitCaughtUp(t, f)
			readers.finish(t)

			for s := 3; s <= step; s++ {
				applyChurn(t, ref.updater, s)
			}
			require.NoError(t, ref.runner.Run(ctx, false))
			require.Equal(t, digest(t, ref.pool), digest(t, f.pool))
			verifyClean(t, f.pool)
		})
	}
}

func waitCaughtUp(t *testing.T, f *fixture) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sts, err := projections.ReadStatus(context.Background(), f.pool)
		require.NoError(t, err)
		lag := int64(0)
		for _, s := range sts {
			lag += s.Lag
		}
		if lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			rows, _ := f.pool.Query(context.Background(), `SELECT coalesce(wait_event_type,'') || ' ' || coalesce(wait_event,'') || ' ' || state || ' ' || left(query, 120) FROM pg_stat_activity WHERE datname = current_database()`)
			act, _ := pgx.CollectRows(rows, pgx.RowTo[string])
			for _, a := range act {
				t.Log(a)
			}
		}
		require.True(t, time.Now().Before(deadline), "the worker did not catch up: %+v", sts)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRebuildInterrupted: a rebuild cancelled midway leaves the live tables
// as they were and can be run again; a second rebuild of the same
// projection at the same time is refused.
func TestRebuildInterrupted(t *testing.T) {
	t.Parallel()
	f := setupChurned(t, 50, 3)
	ctx := context.Background()
	want := digest(t, f.pool)
	pool := bigPool(t, f)

	cctx, cancel := context.WithCancel(ctx)
	pages := 0
	_, err := projections.Rebuild(cctx, pool, projections.RebuildOpts{From: projections.FromChangelog, PageSize: 5,
		ProgressFunc: func(p projections.RebuildProgress) {
			if p.Phase == "replay" {
				if pages++; pages == 3 {
					cancel()
				}
			}
		}})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, want, digest(t, f.pool))
	require.Zero(t, count(t, f.pool, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'deltalog_re%'`))

	// While one rebuild holds the projection, another is refused.
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT pg_advisory_lock(1684368502, hashtext('history'))`)
	require.NoError(t, err)
	_, err = projections.Rebuild(ctx, pool, projections.RebuildOpts{Projections: []string{projections.HistoryName}})
	require.ErrorIs(t, err, projections.ErrRebuildBusy)
	_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock(1684368502, hashtext('history'))`)
	require.NoError(t, err)
	conn.Release()

	_, err = projections.Rebuild(ctx, pool, projections.RebuildOpts{From: projections.FromChangelog})
	require.NoError(t, err)
	require.Equal(t, want, digest(t, f.pool))
}

// TestRebuildHistoryFromStateWhileItLags: history rebuilt from the state
// while its worker is behind: the versions are moved back to its checkpoint,
// the worker catches up on the new tables, and the result equals a database
// that never rebuilt.
func TestRebuildHistoryFromStateWhileItLags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, ref := setupPaged(t, 50), setupPaged(t, 50)
	for _, x := range []*fixture{f, ref} {
		applyChurn(t, x.updater, 0)
		applyChurn(t, x.updater, 1)
	}
	require.NoError(t, f.runner.Run(ctx, false))
	applyChurn(t, f.updater, 2)
	applyChurn(t, ref.updater, 2)
	cat, err := projections.NewCatalog(projections.CatalogConfig{})
	require.NoError(t, err)
	catalogOnly, err := projections.NewRunner(projections.Config{DB: f.pool, Projections: []projections.Projection{cat}})
	require.NoError(t, err)
	require.NoError(t, catalogOnly.Run(ctx, false))

	cps := checkpoints(t, f)
	head, err := changelog.Head(ctx, f.pool)
	require.NoError(t, err)
	require.Less(t, cps[projections.HistoryName], head)
	res, err := projections.Rebuild(ctx, bigPool(t, f), projections.RebuildOpts{Projections: []string{projections.HistoryName}})
	require.NoError(t, err)
	require.Equal(t, cps[projections.HistoryName], res[0].BuiltAt)
	require.Equal(t, cps[projections.HistoryName], res[0].Checkpoint)

	require.NoError(t, f.runner.Run(ctx, false))
	require.NoError(t, ref.runner.Run(ctx, false))
	require.Equal(t, digest(t, ref.pool), digest(t, f.pool))
}

// TestCatchUpByRebuildKeepsEveryIdentity: a catalog far behind catches up
// by a rebuild from state; the emails and URLs the changelog added and
// removed again while it lagged get their identity rows too, as applying
// the pages would have given them — the audit finds every identity.
func TestCatchUpByRebuildKeepsEveryIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupPaged(t, 50)
	for step := range 4 { // step%3 links and per-step maintainers come and go
		applyChurn(t, f.updater, step)
	}
	res, err := projections.Rebuild(ctx, bigPool(t, f), projections.RebuildOpts{Projections: []string{projections.CatalogName}})
	require.NoError(t, err)
	require.Positive(t, res[0].Checkpoint)
	var orphans int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM maintainers WHERE orphaned`).Scan(&orphans))
	require.Positive(t, orphans, "the maintainers of earlier steps only, born orphaned")
	rep := audit(t, f, projections.AuditOpts{Projections: []string{projections.CatalogName}})
	require.Equal(t, projections.OutcomeConsistent, rep.Outcome, "%+v", rep.Failed())
}

func checkpoints(t *testing.T, f *fixture) map[string]int64 {
	t.Helper()
	sts, err := projections.ReadStatus(context.Background(), f.pool)
	require.NoError(t, err)
	out := map[string]int64{}
	for _, s := range sts {
		out[s.Name] = s.Checkpoint
	}
	return out
}

// TestRebuildWritesNoLiveTable is the dynamic half of the proof that the
// tables a rebuild writes are named explicitly (TestQueriesNameTheirTables
// is the static one): row triggers on every live table record each write
// with the application_name of its session, and a rebuild from state and
// one from the changelog — each with a page to catch up, which the live
// worker applies mid-build — write none of them before their swap (the
// swap moves the live tables, with their triggers, out).
func TestRebuildWritesNoLiveTable(t *testing.T) {
	t.Parallel()
	f := setupChurned(t, 40, 3)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(f.pool.Config().ConnString())
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["application_name"] = "rebuild"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = f.pool.Exec(ctx, `CREATE TABLE live_writes (tbl text, op text, app text);
CREATE FUNCTION log_live_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_writes VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP, current_setting('application_name'));
    RETURN NULL;
END $$`)
	require.NoError(t, err)

	step := 3
	for _, from := range []string{projections.FromState, projections.FromChangelog} {
		for _, name := range projections.Names() {
			for _, tb := range projections.Tables()[name] {
				_, err := f.pool.Exec(ctx, fmt.Sprintf(`CREATE TRIGGER log_writes AFTER INSERT OR UPDATE OR DELETE ON public.%s
FOR EACH ROW EXECUTE FUNCTION log_live_write()`, tb))
				require.NoError(t, err)
			}
		}
		updated := map[string]bool{}
		res, err := projections.Rebuild(ctx, pool, projections.RebuildOpts{From: from, PageSize: 30,
			ProgressFunc: func(p projections.RebuildProgress) {
				if updated[p.Projection] || (p.Phase != "build" && p.Phase != "replay") {
					return
				}
				updated[p.Projection] = true
				applyChurn(t, f.updater, step)
				step++
				require.NoError(t, f.runner.Run(ctx, false))
			}})
		require.NoError(t, err, from)
		for _, r := range res {
			require.Positive(t, r.CaughtUp, "%s from %s caught up", r.Projection, from)
		}
		require.Zero(t, count(t, f.pool, `SELECT count(*) FROM live_writes WHERE app = 'rebuild'`),
			"the rebuild from %s wrote live tables", from)
		require.Positive(t, count(t, f.pool, `SELECT count(*) FROM live_writes WHERE app <> 'rebuild'`),
			"the triggers saw the worker's writes")
		require.Zero(t, count(t, f.pool, `SELECT count(*) FROM pg_trigger WHERE tgname = 'log_writes'`),
			"the swapped-in tables are new ones")
		verifyClean(t, f.pool)
	}
}
