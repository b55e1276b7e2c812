package changelog

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/internal/pg/database"
)

// Channel is the PostgreSQL notification channel an append notifies (with
// the new head seq as payload) when it commits.
const Channel = "deltalog_changelog"

// Watcher tracks the changelog head and wakes waiters when it moves, from
// one LISTEN connection shared by every waiter (a tail, SSE streams,
// projection workers). Notifications are only a wake-up: the head is always
// re-read from the table, so a lost notification delays a reader until the
// safety re-read (WatcherConfig.SafetyInterval), it never misleads it.
type Watcher struct {
	cfg WatcherConfig

	mu   sync.Mutex
	head int64
	ch   chan struct{} // closed and replaced whenever head moves
	err  error

	cancel context.CancelFunc
	done   chan struct{}
}

// DefaultSafetyInterval is WatcherConfig.SafetyInterval's default.
const DefaultSafetyInterval = 5 * time.Second

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	// DB is the pool the watcher takes its LISTEN connection from
	// (required; the connection leaves the pool for good).
	DB *pgxpool.Pool
	// SafetyInterval is how often the watcher re-reads the head without a
	// notification: a backstop for notifications lost while reconnecting,
	// not a polling loop readers rely on. Default DefaultSafetyInterval.
	SafetyInterval time.Duration
	Logger         *slog.Logger
}

// WithDefaults returns c with its unset fields set to their defaults.
func (c WatcherConfig) WithDefaults() WatcherConfig {
	if c.SafetyInterval == 0 {
		c.SafetyInterval = DefaultSafetyInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c WatcherConfig) validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("changelog: WatcherConfig.DB is required"))
	}
	if c.SafetyInterval < 0 {
		errs = append(errs, errors.New("changelog: WatcherConfig.SafetyInterval must not be negative"))
	}
	return errors.Join(errs...)
}

// NewWatcher starts watching. Close it to release its connection.
func NewWatcher(ctx context.Context, cfg WatcherConfig) (*Watcher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	head, err := Head(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &Watcher{cfg: cfg, head: head, ch: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go w.loop(ctx)
	return w, nil
}

// Head returns the last head seen.
func (w *Watcher) Head() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.head
}

// Wait blocks until the head is beyond after, and returns it.
func (w *Watcher) Wait(ctx context.Context, after int64) (int64, error) {
	for {
		w.mu.Lock()
		head, ch, err := w.head, w.ch, w.err
		w.mu.Unlock()
		if head > after {
			return head, nil
		}
		if err != nil {
			return head, err
		}
		select {
		case <-ctx.Done():
			return head, ctx.Err()
		case <-ch:
		}
	}
}

// Close stops the watcher; waiters get an error.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
}

func (w *Watcher) set(head int64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.err = err
		close(w.ch)
		w.ch = make(chan struct{})
		return
	}
	if head > w.head {
		w.head = head
		close(w.ch)
		w.ch = make(chan struct{})
	}
}

func (w *Watcher) loop(ctx context.Context) {
	defer close(w.done)
	b := &database.Backoff{Who: "changelog watcher", Logger: w.cfg.Logger}
	for ctx.Err() == nil {
		err := w.listen(ctx, b)
		if ctx.Err() != nil {
			break
		}
		// A lost LISTEN connection is waited out whatever the error: the
		// watcher only wakes readers, who re-read what they need.
		if b.Wait(ctx, err) != nil {
			break
		}
	}
	w.set(0, errors.New("changelog watcher closed"))
}

// listen holds one connection in LISTEN until it fails or ctx ends.
func (w *Watcher) listen(ctx context.Context, b *database.Backoff) error {
	conn, err := w.cfg.DB.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection leaves the pool for good: LISTEN state must not leak
	// into other users of the pool.
	pc := conn.Hijack()
	defer pc.Close(context.WithoutCancel(ctx))
	if _, err := pc.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	// Re-read after LISTEN: appends committed before it sent no
	// notification we could see.
	head, err := Head(ctx, pc)
	if err != nil {
		return err
	}
	b.Reset(ctx)
	w.set(head, nil)
	for {
		wctx, cancel := context.WithTimeout(ctx, w.cfg.SafetyInterval)
		n, err := pc.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if head, perr := strconv.ParseInt(n.Payload, 10, 64); perr == nil {
				w.set(head, nil)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			head, err := Head(ctx, pc)
			if err != nil {
				return err
			}
			w.set(head, nil)
		default:
			return err
		}
	}
}
