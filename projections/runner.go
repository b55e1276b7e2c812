package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/pg/autoanalyze"
	"github.com/deltalog/deltalog/internal/pg/database"
	dlsql "github.com/deltalog/deltalog/sql"
)

// ErrFailed is returned by Run when a projection stopped on a page it could
// not apply (see projection_dead_letters and Status).
var ErrFailed = errors.New("projection failed")

// ErrBusy is returned when another worker already runs a projection.
var ErrBusy = errors.New("projection is already being run by another worker")

// Config configures a Runner.
type Config struct {
	DB          *pgxpool.Pool
	Projections []Projection
	// PageSize is the most events one page (one transaction) applies.
	// Default 10000.
	PageSize int
	// MaxRetries is how often a failing page is retried, with exponential
	// backoff from RetryInterval, before the projection stops. Default 5.
	MaxRetries    int
	RetryInterval time.Duration
	// RebuildLag is the lag (in events) above which a projection derived
	// from the current state alone (the catalog) catches up by a rebuild
	// from state (see Rebuild) instead of page by page: a fresh catalog, or
	// a worker that was down for long, is rebuilt in the time of one full
	// recomputation rather than replayed. Zero (the default) means
	// automatic: a lag over a fifth of the catalog's packagesets and over
	// 10000 events (a page costs about seven times more per event than a
	// recomputation per packageset). Negative: never.
	RebuildLag int64
	// LockWait is how long a run that lost its database waits, once the
	// database is back, for a projection's lock held by another session
	// before it gives up with ErrBusy: the server may not have ended the
	// run's own old session yet. The first session of a run never waits
	// (another worker runs). Default 10s.
	LockWait time.Duration
	// PageFunc, when set, is called after each page commits with what it
	// did: the rows re-derived and changed per derived table (the delta
	// path's amplification).
	PageFunc func(PageStats)
	Logger   *slog.Logger
}

// stateDerived is implemented by projections whose tables are a function
// of the current state alone, which a rebuild from state reproduces.
type stateDerived interface {
	DerivedFromState() bool
}

func (c *Config) validate() error {
	if c.PageSize == 0 {
		c.PageSize = 10000
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 5
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = 100 * time.Millisecond
	}
	if c.LockWait == 0 {
		c.LockWait = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("DB is required"))
	}
	if len(c.Projections) == 0 {
		errs = append(errs, errors.New("no projections"))
	}
	if c.PageSize < 0 || c.MaxRetries < 0 {
		errs = append(errs, errors.New("PageSize and MaxRetries must not be negative"))
	}
	seen := map[string]bool{}
	for _, p := range c.Projections {
		if seen[p.Name()] {
			errs = append(errs, fmt.Errorf("projection %s listed twice", p.Name()))
		}
		seen[p.Name()] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	return nil
}

// Runner applies changelog pages to projections. Each projection has its
// own handler on a watermill router, fed by a dispatcher that publishes the
// next page (a seq range) after the projection's checkpoint; the handler
// applies it in one transaction with the checkpoint, after checking that
// the run's session still holds the projection's lock. A page that keeps
// failing after the retries goes to projection_dead_letters and stops that
// projection there — it never skips ahead. A lost database is not a
// failing page: the run waits for the database and starts a new session.
type Runner struct {
	cfg Config
	// stats keeps each projection's tables' planner statistics in step
	// with the pages applied (by name).
	stats map[string]*autoanalyze.Analyzer
}

// NewRunner validates cfg and returns a Runner.
func NewRunner(cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, stats: map[string]*autoanalyze.Analyzer{}}
	for _, p := range cfg.Projections {
		r.stats[p.Name()] = autoanalyze.New(Tables()[p.Name()]...)
	}
	return r, nil
}

// pageMsg is the payload of a page message.
type pageMsg struct {
	After int64 `json:"after"`
	To    int64 `json:"to"`
}

// lockCheck is how often a run checks that the session holding its locks
// is still there, so that a worker that lost them to a server restart
// while idle takes them again at once.
const lockCheck = 2 * time.Second

// errLockLost says that the session holding the run's locks ended: the run
// starts a new one, which takes the locks again before applying anything.
var errLockLost = fmt.Errorf("the worker's locks were lost with their session: %w", database.ErrUnreachable)

// Run applies pages until every projection has caught up with the head
// (follow false), or until ctx is done (follow true, waking on changelog
// notifications). It returns ErrFailed if a projection stopped on a failing
// page, and ErrBusy if another worker runs one of them.
//
// When the database cannot be reached, Run logs "waiting for the database"
// and waits, with capped exponential backoff, for as long as it takes;
// then it starts a new session — the projections' locks taken again before
// anything is applied — and resumes from the checkpoints. A session never
// goes on without one of its projections: a dispatcher that stops ends the
// session, and with follow the run, with its error (except a lost
// database, after which the session starts again).
func (r *Runner) Run(ctx context.Context, follow bool) error {
	b := &database.Backoff{Who: "projection worker", Logger: r.cfg.Logger}
	resumed := false
	return database.Retry(ctx, b, func(ctx context.Context) error {
		err := r.session(ctx, follow, resumed, b)
		resumed = true
		return err
	})
}

// session is one run on one set of database sessions: from taking the
// locks to an error, the end of the work, or ctx's.
func (r *Runner) session(ctx context.Context, follow, resumed bool, b *database.Backoff) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := r.cfg.Logger
	wlog := watermill.NewSlogLogger(log)

	lock, err := r.lock(sctx, resumed)
	if err != nil {
		return err
	}
	defer unlock(sctx, lock)
	b.Reset(sctx)
	holder := lock.Conn().PgConn().PID()
	// The lock's session is the watch's alone from now on.
	lost := make(chan error, 1)
	watched := make(chan struct{})
	defer func() {
		cancel()
		<-watched // before unlock, which uses the session again
	}()
	go func() {
		defer close(watched)
		watchLock(sctx, lock, lost)
		cancel()
	}()

	pubsub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, wlog)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: time.Minute}, wlog)
	if err != nil {
		return err
	}
	router.AddMiddleware(middleware.Recoverer)
	results := &resultBox{m: map[string]error{}}
	for _, p := range r.cfg.Projections {
		h := router.AddConsumerHandler(p.Name(), topic(p), pubsub, r.handler(p, holder))
		h.AddMiddleware(
			r.deadLetter(p, results),
			middleware.Retry{
				MaxRetries: r.cfg.MaxRetries, InitialInterval: r.cfg.RetryInterval,
				MaxInterval: 10 * r.cfg.RetryInterval, Multiplier: 2, Logger: wlog,
				// A lost session is not retried page by page: the run
				// waits for the database and starts a new session.
				ShouldRetry: func(p middleware.RetryParams) bool { return !database.Unreachable(p.Err) },
			}.Middleware,
		)
	}
	routerDone := make(chan error, 1)
	go func() { routerDone <- router.Run(sctx) }()
	select {
	case <-router.Running():
	case err := <-routerDone:
		return err
	}

	var watcher *changelog.Watcher
	if follow {
		if watcher, err = changelog.NewWatcher(sctx, changelog.WatcherConfig{DB: r.cfg.DB, Logger: log}); err != nil {
			cancel()
			_ = router.Close()
			return err
		}
		defer watcher.Close()
	}

	var wg sync.WaitGroup
	failed := make(chan error, len(r.cfg.Projections))
	for _, p := range r.cfg.Projections {
		wg.Go(func() {
			err := r.dispatch(sctx, p, pubsub, watcher, results)
			if err == nil || sctx.Err() != nil {
				return
			}
			// Without follow, the other projections may go on past one
			// that stopped on a failing page, to the head; anything else
			// stops them all.
			deadLettered := errors.Is(err, ErrFailed)
			if !deadLettered && !database.Unreachable(err) {
				log.ErrorContext(sctx, "projection dispatcher stopped", "projection", p.Name(), "error", err)
				err = fmt.Errorf("%w: %s: %w", ErrFailed, p.Name(), err)
			}
			if follow || !deadLettered {
				cancel()
			}
			failed <- err
		})
	}
	wg.Wait()
	close(failed)
	// Close the router: in-flight handlers finish (graceful shutdown).
	closeErr := router.Close()
	if err := pubsub.Close(); err != nil && closeErr == nil {
		closeErr = err
	}
	var errs []error
	select {
	case err := <-lost:
		errs = append(errs, err)
	default:
	}
	for err := range failed {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if closeErr != nil {
		return closeErr
	}
	if follow {
		return ctx.Err()
	}
	return nil
}

func topic(p Projection) string { return "deltalog.projection." + p.Name() }

// resultBox passes a handler's final outcome for a message to the dispatcher
// that published it (keyed by message UUID).
type resultBox struct {
	mu sync.Mutex
	m  map[string]error
}

func (b *resultBox) put(id string, err error) {
	b.mu.Lock()
	b.m[id] = err
	b.mu.Unlock()
}

func (b *resultBox) take(id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.m[id]
	delete(b.m, id)
	return err
}

// dispatch publishes one page at a time after the projection's checkpoint.
// Publish blocks until the handler has acknowledged the page.
func (r *Runner) dispatch(ctx context.Context, p Projection, pub message.Publisher, w *changelog.Watcher, results *resultBox) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cp, err := checkpoint(ctx, r.cfg.DB, p.Name())
		if err != nil {
			return err
		}
		head, err := changelog.Head(ctx, r.cfg.DB)
		if err != nil {
			return err
		}
		if cp >= head {
			if w == nil {
				return nil
			}
			if _, err := w.Wait(ctx, cp); err != nil {
				return err
			}
			continue
		}
		if rebuild, err := r.shouldRebuild(ctx, p, head-cp); err != nil {
			return err
		} else if rebuild {
			err := r.catchUpByRebuild(ctx, p, cp, head)
			if err == nil {
				continue
			}
			if !errors.Is(err, ErrRebuildBusy) {
				return err
			}
			// Someone else rebuilds it (deltalog rebuild): page meanwhile.
		}
		payload, _ := json.Marshal(pageMsg{After: cp, To: min(head, cp+int64(r.cfg.PageSize))})
		msg := message.NewMessage(watermill.NewUUID(), payload)
		msg.SetContext(ctx)
		if err := pub.Publish(topic(p), msg); err != nil {
			return err
		}
		if err := results.take(msg.UUID); err != nil {
			return err
		}
	}
}

// Automatic RebuildLag: the smallest lag, and the share of the catalog's
// packagesets, above which a rebuild from state is cheaper than pages.
const (
	autoRebuildMinLag   = 10_000
	autoRebuildFraction = 0.2
)

// shouldRebuild tells whether p, lag events behind, catches up by a
// rebuild from state (see Config.RebuildLag).
func (r *Runner) shouldRebuild(ctx context.Context, p Projection, lag int64) (bool, error) {
	sd, ok := p.(stateDerived)
	switch {
	case !ok || !sd.DerivedFromState() || r.cfg.RebuildLag < 0:
		return false, nil
	case r.cfg.RebuildLag > 0:
		return lag > r.cfg.RebuildLag, nil
	case lag <= autoRebuildMinLag:
		return false, nil
	}
	var sets int64
	if err := r.cfg.DB.QueryRow(ctx, dlsql.Query("catalog-size")).Scan(&sets); err != nil {
		return false, fmt.Errorf("reading the catalog's size: %w", err)
	}
	return float64(lag) > autoRebuildFraction*float64(sets), nil
}

// catchUpByRebuild rebuilds p from state; its checkpoint moves to the head
// the rebuild saw.
func (r *Runner) catchUpByRebuild(ctx context.Context, p Projection, cp, head int64) error {
	log := r.cfg.Logger.With("projection", p.Name())
	log.InfoContext(ctx, "catching up by a rebuild from state", "checkpoint", cp, "head", head, "lag", head-cp)
	res, err := Rebuild(ctx, r.cfg.DB, RebuildOpts{
		Projections: []string{p.Name()}, From: FromState, PageSize: r.cfg.PageSize, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("catching up by rebuild: %w", err)
	}
	log.InfoContext(ctx, "caught up by a rebuild from state", "checkpoint", res[0].Checkpoint,
		"rows", res[0].Rows, "seconds", res[0].Seconds)
	// The rebuild analyzed the tables it swapped in.
	r.stats[p.Name()].Reset()
	return nil
}

// handler applies one page message, checking that the session with
// backend PID holder holds the projection's lock.
func (r *Runner) handler(p Projection, holder uint32) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		var pm pageMsg
		if err := json.Unmarshal(msg.Payload, &pm); err != nil {
			return fmt.Errorf("page message: %w", err)
		}
		return r.applyPage(msg.Context(), p, pm.To, holder)
	}
}

// deadLetter is the outermost handler middleware: when the retries are
// exhausted it records the page in projection_dead_letters, marks the
// projection failed, and acknowledges the message so that the dispatcher
// can stop the projection there.
func (r *Runner) deadLetter(p Projection, results *resultBox) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err == nil {
				return out, nil
			}
			ctx := context.WithoutCancel(msg.Context())
			if msg.Context().Err() != nil {
				// Shutting down, not failing: the page is simply not applied.
				results.put(msg.UUID, msg.Context().Err())
				return nil, nil
			}
			if !database.Unreachable(err) {
				// A page fails for its own sake only on a database that
				// answers.
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				if perr := r.cfg.DB.Ping(pctx); perr != nil {
					err = fmt.Errorf("%w: %w (%w)", database.ErrUnreachable, perr, err)
				}
				cancel()
			}
			if database.Unreachable(err) {
				results.put(msg.UUID, err)
				return nil, nil
			}
			var pm pageMsg
			_ = json.Unmarshal(msg.Payload, &pm)
			r.cfg.Logger.ErrorContext(ctx, "projection failed; stopped at this page",
				"projection", p.Name(), "after", pm.After, "to", pm.To, "error", err)
			if dberr := failCheckpoint(ctx, r.cfg.DB, p.Name(), pm.After, pm.To, err, r.cfg.MaxRetries+1); dberr != nil {
				err = errors.Join(err, fmt.Errorf("recording dead letter: %w", dberr))
			}
			results.put(msg.UUID, fmt.Errorf("%w: %s stopped at seq %d: %w", ErrFailed, p.Name(), pm.After+1, err))
			return nil, nil
		}
	}
}

// ApplyPage applies the events after the projection's checkpoint up to seq
// to, in one transaction with the new checkpoint. The checkpoint row is
// locked first, so a redelivered or concurrent page can neither apply
// anything twice nor skip anything: the page always starts where the
// checkpoint is.
func (r *Runner) ApplyPage(ctx context.Context, p Projection, to int64) error {
	return r.applyPage(ctx, p, to, 0)
}

// applyPage is ApplyPage for a worker whose locks the session with backend
// PID holder holds (0: none, a page applied beside the workers): the page
// is applied only if that session still holds the projection's lock — one
// lost with a restarted server does not let pages go on unguarded.
func (r *Runner) applyPage(ctx context.Context, p Projection, to int64, holder uint32) error {
	start := time.Now()
	stats := &PageStats{Projection: p.Name()}
	ctx = withStats(withLogger(ctx, r.cfg.Logger.With("projection", p.Name())), stats)
	tx, err := r.cfg.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, dlsql.Query("tx-delta-settings")); err != nil {
		return err
	}
	if holder != 0 {
		var held bool
		if err := tx.QueryRow(ctx, dlsql.Query("projection-lock-held"), p.Name(), holder).Scan(&held); err != nil {
			return err
		}
		if !held {
			return errLockLost
		}
	}
	cp, err := lockCheckpoint(ctx, tx, p.Name())
	if err != nil {
		return err
	}
	if cp >= to {
		return nil // applied already (a redelivery)
	}
	page, err := readPage(ctx, tx, cp, to)
	if err != nil {
		return fmt.Errorf("%s: page (%d, %d]: %w", p.Name(), cp, to, err)
	}
	committed, err := p.Apply(ctx, tx, page)
	if err != nil {
		return fmt.Errorf("%s: page (%d, %d]: %w", p.Name(), cp, to, err)
	}
	cacheStats, _ := json.Marshal(p.CacheStats())
	if err := advanceCheckpoint(ctx, tx, p.Name(), to, cacheStats); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if committed != nil {
		committed()
	}
	// Keep the planner's statistics in step with large changes (a fresh
	// catalog starts with statistics of empty tables, which make later
	// pages pick plans for empty tables).
	if _, err := r.stats[p.Name()].Changed(ctx, r.cfg.DB, int64(len(page.Events))); err != nil {
		r.cfg.Logger.WarnContext(ctx, "analyze failed", "projection", p.Name(), "error", err)
	}
	stats.After, stats.To, stats.Events, stats.Duration = cp, to, len(page.Events), time.Since(start)
	r.cfg.Logger.DebugContext(ctx, "page applied", append([]any{"projection", p.Name(), "after", cp, "to", to,
		"events", len(page.Events), "ms", stats.Duration.Milliseconds()}, stats.logAttrs()...)...)
	if r.cfg.PageFunc != nil {
		r.cfg.PageFunc(*stats)
	}
	return nil
}

// lock takes a session advisory lock per projection on one connection held
// for the session: one worker per projection at a time, and status can
// tell whether a worker is running. Each page checks that this session
// still holds its projection's lock. A resumed run waits up to LockWait
// for a lock another session holds.
func (r *Runner) lock(ctx context.Context, resumed bool) (*pgxpool.Conn, error) {
	wait := time.Duration(0)
	if resumed {
		wait = r.cfg.LockWait
	}
	conn, err := r.cfg.DB.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range r.cfg.Projections {
		ok, err := database.TryLock(ctx, conn, wait, dlsql.Query("projection-try-lock"), p.Name())
		if err == nil && !ok {
			err = fmt.Errorf("%w: %s", ErrBusy, p.Name())
		}
		if err != nil {
			unlock(ctx, conn)
			return nil, err
		}
	}
	return conn, nil
}

// watchLock pings the session holding the locks every lockCheck until ctx
// ends or the session is gone, which it reports on lost.
func watchLock(ctx context.Context, conn *pgxpool.Conn, lost chan<- error) {
	t := time.NewTicker(lockCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := conn.Ping(ctx); err != nil {
			if ctx.Err() == nil {
				lost <- fmt.Errorf("%w: %w", errLockLost, err)
			}
			return
		}
	}
}

// unlock releases the session's advisory locks before the connection goes
// back to the pool: a pooled connection must not keep a worker's locks
// (the next Run would be refused, and status would report a worker running).
// If that fails the connection is closed instead, which releases them too.
func unlock(ctx context.Context, conn *pgxpool.Conn) {
	if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock_all()"); err != nil {
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
	}
	conn.Release()
}
