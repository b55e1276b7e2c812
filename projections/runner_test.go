package projections_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// failing is a real projection (it writes nothing) whose Apply fails on any
// page that contains the poison project, and counts its attempts.
type failing struct {
	poison   string
	attempts atomic.Int32
	applied  atomic.Int64 // highest seq applied
}

func (f *failing) Name() string                                  { return projections.HistoryName }
func (f *failing) CacheStats() map[string]projections.CacheStats { return nil }
func (f *failing) Apply(_ context.Context, _ pgx.Tx, page *projections.Page) (func(), error) {
	for _, ev := range page.Events {
		if ev.Project == f.poison {
			f.attempts.Add(1)
			return nil, errors.New("cannot derive " + f.poison)
		}
	}
	return func() { f.applied.Store(page.Next) }, nil
}

// setupFailing is a fixture of the catalog and a projection failing on
// project b, with one event per page, and projects a, b and c updated.
func setupFailing(t *testing.T) (*fixture, *failing) {
	t.Helper()
	cat, err := projections.NewCatalog(projections.CatalogConfig{})
	require.NoError(t, err)
	bad := &failing{poison: "b"}
	f := setupPaged(t, 1, cat, bad)
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "1"), p("b", "b", "1"), p("c", "c", "1")})
	return f, bad
}

func TestFailingProjectionStopsAtItsPageOthersGoOn(t *testing.T) {
	t.Parallel()
	f, bad := setupFailing(t)
	ctx := context.Background()
	err := f.runner.Run(ctx, false)
	require.ErrorIs(t, err, projections.ErrFailed)
	require.ErrorContains(t, err, "cannot derive b")
	require.Equal(t, int32(2), bad.attempts.Load(), "one try and MaxRetries=1 retry")
	require.Equal(t, int64(1), bad.applied.Load(), "stopped before the poison page, never past it")

	sts, err := projections.ReadStatus(ctx, f.pool)
	require.NoError(t, err)
	byName := map[string]projections.Status{}
	for _, s := range sts {
		byName[s.Name] = s
	}
	require.Equal(t, "caught_up", byName[projections.CatalogName].State, "the other projection went on")
	require.Equal(t, int64(3), byName[projections.CatalogName].Checkpoint)
	h := byName[projections.HistoryName]
	require.Equal(t, "failed", h.State)
	require.Equal(t, int64(1), h.Checkpoint)
	require.Equal(t, int64(2), h.Lag)
	require.Contains(t, h.Error, "cannot derive b")
	var from, to int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT from_seq, to_seq FROM projection_dead_letters WHERE projection = $1`,
		projections.HistoryName).Scan(&from, &to))
	require.Equal(t, [2]int64{2, 2}, [2]int64{from, to})

	// Once the cause is fixed, a restart retries the page and clears the failure.
	bad.poison = "none"
	require.NoError(t, f.runner.Run(ctx, false))
	sts, err = projections.ReadStatus(ctx, f.pool)
	require.NoError(t, err)
	for _, s := range sts {
		require.Equal(t, "caught_up", s.State, s.Name)
		require.Empty(t, s.Error)
	}
	require.NotEmpty(t, byName[projections.CatalogName].Caches)
}

// TestFollowingWorkerStopsWithItsProjection: a following worker whose
// projection stopped on a failing page does not live on with the other
// projections only: Run returns the failure (a non-zero exit), and the
// page waits in projection_dead_letters for the next start.
func TestFollowingWorkerStopsWithItsProjection(t *testing.T) {
	t.Parallel()
	f, _ := setupFailing(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.runner.Run(ctx, true) }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, projections.ErrFailed)
		require.NotErrorIs(t, err, context.Canceled)
		require.ErrorContains(t, err, "cannot derive b")
	case <-time.After(time.Minute):
		t.Fatal("the worker lives on with a dead projection")
	}
	require.Equal(t, int64(1), count(t, f.pool, `SELECT count(*) FROM projection_dead_letters`))
}

func TestFollowWakesOnNewUpdates(t *testing.T) {
	t.Parallel()
	f := setupPaged(t, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.runner.Run(ctx, true) }()

	res := f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "1")})
	require.Eventually(t, func() bool {
		sts, err := projections.ReadStatus(ctx, f.pool)
		if err != nil {
			return false
		}
		for _, s := range sts {
			if s.Checkpoint != res.HeadSeq || !s.Running {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "a following worker applies new events without being restarted")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	verifyClean(t, f.pool)
}

// TestRunReleasesItsLocks: after Run returns, another connection of the pool
// can run the same projections, and status reports no worker running.
func TestRunReleasesItsLocks(t *testing.T) {
	t.Parallel()
	f := setupPaged(t, 100)
	ctx := context.Background()
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "1")})
	require.NoError(t, f.runner.Run(ctx, false))
	// Hold one connection so that the next Run gets another one.
	held, err := f.pool.Acquire(ctx)
	require.NoError(t, err)
	defer held.Release()
	var locks int
	require.NoError(t, held.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1684368501
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&locks))
	require.Zero(t, locks)
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "2")})
	require.NoError(t, f.runner.Run(ctx, false))
	sts, err := projections.ReadStatus(ctx, f.pool)
	require.NoError(t, err)
	for _, s := range sts {
		require.False(t, s.Running, s.Name)
		require.Equal(t, "caught_up", s.State)
	}
}

// TestStatusFlagsAStalledWorker: the watchdog. A worker that holds a
// projection (its lock) but has not advanced it while events waited for
// longer than StallAfter is reported "stalled", not "running" — the stall
// a dead dispatcher used to leave behind, visible only in a growing lag.
func TestStatusFlagsAStalledWorker(t *testing.T) {
	t.Parallel()
	f := setupPaged(t, 100)
	ctx := context.Background()
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "1")})
	require.NoError(t, f.runner.Run(ctx, false))
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "2"), p("b", "b", "1")})

	// A worker that holds the catalog and applies nothing.
	held, err := f.pool.Acquire(ctx)
	require.NoError(t, err)
	defer held.Release()
	_, err = held.Exec(ctx, `SELECT pg_advisory_lock(1684368501, hashtext($1))`, projections.CatalogName)
	require.NoError(t, err)
	defer held.Exec(ctx, `SELECT pg_advisory_unlock_all()`) //nolint:errcheck

	state := func() string {
		t.Helper()
		sts, err := projections.ReadStatus(ctx, f.pool)
		require.NoError(t, err)
		for _, s := range sts {
			if s.Name == projections.CatalogName {
				return s.State
			}
		}
		return ""
	}
	require.Equal(t, "running", state(), "behind for less than StallAfter")
	// Ten minutes later, nothing has moved.
	_, err = f.pool.Exec(ctx, `UPDATE batches SET finished_at = finished_at - interval '10 minutes'`)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `UPDATE projection_checkpoints SET updated_at = updated_at - interval '10 minutes'`)
	require.NoError(t, err)
	require.Equal(t, "stalled", state())
	sts, err := projections.ReadStatusWith(ctx, f.pool, projections.StatusOpts{StallAfter: time.Hour})
	require.NoError(t, err)
	require.Equal(t, "running", sts[0].State, "within a longer StallAfter")

	// Without the lock it is merely stopped; once a worker applies the
	// pages it is caught up.
	_, err = held.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
	require.NoError(t, err)
	require.Equal(t, "stopped", state())
	require.NoError(t, f.runner.Run(ctx, false))
	require.Equal(t, "caught_up", state())
}

// TestWorkerThatLostItsLocksStopsApplying: when the session holding a
// following worker's locks ends (as in a server restart) and another
// session takes them before it can, the worker applies no page of what
// follows and stops with ErrBusy: one worker per projection, across
// sessions.
func TestWorkerThatLostItsLocksStopsApplying(t *testing.T) {
	t.Parallel()
	f := setupRunner(t, projections.Config{PageSize: 100, MaxRetries: 1, RebuildLag: -1, LockWait: 300 * time.Millisecond})
	ctx := context.Background()
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "1")})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.runner.Run(runCtx, true) }()
	const lockOf = `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 1684368501
		AND objid = hashtext($1)::oid AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
	var pid int32
	require.Eventually(t, func() bool {
		return f.pool.QueryRow(ctx, lockOf, projections.CatalogName).Scan(&pid) == nil
	}, time.Minute, 10*time.Millisecond)

	// Another worker queues for the locks; the first one's session ends.
	other, err := f.pool.Acquire(ctx)
	require.NoError(t, err)
	defer other.Release()
	defer other.Exec(ctx, `SELECT pg_advisory_unlock_all()`) //nolint:errcheck
	locked := make(chan error, 1)
	go func() {
		_, err := other.Exec(ctx, `SELECT pg_advisory_lock(1684368501, hashtext($1)), pg_advisory_lock(1684368501, hashtext($2))`,
			projections.CatalogName, projections.HistoryName)
		locked <- err
	}()
	require.Eventually(t, func() bool {
		return count(t, f.pool, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`) > 0
	}, time.Minute, 10*time.Millisecond)
	_, err = f.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	require.NoError(t, <-locked)

	res := f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "2"), p("b", "b", "1")})
	select {
	case err := <-done:
		require.ErrorIs(t, err, projections.ErrBusy)
	case <-time.After(time.Minute):
		t.Fatal("the worker goes on without its locks")
	}
	sts, err := projections.ReadStatus(ctx, f.pool)
	require.NoError(t, err)
	for _, s := range sts {
		require.Less(t, s.Checkpoint, res.HeadSeq, "%s: no page applied without the lock", s.Name)
	}
}
