package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/input/version"
	dlsql "github.com/deltalog/deltalog/sql"
)

// ErrRebuildBusy is returned when another rebuild of the projection runs.
var ErrRebuildBusy = errors.New("projection is already being rebuilt")

// Where a rebuild starts from.
const (
	// FromState computes the tables with the full-rebuild queries (the
	// definitions the delta path and the audit use) over the current state.
	FromState = "state"
	// FromChangelog replays every event from seq 1 through the projection
	// itself.
	FromChangelog = "changelog"
)

// RebuildOpts configures Rebuild.
type RebuildOpts struct {
	// Projections to rebuild, in order (all when empty).
	Projections []string
	// From is FromState (default) or FromChangelog.
	From string
	// PageSize bounds the pages of replays and catch-ups (default 10000).
	PageSize int
	// LockTimeout bounds each wait of the swap for its locks (the
	// checkpoint row, the live tables); on a timeout the rebuild catches up
	// again and retries. Default 2s.
	LockTimeout time.Duration
	// ProgressFunc, when set, is called as the rebuild advances.
	ProgressFunc func(RebuildProgress)
	Logger       *slog.Logger
}

// RebuildProgress is where a rebuild is.
type RebuildProgress struct {
	Projection string `json:"projection"`
	// Phase is "prepare", "build" (from state: tables), "replay" (from the
	// changelog: events), "catch-up" (events), "swap" or "done".
	Phase string `json:"phase"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
}

// RebuildResult describes one projection's rebuild.
type RebuildResult struct {
	Projection string   `json:"projection"`
	From       string   `json:"from"`
	Tables     []string `json:"tables"`
	// Rows in the new tables.
	Rows int64 `json:"rows"`
	// BuiltAt is the seq the rebuild saw: its snapshot's head (for history
	// from state, the history checkpoint in that snapshot).
	BuiltAt int64 `json:"built_at"`
	// CaughtUp counts the events applied to the new tables after BuiltAt,
	// to reach the live checkpoint before the swap.
	CaughtUp int64 `json:"caught_up"`
	// Checkpoint is the projection's checkpoint after the swap.
	Checkpoint int64 `json:"checkpoint"`
	// SwapAttempts counts the swap transactions (lock timeouts retry), and
	// SwapSeconds is how long the successful one held the live tables.
	SwapAttempts int     `json:"swap_attempts"`
	SwapSeconds  float64 `json:"swap_seconds"`
	Seconds      float64 `json:"seconds"`
}

func (o *RebuildOpts) defaults() error {
	o.From = cmp.Or(o.From, FromState)
	if o.From != FromState && o.From != FromChangelog {
		return fmt.Errorf("rebuild: from %q: want %s or %s", o.From, FromState, FromChangelog)
	}
	if o.PageSize <= 0 {
		o.PageSize = 10000
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if len(o.Projections) == 0 {
		o.Projections = Names()
	}
	for _, name := range o.Projections {
		if !slices.Contains(Names(), name) {
			return fmt.Errorf("rebuild: unknown projection %q (known: %v)", name, Names())
		}
		if len(shadowTables(name)) != len(Tables()[name]) {
			return fmt.Errorf("rebuild: projection %s: its tables are not all described for rebuilds", name)
		}
	}
	return nil
}

// Rebuild rebuilds the named projections' tables, one projection after the
// other, while the live tables keep serving reads and the workers keep
// applying pages:
//
//  1. The new tables are built in a schema of their own
//     (deltalog_rebuild_<projection>), as copies of the live ones' structure
//     (columns, defaults, identities, constraints, indexes under the same
//     names). From state, the full-rebuild queries fill them from one
//     REPEATABLE READ snapshot, at its head; from the changelog, the
//     projection itself applies every event from seq 1 to that head, page
//     by page, writing the shadow tables (its schema is the shadow one).
//  2. The new tables catch up with the live checkpoint, page by page, the
//     same way.
//  3. One short transaction locks the checkpoint row (the worker waits),
//     applies what is left (at most a page), checks that the identity rows
//     agree with the live ones, aligns the identity sequences, takes the
//     live tables (waiting at most LockTimeout for readers, else rolling
//     back and retrying), moves them out and the new ones in, re-creates
//     the views that read them and sets the checkpoint to the seq the new
//     tables hold. The worker then goes on from there. The old tables are
//     dropped after the commit.
//
// Readers see the old tables until the swap commits and the new ones after:
// never an empty or half-built table. (As with any table swap, and with
// TRUNCATE, a REPEATABLE READ transaction whose snapshot predates the swap
// and that first reads a swapped table after it sees the new table as of
// its old snapshot; statements and READ COMMITTED transactions are not
// affected, and a transaction that read the table before holds the swap
// off until it ends.) Maintainer and link ids are kept: the
// new tables start from the live identity rows, and any email or URL the
// rebuild meets without one gets it in the live table first (born orphaned,
// exactly as the worker's own id resolution creates it) — so a running
// worker's id caches stay right. An interrupted rebuild leaves the live
// tables as they were (but for such identity rows) and drops its schema (a
// killed one leaves it to the next rebuild, which drops it); it can simply
// be run again.
func Rebuild(ctx context.Context, pool *pgxpool.Pool, opts RebuildOpts) ([]RebuildResult, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	var out []RebuildResult
	for _, name := range opts.Projections {
		res, err := rebuildOne(ctx, pool, name, opts)
		if err != nil {
			return out, fmt.Errorf("rebuild %s from %s: %w", name, opts.From, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// shadowTables lists the tables a projection's rebuild replaces, in
// derivation order.
func shadowTables(name string) []table {
	switch name {
	case CatalogName:
		return slices.Concat(catalogLevel1, catalogLevel2, catalogTotals)
	case HistoryName:
		return []table{historyVersions, projectHistory, projectRedirects}
	}
	return nil
}

type rebuilder struct {
	pool    *pgxpool.Pool
	name    string
	opts    RebuildOpts
	schema  string // the shadow schema (deltalog_rebuild_<projection>)
	tables  []table
	proj    Projection // applies pages to the shadow tables
	seq     int64      // the shadow tables hold the events up to here
	res     RebuildResult
	catalog bool
	// lockedAt is when the swap took the live tables.
	lockedAt time.Time
	// identitiesAt is the head at which rebuild-identities made the
	// catalog's identity rows complete.
	identitiesAt int64
}

func (b *rebuilder) progress(phase string, done, total int64) {
	if b.opts.ProgressFunc != nil {
		b.opts.ProgressFunc(RebuildProgress{Projection: b.name, Phase: phase, Done: done, Total: total})
	}
}

// q renders a rebuild query for the shadow schema.
func (b *rebuilder) q(name string) string { return dlsql.Render(name, dlsql.Schemas{Schema: b.schema}) }

func rebuildOne(ctx context.Context, pool *pgxpool.Pool, name string, opts RebuildOpts) (RebuildResult, error) {
	start := time.Now()
	b := &rebuilder{pool: pool, name: name, opts: opts, schema: "deltalog_rebuild_" + name,
		tables: shadowTables(name), catalog: name == CatalogName}
	b.res = RebuildResult{Projection: name, From: opts.From}
	for _, tb := range b.tables {
		b.res.Tables = append(b.res.Tables, tb.name)
	}
	if b.catalog {
		cat, err := NewCatalog(CatalogConfig{})
		if err != nil {
			return b.res, err
		}
		cat.schema = b.schema
		b.proj = cat
	} else {
		b.proj = History{schema: b.schema}
	}

	// One rebuild of a projection at a time: a session lock on a connection
	// held for the whole rebuild.
	lock, err := pool.Acquire(ctx)
	if err != nil {
		return b.res, err
	}
	defer lock.Release()
	var ok bool
	if err := lock.QueryRow(ctx, dlsql.Query("rebuild-try-lock"), name).Scan(&ok); err != nil {
		return b.res, err
	}
	if !ok {
		return b.res, ErrRebuildBusy
	}
	defer lock.Exec(context.WithoutCancel(ctx), dlsql.Query("rebuild-unlock"), name) //nolint:errcheck // the session ends with the pool anyway

	swapped := false
	defer func() {
		if !swapped { // interrupted or failed: leave no shadow behind
			_, _ = pool.Exec(context.WithoutCancel(ctx), dropShadowSQL(b.schema))
		}
	}()
	b.progress("prepare", 0, 0)
	if err := b.dropRetired(ctx); err != nil { // left by a swap whose drop failed
		return b.res, fmt.Errorf("dropping old tables: %w", err)
	}
	if err := b.createShadow(ctx, opts.From != FromState); err != nil {
		return b.res, fmt.Errorf("creating the new tables: %w", err)
	}
	if opts.From == FromState {
		err = b.buildFromState(ctx)
	} else {
		err = b.buildFromChangelog(ctx)
	}
	if err != nil {
		return b.res, err
	}
	b.res.BuiltAt = b.seq
	if err := b.syncSequences(ctx, pool); err != nil {
		return b.res, err
	}
	if err := b.swap(ctx); err != nil {
		return b.res, err
	}
	swapped = true
	b.res.Seconds = time.Since(start).Seconds()
	b.progress("done", 1, 1)
	opts.Logger.InfoContext(ctx, "rebuilt", "projection", name, "from", opts.From, "built_at", b.res.BuiltAt,
		"caught_up", b.res.CaughtUp, "checkpoint", b.res.Checkpoint, "seconds", b.res.Seconds)
	return b.res, nil
}

// buildFromState fills the shadow tables from one snapshot of the current
// state with the full-rebuild queries.
func (b *rebuilder) buildFromState(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		if b.catalog {
			// Identity rows for every email and URL of the current
			// packages, and of every package the changelog ever added
			// (one a catalog far behind never saw, added and removed
			// again since its checkpoint, has one as any other: the
			// identities' one definition, audit-identities), committed
			// before the snapshot is taken.
			if err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, dlsql.Query("rebuild-settings")); err != nil {
					return err
				}
				var created int64
				return tx.QueryRow(ctx, dlsql.Query("rebuild-identities")).Scan(&created, &b.identitiesAt)
			}); err != nil {
				return fmt.Errorf("identities: %w", err)
			}
		}
		err := b.buildStateSnapshot(ctx)
		if errors.Is(err, errIdentitiesMoved) && attempt < 10 {
			continue // a package with a new email arrived in between
		}
		return err
	}
}

var errIdentitiesMoved = errors.New("new emails or URLs arrived during the rebuild")

func (b *rebuilder) buildStateSnapshot(ctx context.Context) error {
	tx, err := b.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, auditWorkMem+";\n"+dlsql.Query("rebuild-settings")); err != nil {
		return err
	}
	head, err := changelog.Head(ctx, tx)
	if err != nil {
		return err
	}
	if b.catalog && head != b.identitiesAt {
		// An update committed since the identity rows were made: look for
		// the emails and URLs it brought (the current state only changes
		// with the head, in one transaction; at the same head nothing can
		// be missing).
		var missing int64
		if err := tx.QueryRow(ctx, dlsql.Query("rebuild-identities-missing")).Scan(&missing); err != nil {
			return err
		}
		if missing > 0 {
			return errIdentitiesMoved
		}
	}

	b.seq = head
	total := int64(len(b.tables))
	b.progress("build", 0, total)
	if _, err := recompute(ctx, tx, b.name); err != nil {
		return err
	}
	for i, tb := range b.tables {
		if tb.name == projectHistory.name {
			// Not derivable from the state: the live entries are kept.
			if _, err := tx.Exec(ctx, b.q("rebuild-copy-history")); err != nil {
				return fmt.Errorf("project_history: %w", err)
			}
		} else if tb.name == projectRedirects.name {
			if _, err := tx.Exec(ctx, b.q("rebuild-copy-redirects")); err != nil {
				return fmt.Errorf("project_redirects: %w", err)
			}
		} else if err := b.fill(ctx, tx, tb); err != nil {
			return err
		}
		b.progress("build", int64(i+1), total)
	}
	if err := b.createIndexes(ctx, tx); err != nil {
		return fmt.Errorf("indexes: %w", err)
	}
	if !b.catalog {
		// The entries kept end at the history checkpoint: move the
		// versions, computed at the head, back to it.
		cps, err := readCheckpoints(ctx, tx)
		if err != nil {
			return err
		}
		if cp := cps[HistoryName]; cp < head {
			if err := b.unapplyHistory(ctx, tx, cp, head); err != nil {
				return err
			}
			b.seq = cp
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	return b.analyze(ctx)
}

// unapplyHistory moves the shadow history_versions from the versions at seq
// to back to those at seq from, by the events in between.
func (b *rebuilder) unapplyHistory(ctx context.Context, tx pgx.Tx, from, to int64) error {
	type key struct {
		project string
		repo    int32
		version string
	}
	delta := map[key]int32{}
	keys := map[key][]byte{}
	for at := from; at < to; {
		page, err := readPage(ctx, tx, at, min(to, at+int64(b.opts.PageSize)))
		if err != nil {
			return err
		}
		for _, ev := range page.Events {
			r := page.Repos[ev.Repo]
			for _, p := range ev.Removed {
				k := key{ev.Project, r.ID, p.Version}
				delta[k]++
				keys[k] = version.SchemeKey(r.Scheme, p.Version)
			}
			for _, p := range ev.Added {
				k := key{ev.Project, r.ID, p.Version}
				delta[k]--
				keys[k] = version.SchemeKey(r.Scheme, p.Version)
			}
		}
		at = page.Next
	}
	var projects, versions []string
	var repos, counts []int32
	var vkeys [][]byte
	for k, d := range delta {
		if d != 0 {
			projects, repos, versions = append(projects, k.project), append(repos, k.repo), append(versions, k.version)
			vkeys, counts = append(vkeys, keys[k]), append(counts, d)
		}
	}
	if _, err := tx.Exec(ctx, b.q("rebuild-history-unapply"), projects, repos, versions, vkeys, counts); err != nil {
		return fmt.Errorf("history versions: %w", err)
	}
	_, err := tx.Exec(ctx, b.q("rebuild-history-prune"))
	return err
}

// buildFromChangelog replays every event up to the head through the
// projection, into the shadow tables.
func (b *rebuilder) buildFromChangelog(ctx context.Context) error {
	head, err := changelog.Head(ctx, b.pool)
	if err != nil {
		return err
	}
	if b.catalog {
		if err := createIdentities(ctx, b.pool, head); err != nil {
			return fmt.Errorf("identities: %w", err)
		}
		if _, err := b.pool.Exec(ctx, b.q("rebuild-seed-identities")+";\n"+b.q("rebuild-statistics-row")); err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
	}
	for b.seq < head {
		to := min(head, b.seq+int64(b.opts.PageSize))
		if err := b.applyPage(ctx, to); err != nil {
			return err
		}
		b.progress("replay", b.seq, head)
	}
	return b.carryTimestamps(ctx)
}

// applyPage applies the events after the shadow's seq up to to to the
// shadow tables, in a transaction of its own.
func (b *rebuilder) applyPage(ctx context.Context, to int64) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	// A page of the projection's own delta path, as the runner applies it.
	if _, err := tx.Exec(ctx, dlsql.Query("tx-delta-settings")); err != nil {
		return err
	}
	n, committed, err := b.applyIn(ctx, tx, to)
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if committed != nil {
		committed()
	}
	if n >= rebuildAnalyzeEvents {
		return b.analyze(ctx)
	}
	return nil
}

// applyIn applies (b.seq, to] to the shadow tables in tx: the projection's
// own code, its tables in the shadow schema (b.proj's schema).
func (b *rebuilder) applyIn(ctx context.Context, tx pgx.Tx, to int64) (int, func(), error) {
	if b.catalog {
		// Identity rows the live worker created since: the shadow must find
		// them, never create others.
		if _, err := tx.Exec(ctx, b.q("rebuild-seed-identities")); err != nil {
			return 0, nil, err
		}
	}
	page, err := readPage(ctx, tx, b.seq, to)
	if err != nil {
		return 0, nil, err
	}
	committed, err := b.proj.Apply(withLogger(ctx, b.opts.Logger), tx, page)
	if err != nil {
		return 0, nil, fmt.Errorf("page (%d, %d]: %w", b.seq, to, err)
	}
	b.seq = to
	return len(page.Events), committed, nil
}

// rebuildAnalyzeEvents is the catch-up page size (in events) from which a
// rebuild refreshes the statistics of the tables it builds.
const rebuildAnalyzeEvents = 5000

// swap catches the shadow tables up with the live checkpoint and swaps them
// in, retrying when its locks are not granted in time.
func (b *rebuilder) swap(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		if err := b.catchUp(ctx); err != nil {
			return err
		}
		b.progress("swap", int64(attempt), 0)
		b.res.SwapAttempts = attempt
		err := b.trySwap(ctx)
		var pgErr *pgconn.PgError
		// 55P03: a lock not granted in time; 40P01: a deadlock (not expected,
		// see swapIn); both leave the live tables as they were.
		retry := errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "40P01") || errors.Is(err, errPageLeft)
		if !retry || attempt == 100 {
			return err
		}
		b.opts.Logger.InfoContext(ctx, "swap retried", "projection", b.name, "attempt", attempt, "reason", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(min(attempt, 10)) * 100 * time.Millisecond):
		}
	}
}

// catchUp applies pages to the shadow tables until they reach the live
// checkpoint.
func (b *rebuilder) catchUp(ctx context.Context) error {
	for {
		cp, err := checkpoint(ctx, b.pool, b.name)
		if err != nil {
			return err
		}
		if cp <= b.seq {
			return nil
		}
		from := b.seq
		if err := b.applyPage(ctx, min(cp, b.seq+int64(b.opts.PageSize))); err != nil {
			return fmt.Errorf("catching up: %w", err)
		}
		b.res.CaughtUp += b.seq - from
		b.progress("catch-up", b.seq, cp)
	}
}

var errPageLeft = errors.New("more than a page to catch up under the lock")

func (b *rebuilder) trySwap(ctx context.Context) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", b.opts.LockTimeout.Milliseconds())); err != nil {
		return err
	}
	// The checkpoint row: from here the worker waits.
	cp, err := lockCheckpoint(ctx, tx, b.name)
	if err != nil {
		return err
	}
	if cp-b.seq > int64(b.opts.PageSize) {
		return errPageLeft
	}
	views, err := b.dependentViews(ctx, tx)
	if err != nil {
		return err
	}
	seqBefore := b.seq
	var committed func()
	if cp > b.seq {
		if _, committed, err = b.applyIn(ctx, tx, cp); err != nil {
			b.seq = seqBefore
			return err
		}
	}
	restore := func() { b.seq = seqBefore } // the page is undone with a rolled back swap
	if b.catalog {
		var conflicts int64
		if err := tx.QueryRow(ctx, b.q("rebuild-identity-conflicts")).Scan(&conflicts); err != nil {
			restore()
			return err
		}
		if conflicts > 0 {
			restore()
			return fmt.Errorf("%d identity rows of the new tables disagree with the live ones; not swapping", conflicts)
		}
	}
	if err := b.swapIn(ctx, tx, views); err != nil {
		restore()
		return err
	}
	newCP := max(cp, b.seq)
	if err := setCheckpoint(ctx, tx, b.name, newCP); err != nil {
		restore()
		return err
	}
	if b.catalog {
		if err := snapshotAt(ctx, tx, newCP); err != nil { // see Catalog.snapshot
			restore()
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		restore()
		return err
	}
	b.res.SwapSeconds = time.Since(b.lockedAt).Seconds()
	if committed != nil {
		committed()
	}
	if err := b.dropRetired(ctx); err != nil {
		// The swap is done; what is left is found and dropped by the next
		// rebuild of the projection.
		b.opts.Logger.WarnContext(ctx, "dropping the old tables", "projection", b.name, "error", err)
	}
	b.res.CaughtUp += b.seq - seqBefore
	b.res.Checkpoint = newCP
	return nil
}
