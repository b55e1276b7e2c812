package soak_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/deltalog/deltalog/internal/bintest"
	"github.com/deltalog/deltalog/internal/soak"
)

// bin is the deltalog binary built by TestMain: the soak's processes.
var bin string

func TestMain(m *testing.M) {
	code := bintest.Run(m, &bin)
	if code == 0 {
		if err := goleak.Find(
			// pgx's background health checks of pools closed at the end.
			goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left running:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// logWriter passes each line written to it to t.Log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestShortSoak is `deltalog soak` in small: half a minute of updates of
// three repositories, two workers, a replicator and a follower, a few
// SIGKILLs and at least one PostgreSQL restart (the first falls between
// 7.5s and 22.5s), on a cluster of its own. Every check must pass, and the
// checks themselves require the faults to have happened and a worker to
// have been seen writing.
func TestShortSoak(t *testing.T) {
	t.Parallel()
	home, err := os.MkdirTemp("", "deltalog-soak-")
	require.NoError(t, err)
	// As root the server runs as the postgres user, which must reach it.
	require.NoError(t, os.Chmod(home, 0o755))
	t.Cleanup(func() { os.RemoveAll(home) })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := soak.Run(ctx, soak.Config{
		Binary: bin, Home: home,
		Duration: 30 * time.Second, KillEvery: 4 * time.Second, RestartEvery: 15 * time.Second, MaxDowntime: 3 * time.Second,
		MinKills: 3, MinRestarts: 1, Settle: 90 * time.Second,
		Packages: 2000, Repos: 3, Writers: 1, UpdatePause: 500 * time.Millisecond,
		Progress: logWriter{t}, ProgressEvery: 10 * time.Second,
	})
	require.NoError(t, err)
	var text strings.Builder
	require.NoError(t, rep.WriteText(&text))
	t.Log("\n" + text.String())
	require.Empty(t, rep.Failed(), "logs under %s/logs", home)
	require.Equal(t, rep.HeadSeq, rep.Stream.Events)
	require.Len(t, rep.Checks, 7)
}

// TestConfigIsValidated: a config the soak cannot run with is refused
// before anything starts, naming what is wrong.
func TestConfigIsValidated(t *testing.T) {
	t.Parallel()
	rep, err := soak.Run(context.Background(), soak.Config{Binary: filepath.Join(t.TempDir(), "none"), Rate: 2})
	require.ErrorIs(t, err, soak.ErrInvalid)
	require.ErrorContains(t, err, "is not an executable file")
	require.ErrorContains(t, err, "Home is required")
	require.ErrorContains(t, err, "Rate 2 outside (0, 1]")
	require.Nil(t, rep)
}
