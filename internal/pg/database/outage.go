package database

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A lost database is a transient condition for the long-running processes
// (workers, serve, replicate, follow): PostgreSQL restarts, fails over or
// is briefly unreachable, and they wait for it and resume from what it
// holds. What tells such an outage from a statement that failed, and how
// to wait it out, is here, shared by all of them.

// ErrUnreachable marks an error as the database being unreachable, when
// the error itself does not say so (a page that failed while a ping
// failed too).
var ErrUnreachable = errors.New("the database is unreachable")

// Unreachable reports whether err means that the database could not be
// reached — a refused, reset or closed connection, a server shutting down
// or starting up — rather than that a statement failed on a server that
// answered. The work can be done again once the server is back.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnreachable) {
		return true
	}
	// The server answered: only its connection and shutdown errors count
	// (an authentication failure or a missing database does not heal).
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", // admin_shutdown: terminating connection (fast or immediate shutdown)
			"57P02", // crash_shutdown: another server process crashed
			"57P03": // cannot_connect_now: the database system is starting up or shutting down
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection_exception
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	for _, target := range lostConnection {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// lostConnection are the errors of a connection that broke under a
// statement.
var lostConnection = []error{
	pgconn.ErrConnClosed, net.ErrClosed, io.EOF, io.ErrUnexpectedEOF,
	syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.ECONNABORTED, syscall.EPIPE,
	syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
}

// Backoff waits out a database outage between attempts to reach it: the
// delay starts at Min and doubles up to Max, for as long as the outage
// lasts. The first wait of an outage logs "waiting for the database", Reset
// logs its end. Safe for concurrent use.
type Backoff struct {
	// Min and Max bound the delay (defaults 100 ms and 5 s).
	Min, Max time.Duration
	// Who names the process in the log lines ("projection worker").
	Who    string
	Logger *slog.Logger

	mu    sync.Mutex
	delay time.Duration
	since time.Time // start of the outage; zero when there is none
}

// Wait sleeps before the next attempt after err, or returns ctx.Err() when
// ctx ends first.
func (b *Backoff) Wait(ctx context.Context, err error) error {
	b.mu.Lock()
	first := b.since.IsZero()
	if first {
		b.since = time.Now()
		b.delay = cmp.Or(b.Min, 100*time.Millisecond)
	} else {
		b.delay = min(2*b.delay, cmp.Or(b.Max, 5*time.Second))
	}
	delay, since := b.delay, b.since
	b.mu.Unlock()
	if log := b.logger(); first {
		log.WarnContext(ctx, "waiting for the database", "who", b.Who, "error", err)
	} else {
		log.DebugContext(ctx, "waiting for the database", "who", b.Who, "error", err,
			"for", time.Since(since).Round(time.Millisecond), "next_try_in", delay)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Reset ends an outage, once the database answered again: the next one
// waits from Min.
func (b *Backoff) Reset(ctx context.Context) {
	b.mu.Lock()
	since := b.since
	b.since = time.Time{}
	b.mu.Unlock()
	if !since.IsZero() {
		b.logger().InfoContext(ctx, "the database is back", "who", b.Who, "after", time.Since(since).Round(time.Millisecond))
	}
}

// Waiting reports whether an outage is under way, and since when.
func (b *Backoff) Waiting() (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.since.IsZero(), b.since
}

func (b *Backoff) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}

// Retry calls fn until it returns nil or an error other than an
// unreachable database, waiting with b between the calls; it returns
// early when ctx ends. fn starts over each time, so it must resume from
// what the database holds (checkpoints, heads), and should Reset b once it
// reached the database.
func Retry(ctx context.Context, b *Backoff, fn func(context.Context) error) error {
	for {
		err := fn(ctx)
		if err == nil || ctx.Err() != nil || !Unreachable(err) {
			return err
		}
		if werr := b.Wait(ctx, err); werr != nil {
			return werr
		}
	}
}

// TryLock takes a session advisory lock on the session q: it runs query,
// a pg_try_advisory_lock call, again every 100 ms for up to wait while
// another session holds the lock — the last holder may linger a moment (a
// process just killed, a session the server has not ended yet). It
// reports whether it got the lock.
func TryLock(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, wait time.Duration, query string, args ...any) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		var ok bool
		if err := q.QueryRow(ctx, query, args...).Scan(&ok); err != nil || ok {
			return ok, err
		}
		if !time.Now().Before(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
