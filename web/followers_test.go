package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/replay"
	"github.com/deltalog/deltalog/web"
)

// TestDashboardShowsFollowers runs a real follower against the leader's
// replication server and checks that the dashboard (and /status) list it
// with the seq it was sent up to, and forget it once it is gone.
func TestDashboardShowsFollowers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	catalog(t, f)
	ctx := context.Background()
	head, err := changelog.Head(ctx, f.admin)
	require.NoError(t, err)

	srv, err := replay.NewServer(ctx, replay.ServerConfig{DB: f.admin})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	leader := httptest.NewServer(srv.Handler())
	t.Cleanup(leader.Close)
	h, err := web.New(web.Config{DB: f.reader, Streams: srv.Streams})
	require.NoError(t, err)
	dash := httptest.NewServer(h)
	t.Cleanup(dash.Close)

	fctx, stop := context.WithCancel(ctx)
	fol, err := replay.NewFollower(replay.FollowerConfig{DB: dbtest.New(t), From: leader.URL})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- fol.Run(fctx) }()

	followers := func() string {
		t.Helper()
		resp, err := http.Get(dash.URL + "/")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		m := regexp.MustCompile(`(?s)<section id="followers">.*?</section>`).Find(b)
		require.NotNil(t, m, "the dashboard has a followers section")
		return string(m)
	}
	row := regexp.MustCompile(`<tr><td>follower</td><td>127\.0\.0\.1:\d+</td><td>all</td><td>[^<]+</td><td>` +
		strconv.FormatInt(head, 10) + `</td><td>0</td></tr>`)
	require.Eventually(t, func() bool { return row.MatchString(followers()) }, time.Minute, 50*time.Millisecond,
		"the follower, sent up to the head %d, 0 behind", head)

	resp, err := http.Get(leader.URL + "/status")
	require.NoError(t, err)
	var st replay.ServerStatus
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	require.Len(t, st.Streams, 1)
	require.True(t, st.Streams[0].Follower)
	require.Equal(t, head, st.Streams[0].Sent)

	stop()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Eventually(t, func() bool { return regexp.MustCompile(`no stream open`).MatchString(followers()) },
		time.Minute, 50*time.Millisecond, "a follower that left is not listed")
}
