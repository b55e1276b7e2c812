package changelog_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
)

func TestWatcherWakesOnAppend(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	ctx := context.Background()
	// No safety re-read during the test: a wake-up is the notification's.
	w, err := changelog.NewWatcher(ctx, changelog.WatcherConfig{DB: pool, SafetyInterval: time.Hour})
	require.NoError(t, err)
	defer w.Close()
	require.Equal(t, int64(0), w.Head())

	got := make(chan int64, 1)
	go func() {
		head, err := w.Wait(ctx, 0)
		if err != nil {
			t.Error(err)
		}
		got <- head
	}()
	select {
	case <-got:
		t.Fatal("Wait returned before anything was appended")
	case <-time.After(50 * time.Millisecond):
	}
	res := apply(t, u, "r", []events.Package{pkg("a", "a", "1"), pkg("b", "b", "1")})
	select {
	case head := <-got:
		require.Equal(t, res.HeadSeq, head)
	case <-time.After(time.Minute):
		t.Fatal("no wake-up from the notification")
	}

	// A waiter behind the head returns at once; a cancelled one returns its error.
	head, err := w.Wait(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, int64(2), head)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = w.Wait(cctx, 2)
	require.ErrorIs(t, err, context.Canceled)
}
