package projections_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
)

// outage is longer than a page's retries last (MaxRetries 5 from 100 ms:
// about 2.5 s), so that a worker that took a lost database for a failing
// page would give up during it.
const outage = 3500 * time.Millisecond

// TestWorkerSurvivesPostgresRestart: PostgreSQL crashes (stop -m immediate)
// under a following worker in the middle of its pages and stays down for
// longer than a page's retries. The worker waits for it, says so, takes its
// locks again and resumes from its checkpoints: they reach the head, the
// derived tables equal a full recomputation, nothing was dead-lettered, and
// a second worker started after the restart is refused.
func TestWorkerSurvivesPostgresRestart(t *testing.T) {
	t.Parallel()
	srv := dbtest.NewServer(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, srv.NewURL(t, "deltalog"))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	u, err := changelog.NewUpdater(pool, changelog.Config{})
	require.NoError(t, err)
	all, err := projections.Default(projections.CatalogConfig{CacheSize: 1000})
	require.NoError(t, err)
	logs := dbtest.NewLogs(t)
	var pages atomic.Int64
	r, err := projections.NewRunner(projections.Config{
		DB: pool, Projections: all, PageSize: 20, RebuildLag: -1,
		Logger:   logs.Logger(),
		PageFunc: func(projections.PageStats) { pages.Add(1) },
	})
	require.NoError(t, err)
	f := &fixture{pool: pool, updater: u, runner: r}
	maint := func(i int) string { return []string{"a@x", "b@x", "c@x"}[i%3] }
	f.update(t, "r", version.SchemeGeneric, numbered(600, maint))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx, true) }()
	require.Eventually(t, func() bool { return pages.Load() >= 4 }, time.Minute, 5*time.Millisecond)
	srv.Crash(t)
	time.Sleep(outage)
	select {
	case err := <-done:
		t.Fatalf("the worker gave up while the database was down: %v", err)
	default:
	}
	srv.Start(t)
	require.Less(t, checkpointOf(t, pool, projections.CatalogName), int64(600), "crashed mid-run")
	require.Contains(t, logs.String(), "waiting for the database")

	// New updates after the restart are applied too.
	res := f.update(t, "r", version.SchemeGeneric, numbered(650, func(i int) string { return maint(i + 1) }))
	require.Eventually(t, func() bool {
		sts, err := projections.ReadStatus(ctx, pool)
		if err != nil {
			return false
		}
		for _, s := range sts {
			if s.Checkpoint != res.HeadSeq {
				return false
			}
		}
		return true
	}, 2*time.Minute, 20*time.Millisecond, "the worker resumed and caught up")
	verifyClean(t, pool)
	require.Zero(t, count(t, pool, `SELECT count(*) FROM projection_dead_letters`), "a lost database is no failing page")

	// The worker holds its locks again: status says so, and a second
	// worker is refused.
	sts, err := projections.ReadStatus(ctx, pool)
	require.NoError(t, err)
	for _, s := range sts {
		require.True(t, s.Running, s.Name)
	}
	second, err := projections.NewRunner(projections.Config{DB: pool, Projections: all})
	require.NoError(t, err)
	require.ErrorIs(t, second.Run(ctx, true), projections.ErrBusy)

	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func checkpointOf(t *testing.T, pool *pgxpool.Pool, name string) int64 {
	t.Helper()
	sts, err := projections.ReadStatus(context.Background(), pool)
	require.NoError(t, err)
	for _, s := range sts {
		if s.Name == name {
			return s.Checkpoint
		}
	}
	t.Fatalf("no projection %s", name)
	return 0
}
