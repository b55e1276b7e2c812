package replay_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/replay"
)

func get(t *testing.T, u string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp := get(t, u)
	require.Equal(t, http.StatusOK, resp.StatusCode, u)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// TestHTTPAPI: keyset paging returns the changelog with its batch records;
// limits are enforced; batches, status and metrics are served.
func TestHTTPAPI(t *testing.T) {
	t.Parallel()
	l := newLeader(t)
	history(t, l, 100)
	head := l.head(t)
	_, base := httpServer(t, l.pool, replay.ServerConfig{DefaultLimit: 50, MaxLimit: 500,
		ProjectionStatusFunc: func(context.Context) ([]replay.ProjectionStatus, error) {
			return []replay.ProjectionStatus{{Name: "catalog", Checkpoint: 10, LastApplySeconds: 0.5}}, nil
		}})

	var all []events.Event
	after := int64(0)
	for {
		var page changelog.Page
		getJSON(t, fmt.Sprintf("%s/changelog?after=%d&limit=37", base, after), &page)
		require.Equal(t, head, page.Head)
		for _, ev := range page.Events {
			require.NotNil(t, page.Batch(ev.Batch), "each event's batch record is in the page")
		}
		all = append(all, page.Events...)
		if page.Next == after {
			break
		}
		after = page.Next
	}
	require.Len(t, all, int(head))
	want, err := changelog.ReadPage(context.Background(), l.pool, changelog.PageParams{})
	require.NoError(t, err)
	require.Equal(t, want.Events, all)

	var page changelog.Page
	getJSON(t, base+"/changelog", &page)
	require.Len(t, page.Events, 50, "default limit")
	for _, q := range []string{"limit=501", "limit=0", "limit=-1", "after=x", "after=-3"} {
		require.Equal(t, http.StatusBadRequest, get(t, base+"/changelog?"+q).StatusCode, q)
	}

	var b events.Batch
	getJSON(t, base+"/batches/2", &b)
	require.Equal(t, int64(2), b.ID)
	require.Equal(t, "beta", b.Repo)
	require.Equal(t, events.VersionScheme("generic"), b.VersionScheme)
	require.Equal(t, http.StatusNotFound, get(t, base+"/batches/999").StatusCode)
	require.Equal(t, http.StatusBadRequest, get(t, base+"/batches/x").StatusCode)

	var st replay.ServerStatus
	getJSON(t, base+"/status", &st)
	require.Equal(t, head, st.HeadSeq)
	require.Len(t, st.Repositories, 2)
	require.Equal(t, []replay.ProjectionLag{{ProjectionStatus: replay.ProjectionStatus{Name: "catalog", Checkpoint: 10, LastApplySeconds: 0.5}, Lag: head - 10}}, st.Projections)

	get(t, base+"/changelog?after=0&limit=37") // a second read of a page: a cache hit
	resp := get(t, base+"/metrics")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	metrics := string(body)
	for _, want := range []string{
		fmt.Sprintf("deltalog_changelog_head_seq %d", head),
		`deltalog_projection_checkpoint_seq{projection="catalog"} 10`,
		fmt.Sprintf(`deltalog_projection_lag_events{projection="catalog"} %d`, head-10),
		`deltalog_update_duration_seconds{repo="alpha"}`,
		`deltalog_page_cache_hits_total 1`,
		`deltalog_http_request_duration_seconds_count{route="GET /changelog"}`,
	} {
		require.Contains(t, metrics, want)
	}
}

// sseEvents reads an SSE stream until n events arrived, returning the
// events and the batch records seen before each batch's events.
func sseEvents(t *testing.T, body io.Reader, n int) ([]events.Event, []events.Batch) {
	t.Helper()
	r := replay.NewSSEReader(body)
	var evs []events.Event
	var bs []events.Batch
	for len(evs) < n {
		m, err := r.Next()
		require.NoError(t, err)
		switch m.Type {
		case "batch":
			var b events.Batch
			require.NoError(t, json.Unmarshal(m.Data, &b))
			bs = append(bs, b)
		case "event":
			var ev events.Event
			require.NoError(t, json.Unmarshal(m.Data, &ev))
			require.Equal(t, fmt.Sprint(ev.Seq), m.ID)
			require.NotEmpty(t, bs)
			require.Equal(t, bs[len(bs)-1].ID, ev.Batch, "the batch record comes before its events")
			evs = append(evs, ev)
		}
	}
	return evs, bs
}

// TestSSEResumes: the stream resumes from Last-Event-ID, even inside a
// batch (whose record it sends first), follows appends, and ends at until.
func TestSSEResumes(t *testing.T) {
	t.Parallel()
	l := newLeader(t)
	history(t, l, 100)
	head := l.head(t)
	_, base := httpServer(t, l.pool, replay.ServerConfig{StreamPageSize: 9})
	want, err := changelog.ReadPage(context.Background(), l.pool, changelog.PageParams{})
	require.NoError(t, err)

	resp := get(t, base+"/changelog/stream", "Last-Event-ID", "40")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	evs, bs := sseEvents(t, resp.Body, int(head-40))
	require.Equal(t, want.Events[40:], evs)
	wantB, err := json.Marshal(want.Batch(evs[0].Batch))
	require.NoError(t, err)
	gotB, err := json.Marshal(bs[0])
	require.NoError(t, err)
	require.JSONEq(t, string(wantB), string(gotB))

	// Following: an append arrives on the open stream.
	res := l.update(t, "gamma", synth(5, 0), 0)
	more, _ := sseEvents(t, resp.Body, int(res.HeadSeq-head))
	require.Equal(t, res.FirstSeq, more[0].Seq)
	require.Equal(t, "gamma", more[0].Repo)
	require.NotNil(t, more[len(more)-1].BatchEnd)

	// until ends the stream; a repository filter keeps that repository.
	resp = get(t, base+"/changelog/stream?after=3&until=10&repo=alpha")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	evs, _ = sseEvents(t, strings.NewReader(string(body)), strings.Count(string(body), "event: event"))
	for _, ev := range evs {
		require.Equal(t, "alpha", ev.Repo)
		require.LessOrEqual(t, ev.Seq, int64(10))
		require.Greater(t, ev.Seq, int64(3))
	}
	require.Equal(t, http.StatusBadRequest, get(t, base+"/changelog/stream", "Last-Event-ID", "x").StatusCode)
}

// stall opens a stream and never reads it.
func stall(t *testing.T, base string) net.Conn {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	c, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.(*net.TCPConn).SetReadBuffer(4096))
	_, err = fmt.Fprintf(c, "GET /changelog/stream HTTP/1.1\r\nHost: %s\r\n\r\n", u.Host)
	require.NoError(t, err)
	// Its response has started: the server holds a slot for it.
	line, err := bufio.NewReaderSize(c, 16).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "200")
	return c
}

// TestSlowStreamClient: a client that stops reading holds only its own
// stream: others are served meanwhile, and the stream limit counts it.
func TestSlowStreamClient(t *testing.T) {
	t.Parallel()
	l := newLeader(t)
	history(t, l, 1500)
	head := l.head(t)
	_, base := httpServerOpts(t, l.pool, replay.ServerConfig{MaxStreams: 2, WriteTimeout: time.Hour}, true)
	stall(t, base)

	// A second client reads the whole log meanwhile.
	resp := get(t, base+"/changelog/stream")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	evs, _ := sseEvents(t, resp.Body, int(head))
	require.Equal(t, head, evs[len(evs)-1].Seq)

	// Both slots are taken: a third stream is refused.
	third := get(t, base+"/changelog/stream")
	require.Equal(t, http.StatusServiceUnavailable, third.StatusCode)
	require.Equal(t, "1", third.Header.Get("Retry-After"))
}

// TestStalledStreamDropped: the write timeout drops a client that does not
// read, freeing its slot (the only one here) for the next client.
func TestStalledStreamDropped(t *testing.T) {
	t.Parallel()
	l := newLeader(t)
	history(t, l, 1500)
	head := l.head(t)
	_, base := httpServerOpts(t, l.pool, replay.ServerConfig{MaxStreams: 1, WriteTimeout: 200 * time.Millisecond}, true)
	stalled := stall(t, base)
	for {
		r := get(t, fmt.Sprintf("%s/changelog/stream?after=%d&until=%d", base, head-1, head))
		if r.StatusCode == http.StatusOK {
			evs, _ := sseEvents(t, r.Body, 1)
			require.Equal(t, head, evs[0].Seq)
			break
		}
		require.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
		time.Sleep(50 * time.Millisecond)
	}
	// The server closed the stalled connection: reading it to the end ends.
	_, _ = io.Copy(io.Discard, stalled)
}
