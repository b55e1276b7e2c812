package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/pg/database"
	dlsql "github.com/deltalog/deltalog/sql"
)

// FollowerConfig configures a Follower.
type FollowerConfig struct {
	// DB is the follower's database (required). It must not be written by
	// anything else: the follower owns its changelog and current state.
	DB *pgxpool.Pool
	// From is the leader's feed: the HTTP API's base URL (http://HOST:PORT)
	// or a NATS server (nats://HOST:PORT) with the stream in Stream.
	From string
	// Stream is the NATS stream name (default DefaultStream).
	Stream string
	// Until stops the follower once it has applied through this seq
	// (0: follow until ctx ends).
	Until int64
	// ChunkEvents bounds the events applied by one statement round within
	// a batch's transaction (default 1000).
	ChunkEvents int
	// AfterBatchFunc, when set, is called after each batch committed, with
	// the follower's new head (e.g. to run projections on the follower).
	AfterBatchFunc func(ctx context.Context, head int64) error
	// LockWait is how long Run waits for another follower of the same
	// database to go away (one just killed, whose session the server has
	// not ended yet) before it gives up with ErrFollowerRunning (default 10s).
	LockWait time.Duration
	// HTTPClient is used for http:// feeds (default: a client without
	// timeout, as the stream is long-lived).
	HTTPClient *http.Client
	// Registerer, when set, receives the follower's metrics.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

func (c FollowerConfig) withDefaults() FollowerConfig {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.ChunkEvents <= 0 {
		c.ChunkEvents = 1000
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.LockWait <= 0 {
		c.LockWait = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// CheckFeedURL says whether s names a leader's feed a Follower can read:
// http(s)://HOST:PORT (deltalog serve) or nats://HOST:PORT. Commands check
// it before they connect to anything.
func CheckFeedURL(s string) error {
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "nats") || u.Host == "" {
		return fmt.Errorf("%q: want http://HOST:PORT or nats://HOST:PORT", s)
	}
	return nil
}

func (c FollowerConfig) validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("replay: FollowerConfig.DB is required"))
	}
	if err := CheckFeedURL(c.From); err != nil {
		errs = append(errs, fmt.Errorf("replay: FollowerConfig.From: %w", err))
	}
	if c.Until < 0 {
		errs = append(errs, errors.New("replay: FollowerConfig.Until must not be negative"))
	}
	return errors.Join(errs...)
}

// Follower applies a leader's changelog into another database.
type Follower struct {
	cfg   FollowerConfig
	apply prometheus.Histogram
}

// NewFollower checks cfg and returns a Follower.
func NewFollower(cfg FollowerConfig) (*Follower, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f := &Follower{cfg: cfg}
	if cfg.Registerer != nil {
		f.apply = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "deltalog_follower_apply_duration_seconds",
			Help:    "Time to apply one batch on the follower, from its first event to commit.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		})
		if err := cfg.Registerer.Register(f.apply); err != nil {
			return nil, fmt.Errorf("replay: registering follower metrics: %w", err)
		}
	}
	return f, nil
}

// Run follows until ctx ends, Until is reached, or an error — a
// *DivergenceError when the follower's state no longer matches the
// leader's. It resumes after the follower's own changelog head. A lost
// follower database is waited out ("waiting for the database", with capped
// exponential backoff); the follower then takes its lock again and resumes
// from its head.
func (f *Follower) Run(ctx context.Context) error {
	b := &database.Backoff{Who: "follower", Logger: f.cfg.Logger}
	return database.Retry(ctx, b, func(ctx context.Context) error { return f.session(ctx, b) })
}

// session follows on one database session, which holds the follower's lock
// and applies every batch: a lock lost with its session stops the batches
// with it.
func (f *Follower) session(ctx context.Context, b *database.Backoff) error {
	cfg := f.cfg
	lock, err := cfg.DB.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	defer lock.Release()
	ok, err := database.TryLock(ctx, lock, cfg.LockWait, dlsql.Query("replay-follower-lock"))
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("follower: lock: %w", err)
	case !ok:
		return ErrFollowerRunning
	}
	// The lock is the session's: end the session rather than return it to
	// the pool holding the lock.
	defer lock.Conn().Close(context.WithoutCancel(ctx)) //nolint:errcheck

	head, err := changelog.Head(ctx, lock)
	if err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	b.Reset(ctx)
	a := &applier{pool: cfg.DB, session: lock, logger: cfg.Logger, head: head, stats: changelog.NewStateAnalyzer()}
	if f.apply != nil {
		a.observe = func(d time.Duration) { f.apply.Observe(d.Seconds()) }
	}
	defer a.rollback(ctx)
	if cfg.Until > 0 && head >= cfg.Until {
		return nil
	}
	cfg.Logger.InfoContext(ctx, "follower starting", "from", cfg.From, "head", head)

	fd, err := openFeed(ctx, cfg, head)
	if err != nil {
		return err
	}
	defer fd.close()
	for {
		batch, evs, err := fd.next(ctx)
		if err != nil {
			return fmt.Errorf("follower: %w", err)
		}
		committed, err := a.apply(ctx, batch, evs)
		if err != nil {
			return err
		}
		if !committed {
			continue
		}
		if cfg.AfterBatchFunc != nil {
			if err := cfg.AfterBatchFunc(ctx, a.head); err != nil {
				return fmt.Errorf("follower: after batch: %w", err)
			}
		}
		if cfg.Until > 0 && a.head >= cfg.Until {
			cfg.Logger.InfoContext(ctx, "follower reached its target", "head", a.head)
			return nil
		}
	}
}

// feed delivers the changelog after a seq in order.
type feed interface {
	// next blocks until events are available and returns consecutive
	// events of one batch (at least one) with the batch's record.
	next(ctx context.Context) (*events.Batch, []events.Event, error)
	close()
}

func openFeed(ctx context.Context, cfg FollowerConfig, after int64) (feed, error) {
	if strings.HasPrefix(cfg.From, "nats://") {
		return openNATSFeed(ctx, cfg, after)
	}
	return openHTTPFeed(ctx, cfg, after), nil
}

// httpFeed reads GET /changelog/stream, reconnecting with Last-Event-ID
// when the connection breaks.
type httpFeed struct {
	items   chan feedItem
	pending *feedItem
	chunk   int
	cancel  context.CancelFunc
	done    chan struct{}
}

type feedItem struct {
	batch *events.Batch
	ev    events.Event
	err   error
}

func openHTTPFeed(ctx context.Context, cfg FollowerConfig, after int64) *httpFeed {
	ctx, cancel := context.WithCancel(ctx)
	f := &httpFeed{items: make(chan feedItem, 4096), chunk: cfg.ChunkEvents, cancel: cancel, done: make(chan struct{})}
	go f.run(ctx, cfg, after)
	return f
}

func (f *httpFeed) close() {
	f.cancel()
	<-f.done
}

// run connects and reconnects, sending items until ctx ends or a
// permanent error.
func (f *httpFeed) run(ctx context.Context, cfg FollowerConfig, after int64) {
	defer close(f.done)
	base := strings.TrimSuffix(cfg.From, "/")
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		last, err := f.stream(ctx, cfg.HTTPClient, base, after)
		if last > after {
			after, backoff = last, 100*time.Millisecond
		}
		if ctx.Err() != nil {
			return
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			select {
			case f.items <- feedItem{err: perm.err}:
			case <-ctx.Done():
			}
			return
		}
		cfg.Logger.WarnContext(ctx, "follower: feed interrupted, reconnecting", "error", err, "after", after, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }

// stream reads one connection; it returns the last seq received.
func (f *httpFeed) stream(ctx context.Context, client *http.Client, base string, after int64) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/changelog/stream", nil)
	if err != nil {
		return after, &permanentError{err}
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", FollowerUserAgent)
	req.Header.Set("Last-Event-ID", seqID(after))
	resp, err := client.Do(req)
	if err != nil {
		return after, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return after, fmt.Errorf("feed: %s", resp.Status)
	default:
		return after, &permanentError{fmt.Errorf("feed %s: %s", req.URL, resp.Status)}
	}
	r := newSSEReader(resp.Body)
	var batch *events.Batch
	for {
		m, err := r.Next()
		if err != nil {
			return after, err
		}
		var it feedItem
		switch m.Type {
		case sseBatch:
			if batch, err = decodeBatch(m.Data); err != nil {
				return after, &permanentError{err}
			}
			continue
		case sseEvent:
			ev, err := decodeEvent(m.Data)
			if err != nil {
				return after, &permanentError{err}
			}
			if ev.Seq <= after {
				continue
			}
			it = feedItem{batch: batch, ev: ev}
			after = ev.Seq
		default:
			continue
		}
		select {
		case f.items <- it:
		case <-ctx.Done():
			return after, ctx.Err()
		}
	}
}

// next returns the first available item and whatever follows it at once,
// up to the chunk size, within its batch.
func (f *httpFeed) next(ctx context.Context) (*events.Batch, []events.Event, error) {
	var first feedItem
	if f.pending != nil {
		first, f.pending = *f.pending, nil
	} else {
		select {
		case first = <-f.items:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	if first.err != nil {
		return nil, nil, first.err
	}
	evs := []events.Event{first.ev}
	for len(evs) < f.chunk && evs[len(evs)-1].BatchEnd == nil {
		select {
		case it := <-f.items:
			if it.err != nil || it.ev.Batch != first.ev.Batch {
				f.pending = &it
				return first.batch, evs, nil
			}
			evs = append(evs, it.ev)
			continue
		default:
		}
		break
	}
	return first.batch, evs, nil
}
