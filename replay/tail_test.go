package replay_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/replay"
)

func tailAll(t *testing.T, l *leader, p replay.StreamParams) []events.Event {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, replay.Tail(context.Background(), l.pool, &buf, p))
	var out []events.Event
	dec := json.NewDecoder(&buf)
	for {
		var ev events.Event
		err := dec.Decode(&ev)
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, ev)
	}
}

// TestTail: the JSON lines are the changelog, resumable from any seq,
// filtered by repository and limited, with batch ends where the batches
// end.
func TestTail(t *testing.T) {
	t.Parallel()
	l := newLeader(t)
	history(t, l, 200)
	head := l.head(t)
	page, err := changelog.ReadPage(context.Background(), l.pool, changelog.PageParams{})
	require.NoError(t, err)
	all := page.Events
	require.Len(t, all, int(head))

	// Small pages, to cross page boundaries.
	got := tailAll(t, l, replay.StreamParams{PageSize: 7})
	require.Equal(t, all, got)
	for _, from := range []int64{1, 99, head - 1, head} {
		require.Equal(t, all[from:], nilIfEmpty(tailAll(t, l, replay.StreamParams{After: from, PageSize: 50})), from)
	}
	require.Equal(t, all[10:35], tailAll(t, l, replay.StreamParams{After: 10, Limit: 25, PageSize: 10}))

	// Batch ends: exactly the batches' last events, with their checksums.
	batches := map[int64]bool{}
	for _, ev := range all {
		batches[ev.Batch] = true
	}
	ids := make([]int64, 0, len(batches))
	for id := range batches {
		ids = append(ids, id)
	}
	bs, err := changelog.ReadBatches(context.Background(), l.pool, ids)
	require.NoError(t, err)
	require.Len(t, bs, len(ids))
	ends := 0
	for _, ev := range got {
		if ev.BatchEnd != nil {
			ends++
			b := bs[ev.Batch-bs[0].ID]
			require.Equal(t, b.LastSeq, ev.Seq)
			require.Equal(t, b.RepoStateChecksum, ev.BatchEnd.RepoStateChecksum)
			require.Equal(t, b.GlobalStateChecksum, ev.BatchEnd.GlobalStateChecksum)
		}
	}
	require.Equal(t, len(bs), ends)

	// One repository: its events only, in order, whatever the page size.
	var beta []events.Event
	for _, ev := range all {
		if ev.Repo == "beta" {
			beta = append(beta, ev)
		}
	}
	require.NotEmpty(t, beta)
	require.Equal(t, beta, tailAll(t, l, replay.StreamParams{Repo: "beta", PageSize: 13}))
	require.Equal(t, beta[5:], tailAll(t, l, replay.StreamParams{Repo: "beta", After: beta[4].Seq, PageSize: 1000}))
	require.Empty(t, tailAll(t, l, replay.StreamParams{Repo: "nosuch"}))
}

func nilIfEmpty(evs []events.Event) []events.Event {
	if len(evs) == 0 {
		return []events.Event{}
	}
	return evs
}

// TestTailFollow: a following tail is woken by the append's notification
// and prints what was appended after it started, from where it was.
func TestTailFollow(t *testing.T) {
	t.Parallel()
	l := newLeader(t)
	l.update(t, "alpha", synth(20, 0), 0)
	w, err := changelog.NewWatcher(context.Background(), changelog.WatcherConfig{DB: l.pool})
	require.NoError(t, err)
	defer w.Close()

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- replay.Tail(ctx, l.pool, pw, replay.StreamParams{After: 5, Follow: true, Watcher: w})
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	lines.Buffer(nil, 1<<20)
	next := func() events.Event {
		require.True(t, lines.Scan())
		var ev events.Event
		require.NoError(t, json.Unmarshal(lines.Bytes(), &ev))
		return ev
	}
	head := l.head(t)
	for seq := int64(6); seq <= head; seq++ {
		require.Equal(t, seq, next().Seq)
	}
	// Nothing more until the next append; then exactly its events.
	res := l.update(t, "beta", synth(3, 0), 0)
	for seq := res.FirstSeq; seq <= res.HeadSeq; seq++ {
		ev := next()
		require.Equal(t, seq, ev.Seq)
		require.Equal(t, "beta", ev.Repo)
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}
