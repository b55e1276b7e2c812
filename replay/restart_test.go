package replay_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/replay"
)

// crashable is a leader and a follower database on a cluster of the
// test's own, which it may crash.
type crashable struct {
	srv  *dbtest.Server
	l    *leader
	fp   *pgxpool.Pool
	logs *dbtest.Logs
}

func setupCrashable(t *testing.T, n int) *crashable {
	t.Helper()
	srv := dbtest.NewServer(t)
	open := func(name string) *pgxpool.Pool {
		pool, err := pgxpool.New(context.Background(), srv.NewURL(t, name))
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		return pool
	}
	lp, fp := open("leader"), open("follower")
	u, err := changelog.NewUpdater(lp, changelog.Config{})
	require.NoError(t, err)
	l := &leader{pool: lp, u: u}
	history(t, l, n)
	return &crashable{srv: srv, l: l, fp: fp, logs: dbtest.NewLogs(t)}
}

// follow runs a follower of from until ctx ends and waits until it applied
// its first batch; its outcome arrives on the channel.
func (c *crashable) follow(t *testing.T, ctx context.Context, from string) chan error {
	t.Helper()
	f, err := replay.NewFollower(replay.FollowerConfig{DB: c.fp, From: from, ChunkEvents: 50, Logger: c.logs.Logger()})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	require.Eventually(t, func() bool { return c.followerHead() > 0 }, time.Minute, 5*time.Millisecond)
	return done
}

// followerHead is the follower's head, or -1 while its database is down.
func (c *crashable) followerHead() int64 {
	h, err := changelog.Head(context.Background(), c.fp)
	if err != nil {
		return -1
	}
	return h
}

// outage crashes the cluster, runs during (the outage has begun), waits
// longer than anything that would retry a statement lasts, checks that no
// process gave up, and starts the cluster again.
func (c *crashable) outage(t *testing.T, during func(), running map[string]chan error) {
	t.Helper()
	c.srv.Crash(t)
	during()
	time.Sleep(3500 * time.Millisecond)
	for what, done := range running {
		select {
		case err := <-done:
			t.Fatalf("the %s gave up while the database was down: %v", what, err)
		default:
		}
	}
	c.srv.Start(t)
}

// catchUp appends a batch after the restart and waits for the follower to
// apply everything, then compares it with the leader.
func (c *crashable) catchUp(t *testing.T) int64 {
	t.Helper()
	res := c.l.update(t, "gamma", synth(100, 0), 0)
	require.Eventually(t, func() bool { return c.followerHead() == res.HeadSeq },
		2*time.Minute, 20*time.Millisecond, "the follower resumed and caught up")
	requireSame(t, c.l.pool, c.fp)
	return res.HeadSeq
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
	c := setupCrashable(t, 200)
	natsURL := natsServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	head := c.l.head(t)
	replicate(t, c.l.pool, natsURL, head/2)
	followed := c.follow(t, ctx, natsURL)

	// The follower is at work; the replicator starts while the database
	// is down.
	replicated := make(chan error, 1)
	c.outage(t, func() {
		r, err := replay.NewReplicator(replay.ReplicatorConfig{DB: c.l.pool, URL: natsURL, PageEvents: 50, Logger: c.logs.Logger()})
		require.NoError(t, err)
		go func() { replicated <- r.Run(ctx) }()
	}, map[string]chan error{"replicator": replicated, "follower": followed})
	require.Less(t, c.followerHead(), head, "crashed while the follower was behind")

	head = c.catchUp(t)
	requireExactlyOnce(t, streamContents(t, natsURL), head)
	require.Contains(t, c.logs.String(), `msg="waiting for the database" who=replicator`)
	require.Contains(t, c.logs.String(), `msg="waiting for the database" who=follower`)
	cancel()
	require.ErrorIs(t, <-replicated, context.Canceled)
	require.ErrorIs(t, <-followed, context.Canceled)
}

// TestServeSurvivesPostgresRestart: the HTTP server answers through an
// outage of its database — /status with 503 and "database": "waiting",
// /metrics with deltalog_database_waiting 1 — and serves again once it is
// back, without a restart; a follower reading its SSE stream (its database
// on the same crashed cluster) reconnects and ends with the leader's state.
func TestServeSurvivesPostgresRestart(t *testing.T) {
	t.Parallel()
	c := setupCrashable(t, 100)
	_, base := httpServer(t, c.l.pool, replay.ServerConfig{})
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	statusOf := func() (int, replay.ServerStatus) {
		t.Helper()
		code, body := get("/status")
		var st replay.ServerStatus
		require.NoError(t, json.Unmarshal([]byte(body), &st), body)
		return code, st
	}
	code, st := statusOf()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", st.Database)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	followed := c.follow(t, ctx, base)
	c.outage(t, func() {
		code, st := statusOf()
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.Equal(t, "waiting", st.Database)
		require.NotEmpty(t, st.Error)
		code, body := get("/metrics")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "\ndeltalog_database_waiting 1\n")
	}, map[string]chan error{"follower": followed})

	head := c.catchUp(t)
	code, st = statusOf()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", st.Database)
	require.Equal(t, head, st.HeadSeq)
	_, body := get("/metrics")
	require.Contains(t, body, "\ndeltalog_database_waiting 0\n")
	cancel()
	require.ErrorIs(t, <-followed, context.Canceled)
}
