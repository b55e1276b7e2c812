package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/replay"
)

// TestStatusAnswersWhileMainPoolBusy: with every connection of the main
// pool held (slow requests), /status and /metrics still answer from their
// own small pool, and a request that needs the main pool fails with 503
// after RequestTimeout instead of waiting for ever.
func TestStatusAnswersWhileMainPoolBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLeader(t)
	history(t, l, 50)
	head := l.head(t)

	statusCfg := l.pool.Config()
	statusCfg.MaxConns = 1
	statusPool, err := pgxpool.NewWithConfig(ctx, statusCfg)
	require.NoError(t, err)
	defer statusPool.Close()
	_, base := httpServer(t, l.pool, replay.ServerConfig{StatusDB: statusPool, RequestTimeout: time.Second})

	// Take every connection the main pool will give.
	var held []*pgxpool.Conn
	for {
		actx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		c, err := l.pool.Acquire(actx)
		cancel()
		if err != nil {
			break
		}
		held = append(held, c)
	}
	require.Len(t, held, int(l.pool.Config().MaxConns))
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()

	// A client that gives up long after the server should have answered.
	client := &http.Client{Timeout: 20 * time.Second}
	fetch := func(path string) (int, string) {
		resp, err := client.Get(base + path)
		require.NoError(t, err, path)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, body := fetch("/status")
	require.Equal(t, http.StatusOK, code, body)
	var st struct {
		changelog.Status
	}
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.Equal(t, head, st.HeadSeq)

	code, body = fetch("/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, fmt.Sprintf("deltalog_changelog_head_seq %d\n", head))

	code, body = fetch("/changelog?after=0")
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.True(t, strings.HasPrefix(body, "request took longer than 1s"), body)
}
