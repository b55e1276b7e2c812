package replay_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/replay"
	"github.com/deltalog/deltalog/replay/internal/replaytest"
)

func streamContents(t *testing.T, url string) []events.Event {
	return replaytest.StreamEvents(t, url, replay.DefaultStream)
}

func requireExactlyOnce(t *testing.T, evs []events.Event, head int64) {
	replaytest.RequireExactlyOnce(t, evs, head)
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
	want, err := changelog.ReadPage(context.Background(), l.pool, changelog.PageParams{})
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
