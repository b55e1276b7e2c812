package main

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/dbtest"
	"github.com/deltalog/deltalog/internal/formats"
	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/projections"
)

// binary is the deltalog command built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deltalog-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "deltalog")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic("building deltalog: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
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

	// Uninterrupted reference run.
	ps, err := projections.Default(projections.CatalogConfig{})
	require.NoError(t, err)
	r, err := projections.NewRunner(projections.Config{Pool: clean, Projections: ps, PageSize: 20000})
	require.NoError(t, err)
	require.NoError(t, r.Run(ctx, false))
	want, err := projections.Digest(ctx, clean)
	require.NoError(t, err)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for attempt := 0; attempt < 8 && kills < 3; attempt++ {
		cmd := exec.Command(binary, "project", "--db", killedURL, "--page-size", "20000")
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

	out, err := exec.Command(binary, "project", "--db", killedURL, "--page-size", "20000").CombinedOutput()
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
