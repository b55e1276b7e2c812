package replay_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/replay"
	"github.com/deltalog/deltalog/replay/internal/replaytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgx's background health checks and nats-server's shutdown stragglers.
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"),
	)
}

// leader is a leader database with an updater.
type leader struct {
	pool *pgxpool.Pool
	u    *changelog.Updater
}

func newLeader(t testing.TB) *leader {
	t.Helper()
	pool := dbtest.New(t)
	u, err := changelog.NewUpdater(pool, changelog.Config{})
	require.NoError(t, err)
	return &leader{pool: pool, u: u}
}

// update applies pkgs as a snapshot of repo hashed with seed (0: default).
func (l *leader) update(t testing.TB, repo string, pkgs []events.Package, seed uint64) *changelog.UpdateResult {
	t.Helper()
	if seed == 0 {
		seed = hashing.DefaultSeed
	}
	res, err := l.u.Update(context.Background(), changelog.UpdateParams{
		Repo: repo, Seed: seed, Force: true,
		Snapshot: hashing.Group(hashing.New(seed), pkgs),
	})
	require.NoError(t, err)
	return res
}

func (l *leader) head(t testing.TB) int64 {
	t.Helper()
	h, err := changelog.Head(context.Background(), l.pool)
	require.NoError(t, err)
	return h
}

// synth returns n packages of a synthetic repository at a generation:
// every project has one or two packages; a generation changes every
// seventh project, drops every eleventh and adds new ones.
func synth(n, gen int) []events.Package {
	var out []events.Package
	for i := range n + gen*n/10 {
		if gen > 0 && i%11 == gen%11 {
			continue
		}
		v := 1
		if i%7 == gen%7 {
			v = 1 + gen
		}
		project := fmt.Sprintf("proj-%05d", i)
		p := events.Package{
			Project: project, Name: project, Version: fmt.Sprintf("%d.0", v),
			Summary:     "synthetic package " + project,
			Maintainers: []events.Maintainer{{Email: fmt.Sprintf("m%d@example.org", i%97), Name: "Maintainer"}},
			Links:       []events.Link{{Kind: "homepage", URL: "https://example.org/" + project}},
			Extra:       map[string]string{"rank": fmt.Sprint(i)},
		}
		out = append(out, p)
		if i%5 == 0 {
			doc := p
			doc.Name = project + "-doc"
			doc.Extra = nil
			out = append(out, doc)
		}
	}
	return out
}

// history builds a small multi-repository changelog on l: several
// generations of two repositories and a change of hash seed.
func history(t testing.TB, l *leader, n int) {
	t.Helper()
	for gen := range 4 {
		l.update(t, "alpha", synth(n, gen), 0)
		l.update(t, "beta", synth(n/2, gen+3), 0)
	}
	l.update(t, "alpha", synth(n, 4), 42) // a new seed re-derives alpha
	l.update(t, "beta", synth(n/2, 1), 0)
}

// httpServer serves l over HTTP.
func httpServer(t testing.TB, pool *pgxpool.Pool, cfg replay.ServerConfig) (*replay.Server, string) {
	return httpServerOpts(t, pool, cfg, false)
}

// smallBufferListener gives accepted connections small send buffers, so
// that a client that does not read blocks the server's writes at once.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func httpServerOpts(t testing.TB, pool *pgxpool.Pool, cfg replay.ServerConfig, smallBuffers bool) (*replay.Server, string) {
	t.Helper()
	cfg.DB = pool
	var wrap func(net.Listener) net.Listener
	if smallBuffers {
		wrap = func(l net.Listener) net.Listener { return smallBufferListener{l} }
	}
	srv, hs := replaytest.HTTPFeed(t, cfg, wrap)
	return srv, hs.URL
}

func follow(t testing.TB, db *pgxpool.Pool, from string, until int64) error {
	t.Helper()
	f, err := replay.NewFollower(replay.FollowerConfig{DB: db, From: from, Until: until, ChunkEvents: 300})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return f.Run(ctx)
}

func replicate(t testing.TB, db *pgxpool.Pool, url string, until int64) {
	t.Helper()
	r, err := replay.NewReplicator(replay.ReplicatorConfig{DB: db, URL: url, Until: until, PageEvents: 400})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, r.Run(ctx))
}

func natsServer(t testing.TB) string { return replaytest.NATSServer(t) }

func status(t testing.TB, pool *pgxpool.Pool) *changelog.Status { return replaytest.Status(t, pool) }

func requireSame(t testing.TB, leaderPool, followerPool *pgxpool.Pool) {
	t.Helper()
	replaytest.RequireSame(t, leaderPool, followerPool)
}
