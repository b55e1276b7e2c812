package replay_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/replay"
)

// streamContents reads every message of the stream: the events of the
// pages in stream order, with each message's subject and id checked.
func streamContents(t *testing.T, url string) []events.Event {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	stream, err := js.Stream(ctx, replay.DefaultStream)
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	var out []events.Event
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		var page replay.Page
		require.NoError(t, json.Unmarshal(msg.Data, &page))
		require.NotEmpty(t, page.Events)
		require.Len(t, page.Batches, 1)
		first, last := page.Events[0], page.Events[len(page.Events)-1]
		require.Equal(t, replay.Subject(replay.DefaultSubjectPrefix, first.Repo), msg.Subject)
		require.Equal(t, strconv.FormatInt(last.Seq, 10), msg.Header.Get(nats.MsgIdHdr), "the last seq is the message id")
		require.Equal(t, strconv.FormatInt(first.Seq, 10), msg.Header.Get(replay.HeaderFirstSeq))
		for _, ev := range page.Events {
			require.Equal(t, page.Batches[0].ID, ev.Batch, "one batch per message")
		}
		out = append(out, page.Events...)
	}
	return out
}

// requireExactlyOnce checks that evs are seqs 1..head, each once.
func requireExactlyOnce(t *testing.T, evs []events.Event, head int64) {
	t.Helper()
	require.Len(t, evs, int(head))
	for i, ev := range evs {
		require.Equal(t, int64(i+1), ev.Seq)
	}
}

// TestReplicatorExactlyOnce: restarted at any position, and even run twice
// at once on the same stream, the replicator leaves every seq in the stream
// exactly once, in order.
func TestReplicatorExactlyOnce(t *testing.T) {
	t.Parallel()
	l := newLeader(t)
	history(t, l, 200)
	url := natsServer(t)
	head := l.head(t)

	replicate(t, l.pool, url, 17)
	replicate(t, l.pool, url, head/2)
	replicate(t, l.pool, url, head/2) // nothing to do
	replicate(t, l.pool, url, head)
	requireExactlyOnce(t, streamContents(t, url), head)

	// Two replicators race on new batches: the stream's expected-last-
	// sequence check refuses the loser's publishes, which then resyncs.
	l.update(t, "alpha", synth(200, 6), 0)
	l.update(t, "gamma", synth(300, 0), 0)
	head = l.head(t)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			r, err := replay.NewReplicator(replay.ReplicatorConfig{DB: l.pool, URL: url, Until: head, PageEvents: 20})
			if err == nil {
				err = r.Run(context.Background())
			}
			require.NoError(t, err)
		})
	}
	wg.Wait()
	evs := streamContents(t, url)
	requireExactlyOnce(t, evs, head)
	want, err := replay.ReadPage(context.Background(), l.pool, replay.PageParams{})
	require.NoError(t, err)
	require.Equal(t, want.Events, evs)
}

// TestReplicatorFollows: a following replicator publishes appends as they
// commit, woken by the changelog's notifications.
func TestReplicatorFollows(t *testing.T) {
	t.Parallel()
	l := newLeader(t)
	l.update(t, "alpha", synth(50, 0), 0)
	url := natsServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := replay.NewReplicator(replay.ReplicatorConfig{DB: l.pool, URL: url})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	res := l.update(t, "beta", synth(10, 0), 0)
	// A follower over NATS sees it: it stops once it has the new head.
	f := newLeader(t)
	require.NoError(t, follow(t, f.pool, url, res.HeadSeq))
	requireSame(t, l.pool, f.pool)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	_ = time.Second
}

func TestSubject(t *testing.T) {
	t.Parallel()
	for repo, want := range map[string]string{
		"debian_12":  "p.debian_12",
		"a.b c*>%":   "p.a%2Eb%20c%2A%3E%25",
		"ubuntu-24":  "p.ubuntu-24",
		"naïve":      "p.na%C3%AFve",
		"tab\tsplit": "p.tab%09split",
	} {
		require.Equal(t, want, replay.Subject("p", repo))
	}
}
