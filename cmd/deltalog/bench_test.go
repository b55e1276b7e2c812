package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/bench"
	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
)

// TestGenCommand writes one JSONL file per repository.
func TestGenCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, err := exec.Command(binary, "gen", "--out", dir, "--packages", "300", "--repos", "3", "--gen", "1", "--json").Output()
	require.NoError(t, err)
	var st gen.Stats
	require.NoError(t, json.Unmarshal(out, &st))
	require.Equal(t, 1, st.Generation)
	require.InDelta(t, 300, st.Packages, 30)
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, 3)

	err = exec.Command(binary, "gen", "--packages", "300").Run()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee))
	require.Equal(t, 2, ee.ExitCode(), "--out is required")
}

// TestBenchCommand runs `deltalog bench` at a tiny scale on the test
// server: it creates its own database there, prints the report, and drops
// the database again.
func TestBenchCommand(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	name := fmt.Sprintf("deltalog_bench_e2e_%d", os.Getpid())
	rep := runBench(t, "--db", url, "--db-name", name, "--packages", "400", "--repos", "2",
		"--reps", "1", "--rates", "0.1", "--cases", "parse,full,nochange,delta,recompute")
	var names []string
	for _, c := range rep.Cases {
		names = append(names, c.Name)
		require.Positive(t, c.Seconds, c.Name)
	}
	require.Equal(t, []string{bench.CaseParseHash, bench.CaseFull, bench.CaseNoChange, bench.CaseSingle, bench.DeltaCase(0.1), bench.CaseRecompute}, names)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists))
	require.False(t, exists, "the benchmark database is dropped")

	err = exec.Command(binary, "bench", "--db", url, "extra").Run()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee))
	require.Equal(t, 2, ee.ExitCode())
}

// TestBenchAPICase runs the api case at a tiny scale: the server, the
// updates and the projections under load are deltalog processes of their
// own, no request fails, and the updates really ran during the steps
// that say so.
func TestBenchAPICase(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	name := fmt.Sprintf("deltalog_bench_api_%d", os.Getpid())
	rep := runBench(t, "--db", url, "--db-name", name, "--packages", "400", "--repos", "2",
		"--cases", "api", "--api-rates", "50", "--api-step", "1s", "--api-serve-args", "--read-conns 3")
	require.Len(t, rep.API, 4, "two endpoints, idle and during updates")
	updates := 0
	for _, r := range rep.API {
		require.Zero(t, r.Errors, "%s at %d/s: %v", r.Endpoint, r.Rate, r.Failures)
		require.InDelta(t, 50, r.Requests, 2, r.Endpoint)
		require.Positive(t, r.ServerRSSMiB, "the serve process's memory is read")
		require.Positive(t, r.ServerHeapMiB, "and its heap, from its /metrics")
		if !r.Updating {
			require.Zero(t, r.Updates, "no update runs while idle")
		}
		updates += r.Updates
	}
	require.Positive(t, updates, "update processes finished during the steps under load")
	require.NotEmpty(t, rep.Audits)
	require.Equal(t, projections.OutcomeConsistent, rep.Audits[len(rep.Audits)-1].Outcome, "the catalog after the updates under load")
}

// runBench runs `deltalog bench --json` with args and returns its report.
func runBench(t *testing.T, args ...string) bench.Report {
	t.Helper()
	out, err := exec.Command(binary, append([]string{"bench", "--json"}, args...)...).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Log(string(ee.Stderr))
	}
	require.NoError(t, err)
	var rep bench.Report
	require.NoError(t, json.Unmarshal(out, &rep))
	return rep
}
