package replay_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/replay"
	"github.com/deltalog/deltalog/replay/internal/replaytest"
)

// sharedDebian returns the real Debian index files matching each pattern,
// skipping the test when the shared data is absent.
func sharedDebian(t *testing.T, patterns ...string) []string {
	t.Helper()
	var out []string
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join("..", "..", "shared", "data", "debian", p))
		if len(m) != 1 {
			t.Skipf("shared Debian data not found (%s)", p)
		}
		out = append(out, m[0])
	}
	return out
}

// TestFollowersConvergeOnDebian is the acceptance test: real Debian
// data through bookworm → bookworm with its overlays → trixie on the
// leader, one follower fed over HTTP (SSE) and one over NATS JetStream;
// both end with the leader's state checksums, packages and changelog.
func TestFollowersConvergeOnDebian(t *testing.T) {
	t.Parallel()
	bookworm := sharedDebian(t, "debian-bookworm-main-Sources-*.xz")
	overlays := sharedDebian(t, "debian-bookworm-updates-main-Sources-*.xz", "debian-bookworm-security-main-Sources-*.xz")
	trixie := sharedDebian(t, "debian-trixie-main-Sources-*.xz", "debian-trixie-updates-main-Sources-*.xz",
		"debian-trixie-security-main-Sources-*.xz")
	l := newLeader(t)
	ctx := context.Background()
	start := time.Now()
	for _, files := range [][]string{bookworm, append(slices.Clone(bookworm), overlays...), trixie} {
		_, err := ingest.Run(ctx, l.u, ingest.Params{Repo: "debian", Format: formats.DebianSources, Files: files})
		require.NoError(t, err)
	}
	head := l.head(t)
	require.Greater(t, head, int64(50000))
	t.Logf("leader: %d events in %v", head, time.Since(start))
	start = time.Now()

	_, httpURL := httpServer(t, l.pool, replay.ServerConfig{})
	natsURL := natsServer(t)
	viaHTTP, viaNATS := dbtest.New(t), dbtest.New(t)

	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() { errs[0] = follow(t, viaHTTP, httpURL, head) })
	wg.Go(func() {
		r, err := replay.NewReplicator(replay.ReplicatorConfig{DB: l.pool, URL: natsURL, Until: head})
		if err == nil {
			err = r.Run(ctx)
		}
		errs[1] = err
	})
	wg.Go(func() { errs[2] = follow(t, viaNATS, natsURL, head) })
	wg.Wait()
	t.Logf("followers: %v", time.Since(start))
	for _, err := range errs {
		require.NoError(t, err)
	}
	requireSame(t, l.pool, viaHTTP)
	requireSame(t, l.pool, viaNATS)
}

// TestFollowerResumesAndRederives: a follower stopped in the middle resumes
// where its head is, applies a change of hash seed (which re-keys every
// package), and is a no-op once it is at the head.
func TestFollowerResumesAndRederives(t *testing.T) {
	t.Parallel()
	l := newLeader(t)
	history(t, l, 300)
	head := l.head(t)
	_, url := httpServer(t, l.pool, replay.ServerConfig{})
	f := dbtest.New(t)

	// Up to the end of the third batch, then the rest.
	bs, err := changelog.ReadBatches(context.Background(), l.pool, []int64{3})
	require.NoError(t, err)
	require.Len(t, bs, 1)
	require.NoError(t, follow(t, f, url, bs[0].LastSeq))
	require.Equal(t, bs[0].LastSeq, status(t, f).HeadSeq)
	require.NoError(t, follow(t, f, url, head))
	requireSame(t, l.pool, f)

	// Again from the head: nothing to do, nothing written.
	before := dbtest.Digest(t, f)
	require.NoError(t, follow(t, f, url, head))
	require.Equal(t, before, dbtest.Digest(t, f))

	// The leader goes on; the follower catches up over NATS this time.
	l.update(t, "beta", synth(150, 7), 0)
	l.update(t, "alpha", synth(300, 5), 42)
	natsURL := natsServer(t)
	replicate(t, l.pool, natsURL, l.head(t))
	require.NoError(t, follow(t, f, natsURL, l.head(t)))
	requireSame(t, l.pool, f)
	requireBucketsKept(t, f)
}

// requireBucketsKept: the follower kept every repository's bucket states
// with its packagesets (the audit's repos.buckets check is clean and
// compared them all).
func requireBucketsKept(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	checks, err := changelog.AuditState(ctx, tx, changelog.AuditParams{})
	require.NoError(t, err)
	var repos int64
	require.NoError(t, tx.QueryRow(ctx, "SELECT count(*) FROM repos").Scan(&repos))
	for _, c := range checks {
		if c.Name == changelog.CheckBuckets {
			require.True(t, c.Clean(), "%+v", c)
			require.Equal(t, repos, c.Compared)
			return
		}
	}
	t.Fatal("no repos.buckets check")
}

// TestFollowerDetectsDivergence: a follower whose state was changed behind
// its back stops at the next batch that shows it, names the repository
// (and the packageset where it can), and commits nothing of that batch.
func TestFollowerDetectsDivergence(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		tamper        string
		repo, project string
		what          string
	}{
		"package deleted": {`DELETE FROM packages p USING repos r WHERE r.id = p.repo_id AND r.name = 'alpha'
			AND p.name = 'proj-00010-doc'`, "alpha", "proj-00010", "checksum of the stored packages"},
		"state changed": {`UPDATE repos SET state_checksum = state_checksum + 1 WHERE name = 'beta'`,
			"beta", "", "repository state checksum"},
		"other repository": {`UPDATE repos SET state_checksum = state_checksum + 1 WHERE name = 'alpha'`,
			"beta", "", "global state checksum"},
		"extra packageset": {`INSERT INTO packagesets (repo_id, project, checksum, num_packages)
			SELECT id, 'zzz-new', 1, 1 FROM repos WHERE name = 'beta'`, "beta", "", "packageset added by the leader"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := newLeader(t)
			l.update(t, "alpha", synth(100, 0), 0)
			l.update(t, "beta", synth(100, 0), 0)
			_, url := httpServer(t, l.pool, replay.ServerConfig{})
			f := dbtest.New(t)
			require.NoError(t, follow(t, f, url, l.head(t)))
			requireSame(t, l.pool, f)

			_, err := f.Exec(context.Background(), tc.tamper)
			require.NoError(t, err)
			pkgs := synth(100, 0)
			for i := range pkgs {
				if pkgs[i].Project == "proj-00010" {
					pkgs[i].Version = "9.9"
				}
			}
			pkgs = append(pkgs, events.Package{Project: "zzz-new", Name: "zzz-new", Version: "1"})
			l.update(t, "beta", pkgs, 0)
			l.update(t, "alpha", pkgs, 0)

			err = follow(t, f, url, l.head(t))
			require.ErrorIs(t, err, replay.ErrDiverged)
			var de *replay.DivergenceError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tc.repo, de.Repo, err.Error())
			require.Equal(t, tc.project, de.Project)
			require.Contains(t, de.What, tc.what)
			// The follower stopped right before the diverging batch.
			bs, err := changelog.ReadBatches(context.Background(), l.pool, []int64{de.Batch})
			require.NoError(t, err)
			require.Len(t, bs, 1)
			require.Equal(t, bs[0].FirstSeq-1, status(t, f).HeadSeq, "the diverging batch is not committed")
		})
	}
}

// TestHTTPFeedReconnects: when the leader's server drops the stream again
// and again, the follower reconnects with Last-Event-ID and converges.
func TestHTTPFeedReconnects(t *testing.T) {
	t.Parallel()
	l := newLeader(t)
	history(t, l, 600)
	head := l.head(t)
	_, hs := replaytest.HTTPFeed(t, replay.ServerConfig{DB: l.pool, StreamPageSize: 50}, nil)
	f := dbtest.New(t)
	done := make(chan error, 1)
	go func() { done <- follow(t, f, hs.URL, head) }()
	for drops := 0; ; drops++ {
		select {
		case err := <-done:
			require.NoError(t, err)
			t.Logf("connections dropped %d times", drops)
			requireSame(t, l.pool, f)
			return
		case <-time.After(150 * time.Millisecond):
			hs.CloseClientConnections()
		}
	}
}
