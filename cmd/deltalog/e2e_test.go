package main

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/bintest"
	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
)

// binary is the deltalog command built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	os.Exit(bintest.Run(m, &binary))
}

func sharedFile(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", pattern))
	if len(m) != 1 {
		t.Skipf("shared data not found: %s", pattern)
	}
	return m[0]
}

func ingestInto(t *testing.T, pool *pgxpool.Pool, repo string, f formats.Format, files ...string) {
	t.Helper()
	u, err := changelog.NewUpdater(pool, changelog.Config{})
	require.NoError(t, err)
	_, err = ingest.Run(context.Background(), u, ingest.Params{Repo: repo, Format: f, Files: files})
	require.NoError(t, err)
}

// TestProjectWorkerSurvivesSIGKILL kills `deltalog project` at random
// moments while it applies a large page, restarts it, and requires the
// derived tables to end exactly as an uninterrupted run leaves them.
func TestProjectWorkerSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	sources := sharedFile(t, "debian/debian-bookworm-main-Sources-*.xz")
	ctx := context.Background()

	killedURL := dbtest.NewURL(t)
	killed, err := pgxpool.New(ctx, killedURL)
	require.NoError(t, err)
	defer killed.Close()
	clean := dbtest.New(t)
	ingestInto(t, killed, "debian_12", formats.DebianSources, sources)
	ingestInto(t, clean, "debian_12", formats.DebianSources, sources)
	head, err := changelog.Head(ctx, killed)
	require.NoError(t, err)

	// Uninterrupted reference run (a fresh catalog: by a rebuild from
	// state, while the killed worker pages).
	ps, err := projections.Default(projections.CatalogConfig{})
	require.NoError(t, err)
	r, err := projections.NewRunner(projections.Config{DB: clean, Projections: ps, PageSize: 20000})
	require.NoError(t, err)
	require.NoError(t, r.Run(ctx, false))
	want, err := projections.Digest(ctx, clean)
	require.NoError(t, err)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for attempt := 0; attempt < 8 && kills < 3; attempt++ {
		cmd := exec.Command(binary, "project", "--db", killedURL, "--page-size", "20000", "--rebuild-lag", "-1")
		require.NoError(t, cmd.Start())
		time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err == nil {
			kills++
		}
		_ = cmd.Wait()
		// Whatever the moment, each checkpoint is at a page boundary: a
		// page is applied whole or not at all.
		sts, err := projections.ReadStatus(ctx, killed)
		require.NoError(t, err)
		for _, s := range sts {
			require.Contains(t, []int64{0, 20000, head}, s.Checkpoint, "%s checkpoint mid-page", s.Name)
		}
	}
	require.Positive(t, kills)

	out, err := exec.Command(binary, "project", "--db", killedURL, "--page-size", "20000", "--rebuild-lag", "-1").CombinedOutput()
	require.NoError(t, err, string(out))
	got, err := projections.Digest(ctx, killed)
	require.NoError(t, err)
	require.Equal(t, want, got)

	tx, err := killed.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	diffs, err := projections.Verify(ctx, tx)
	require.NoError(t, err)
	for _, d := range diffs {
		require.True(t, d.Clean(), "%+v", d)
	}
}

// TestFollowerWithProjectionsMatchesLeader: a follower fed over HTTP with
// --project ends with the leader's derived tables.
func TestFollowerWithProjectionsMatchesLeader(t *testing.T) {
	t.Parallel()
	base := sharedFile(t, "debian/debian-bookworm-updates-main-Sources-*.xz")
	security := sharedFile(t, "debian/debian-bookworm-security-main-Sources-*.xz")
	ctx := context.Background()
	leaderURL := dbtest.NewURL(t)
	leader, err := pgxpool.New(ctx, leaderURL)
	require.NoError(t, err)
	defer leader.Close()
	ingestInto(t, leader, "a", formats.DebianSources, security)
	ingestInto(t, leader, "b", formats.DebianSources, base, security)
	ingestInto(t, leader, "a", formats.DebianSources, base, security)
	out, err := exec.Command(binary, "project", "--db", leaderURL).CombinedOutput()
	require.NoError(t, err, string(out))
	head, err := changelog.Head(ctx, leader)
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	serve := exec.Command(binary, "serve", "--db", leaderURL, "--addr", addr)
	require.NoError(t, serve.Start())
	defer func() { _ = serve.Process.Kill(); _ = serve.Wait() }()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/status")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond)

	followerURL := dbtest.NewURL(t)
	out, err = exec.Command(binary, "follow", "--from", "http://"+addr, "--db", followerURL, "--project",
		"--until", strconv.FormatInt(head, 10)).CombinedOutput()
	require.NoError(t, err, string(out))

	follower, err := pgxpool.New(ctx, followerURL)
	require.NoError(t, err)
	defer follower.Close()
	want, err := projections.Digest(ctx, leader)
	require.NoError(t, err)
	got, err := projections.Digest(ctx, follower)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.NotEqual(t, "0 ", got["projects"][:2], "the follower projected something")
}
