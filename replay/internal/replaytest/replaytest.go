// Package replaytest holds test helpers shared by the replay tests and the
// process-level crash tests: an embedded NATS server with JetStream, and
// content digests that compare a follower with its leader.
package replaytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/replay"
)

// HTTPFeed serves cfg's changelog feed on a loopback HTTP server and
// returns both servers; the HTTP server's listener is wrapped by wrap when
// it is given. Both are closed at cleanup (registered now: cleanups run in
// reverse, so register the leader's pool before calling HTTPFeed).
func HTTPFeed(tb testing.TB, cfg replay.ServerConfig, wrap func(net.Listener) net.Listener) (*replay.Server, *httptest.Server) {
	tb.Helper()
	srv, err := replay.NewServer(context.Background(), cfg)
	require.NoError(tb, err)
	hs := httptest.NewUnstartedServer(srv.Handler())
	if wrap != nil {
		hs.Listener = wrap(hs.Listener)
	}
	hs.Start()
	tb.Cleanup(func() {
		srv.Close()
		hs.CloseClientConnections()
		hs.Close()
	})
	return srv, hs
}

// NATSServer starts a real NATS server with JetStream, in process, on a
// free loopback port, and returns its URL. It is shut down at cleanup.
func NATSServer(tb testing.TB) string {
	tb.Helper()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(tb.TempDir(), "js"),
		NoLog: true, NoSigs: true,
	})
	require.NoError(tb, err)
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns.ClientURL()
}

// Contents summarizes a database's replicated tables by content, with
// repository ids replaced by names (a follower numbers its repositories
// itself): equal maps mean equal current state, changelog and batches.
func Contents(tb testing.TB, pool *pgxpool.Pool) map[string]string {
	tb.Helper()
	queries := map[string]string{
		"packages": `SELECT r.name, p.project, p.checksum, p.name, p.version, p.version_key, p.summary, p.category,
			p.maintainers, p.links, p.extra FROM packages p JOIN repos r ON r.id = p.repo_id`,
		"packagesets": `SELECT r.name, s.project, s.checksum, s.num_packages, s.invalid
			FROM packagesets s JOIN repos r ON r.id = s.repo_id`,
		"repos": `SELECT name, state_checksum, num_packages, num_packagesets, hash_seed, hash_version, version_scheme FROM repos`,
		"changelog": `SELECT c.seq, c.batch_id, r.name, c.project, c.kind, c.old_checksum, c.new_checksum,
			c.removed, c.added FROM changelog c JOIN repos r ON r.id = c.repo_id`,
		"batches": `SELECT b.id, r.name, b.kind, b.files, b.started_at, b.finished_at, b.hash_seed, b.hash_version,
			b.version_scheme, b.first_seq, b.last_seq, b.counts, b.reason, b.actor, b.repo_state_checksum,
			b.global_state_checksum FROM batches b JOIN repos r ON r.id = b.repo_id`,
		"head": `SELECT seq FROM changelog_head`,
	}
	out := map[string]string{}
	for name, q := range queries {
		var n int64
		var sum string
		require.NoError(tb, pool.QueryRow(context.Background(),
			`SELECT count(*), coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '') FROM (`+q+`) t`).Scan(&n, &sum), name)
		out[name] = fmt.Sprintf("%d rows %s", n, sum)
	}
	return out
}

// Status reads head, state checksums and repositories in one snapshot,
// without the update times (a follower's are its own).
func Status(tb testing.TB, pool *pgxpool.Pool) *changelog.Status {
	tb.Helper()
	var st *changelog.Status
	require.NoError(tb, pgx.BeginTxFunc(context.Background(), pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead},
		func(tx pgx.Tx) error {
			var err error
			st, err = changelog.ReadStatus(context.Background(), tx)
			return err
		}))
	for i := range st.Repositories {
		st.Repositories[i].UpdatedAt = time.Time{}
	}
	return st
}

// RequireSame checks that a follower equals its leader: state checksums
// and the contents of every replicated table.
func RequireSame(tb testing.TB, leader, follower *pgxpool.Pool) {
	tb.Helper()
	require.Equal(tb, Status(tb, leader), Status(tb, follower))
	require.Equal(tb, Contents(tb, leader), Contents(tb, follower))
}

// StreamEvents reads every message of a replicated stream and returns the
// events of its pages in stream order, checking each message's subject,
// id and headers against its page.
func StreamEvents(tb testing.TB, url, name string) []events.Event {
	tb.Helper()
	nc, err := nats.Connect(url)
	require.NoError(tb, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(tb, err)
	ctx := context.Background()
	stream, err := js.Stream(ctx, name)
	require.NoError(tb, err)
	info, err := stream.Info(ctx)
	require.NoError(tb, err)
	var out []events.Event
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		require.NoError(tb, err)
		var page changelog.Page
		require.NoError(tb, json.Unmarshal(msg.Data, &page))
		require.NotEmpty(tb, page.Events)
		require.Len(tb, page.Batches, 1)
		first, last := page.Events[0], page.Events[len(page.Events)-1]
		require.Equal(tb, replay.Subject(replay.DefaultSubjectPrefix, first.Repo), msg.Subject)
		require.Equal(tb, strconv.FormatInt(last.Seq, 10), msg.Header.Get(nats.MsgIdHdr), "the last seq is the message id")
		require.Equal(tb, strconv.FormatInt(first.Seq, 10), msg.Header.Get(replay.HeaderFirstSeq))
		for _, ev := range page.Events {
			require.Equal(tb, page.Batches[0].ID, ev.Batch, "one batch per message")
		}
		out = append(out, page.Events...)
	}
	return out
}

// RequireExactlyOnce checks that evs are seqs 1..head, each once, in order.
func RequireExactlyOnce(tb testing.TB, evs []events.Event, head int64) {
	tb.Helper()
	require.Len(tb, evs, int(head))
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			require.Equal(tb, int64(i+1), ev.Seq, "event %d of the stream", i)
		}
	}
}
