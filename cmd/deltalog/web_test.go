package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mmcdole/gofeed"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/web"
)

// startServe runs `deltalog serve` on dbURL and returns its base URL once
// it answers.
func startServe(t *testing.T, dbURL string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	serve := exec.Command(binary, "serve", "--db", dbURL, "--addr", addr)
	require.NoError(t, serve.Start())
	t.Cleanup(func() { _ = serve.Process.Kill(); _ = serve.Wait() })
	base := "http://" + addr
	require.Eventually(t, func() bool { return httpStatus(base+"/status") == http.StatusOK }, 20*time.Second, 50*time.Millisecond)
	return base
}

func httpStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func feedIDs(t *testing.T, url string) []string {
	t.Helper()
	feed, err := gofeed.NewParser().ParseURL(url)
	require.NoError(t, err, url)
	var ids []string
	for _, e := range feed.Items {
		ids = append(ids, e.GUID)
	}
	return ids
}

// TestServeReadSide: serve mounts the read side beside the replication
// API; a follower serves the leader's feeds with the same entry ids; and
// the read side's queries run under the read-only role (taking a grant
// from the role breaks them, though the server's own user could read).
func TestServeReadSide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	leaderURL := dbtest.NewURL(t)
	leader, err := pgxpool.New(ctx, leaderURL)
	require.NoError(t, err)
	defer leader.Close()
	ingestInto(t, leader, "bookworm", formats.DebianSources, "../../testdata/formats/bookworm-main-Sources.xz")
	ingestInto(t, leader, "bookworm", formats.DebianSources, "../../testdata/formats/bookworm-main-Sources.xz",
		"../../testdata/formats/bookworm-updates-main-Sources.xz")
	out, err := exec.Command(binary, "project", "--db", leaderURL).CombinedOutput()
	require.NoError(t, err, string(out))
	head, err := changelog.Head(ctx, leader)
	require.NoError(t, err)
	var project string
	require.NoError(t, leader.QueryRow(ctx,
		"SELECT project FROM project_history ORDER BY seq DESC LIMIT 1").Scan(&project))

	lead := startServe(t, leaderURL)
	for _, path := range []string{"/", "/api/v1/statistics", "/api/v1/project/" + project, "/project/" + project, "/status", "/changelog?limit=1"} {
		require.Equal(t, http.StatusOK, httpStatus(lead+path), path)
	}

	followerURL := dbtest.NewURL(t)
	out, err = exec.Command(binary, "follow", "--from", lead, "--db", followerURL, "--project",
		"--until", strconv.FormatInt(head, 10)).CombinedOutput()
	require.NoError(t, err, string(out))
	follow := startServe(t, followerURL)
	ids := feedIDs(t, lead+"/feeds/project/"+project)
	require.NotEmpty(t, ids)
	require.Equal(t, ids, feedIDs(t, follow+"/feeds/project/"+project))
	require.Equal(t, feedIDs(t, lead+"/feeds/repository/bookworm"), feedIDs(t, follow+"/feeds/repository/bookworm"))

	_, err = leader.Exec(ctx, "REVOKE SELECT ON statistics FROM "+web.ReaderRole)
	require.NoError(t, err)
	require.Equal(t, http.StatusInternalServerError, httpStatus(lead+"/api/v1/statistics"))
	var n int64
	require.NoError(t, leader.QueryRow(ctx, "SELECT num_projects FROM statistics").Scan(&n))
	require.Positive(t, n)
}
