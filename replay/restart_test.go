package replay_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/replay"
)

// logBuffer collects a logger's lines, for tests that read what a process
// said.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestReplicationSurvivesPostgresRestart: the leader's and the follower's
// databases (one PostgreSQL cluster) crash (stop -m immediate) under a
// follower reading a NATS stream the replicator has half filled, and stay
// down for longer than 3 s; the replicator is started during the outage.
// Both wait for the database, then resume where the stream and the
// follower's head say: every seq is in the stream exactly once, and the
// follower ends with the leader's state, changelog and batches, new
// batches appended after the restart included.
func TestReplicationSurvivesPostgresRestart(t *testing.T) {
	t.Parallel()
	srv := dbtest.NewServer(t)
	ctx := context.Background()
	open := func(name string) *pgxpool.Pool {
		pool, err := pgxpool.New(ctx, srv.NewURL(t, name))
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		return pool
	}
	lp, fp := open("leader"), open("follower")
	u, err := changelog.NewUpdater(lp, changelog.Config{})
	require.NoError(t, err)
	l := &leader{pool: lp, u: u}
	history(t, l, 200)
	natsURL := natsServer(t)

	var logs logBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	head := l.head(t)
	replicate(t, lp, natsURL, head/2)
	f, err := replay.NewFollower(replay.FollowerConfig{DB: fp, From: natsURL, ChunkEvents: 50, Logger: logger})
	require.NoError(t, err)
	followed := make(chan error, 1)
	go func() { followed <- f.Run(runCtx) }()
	require.Eventually(t, func() bool {
		h, err := changelog.Head(ctx, fp)
		return err == nil && h > 0
	}, time.Minute, 5*time.Millisecond)

	// The follower is at work; the replicator starts while the database
	// is down.
	srv.Crash(t)
	r, err := replay.NewReplicator(replay.ReplicatorConfig{DB: lp, URL: natsURL, PageEvents: 50, Logger: logger})
	require.NoError(t, err)
	replicated := make(chan error, 1)
	go func() { replicated <- r.Run(runCtx) }()
	time.Sleep(outage)
	for what, done := range map[string]chan error{"replicator": replicated, "follower": followed} {
		select {
		case err := <-done:
			t.Fatalf("the %s gave up while the database was down: %v", what, err)
		default:
		}
	}
	srv.Start(t)
	require.Less(t, status(t, fp).HeadSeq, head, "crashed while the follower was behind")
	res := l.update(t, "gamma", synth(300, 0), 0)
	require.Eventually(t, func() bool {
		h, err := changelog.Head(ctx, fp)
		return err == nil && h == res.HeadSeq
	}, 2*time.Minute, 20*time.Millisecond, "the follower resumed and caught up")

	requireExactlyOnce(t, streamContents(t, natsURL), res.HeadSeq)
	requireSame(t, lp, fp)
	require.Contains(t, logs.String(), `msg="waiting for the database" who=replicator`)
	require.Contains(t, logs.String(), `msg="waiting for the database" who=follower`)
	cancel()
	require.ErrorIs(t, <-replicated, context.Canceled)
	require.ErrorIs(t, <-followed, context.Canceled)
}

// outage is longer than the retries of anything that would retry a
// statement, so that a process that gives up on a lost database does so
// during it.
const outage = 3500 * time.Millisecond
