package replay_test

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/dbtest"
	"github.com/deltalog/deltalog/replay"
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

// natsServer starts an embedded NATS server with JetStream.
func natsServer(t testing.TB) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(t.TempDir(), "js"),
		NoLog: true, NoSigs: true,
	})
	require.NoError(t, err)
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns.ClientURL()
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
	srv, err := replay.NewServer(context.Background(), cfg)
	require.NoError(t, err)
	hs := httptest.NewUnstartedServer(srv.Handler())
	if smallBuffers {
		hs.Listener = smallBufferListener{hs.Listener}
	}
	hs.Start()
	t.Cleanup(func() {
		srv.Close()
		hs.CloseClientConnections()
		hs.Close()
	})
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

// contents summarizes a database's replicated tables by content, with
// repository ids replaced by names (a follower numbers its repositories
// itself): equal maps mean equal current state, changelog and batches.
func contents(t testing.TB, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	queries := map[string]string{
		"packages": `SELECT r.name, p.project, p.checksum, p.name, p.version, p.version_key, p.summary, p.category,
			p.maintainers, p.links, p.extra FROM packages p JOIN repos r ON r.id = p.repo_id`,
		"packagesets": `SELECT r.name, s.project, s.checksum, s.num_packages, s.invalid
			FROM packagesets s JOIN repos r ON r.id = s.repo_id`,
		"repos": `SELECT name, state_checksum, num_packages, num_packagesets, hash_seed, hash_version, version_scheme FROM repos`,
		"changelog": `SELECT c.seq, c.batch_id, r.name, c.project, c.kind, c.old_checksum, c.new_checksum,
			c.removed, c.added FROM changelog c JOIN repos r ON r.id = c.repo_id`,
		"batches": `SELECT b.id, r.name, b.kind, b.files, b.started_at, b.finished_at, b.hash_seed, b.hash_version, b.version_scheme,
			b.first_seq, b.last_seq, b.counts, b.reason, b.actor, b.repo_state_checksum, b.global_state_checksum
			FROM batches b JOIN repos r ON r.id = b.repo_id`,
		"head": `SELECT seq FROM changelog_head`,
	}
	out := map[string]string{}
	for name, q := range queries {
		var n int64
		var sum string
		require.NoError(t, pool.QueryRow(context.Background(),
			`SELECT count(*), coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '') FROM (`+q+`) t`).Scan(&n, &sum), name)
		out[name] = fmt.Sprintf("%d rows %s", n, sum)
	}
	return out
}

func status(t testing.TB, pool *pgxpool.Pool) *changelog.Status {
	t.Helper()
	var st *changelog.Status
	require.NoError(t, pgx.BeginTxFunc(context.Background(), pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var err error
		st, err = changelog.ReadStatus(context.Background(), tx)
		return err
	}))
	for i := range st.Repositories {
		st.Repositories[i].UpdatedAt = time.Time{}
	}
	return st
}

// requireSame checks that a follower equals the leader: state checksums
// and the contents of every replicated table.
func requireSame(t testing.TB, leaderPool, followerPool *pgxpool.Pool) {
	t.Helper()
	require.Equal(t, status(t, leaderPool), status(t, followerPool))
	require.Equal(t, contents(t, leaderPool), contents(t, followerPool))
}
