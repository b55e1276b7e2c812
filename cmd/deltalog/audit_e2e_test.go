package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// cli runs the deltalog binary against url and returns its output and exit
// status.
func cli(t *testing.T, url string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{args[0], "--db", url}, args[1:]...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	require.NoError(t, err, out.String())
	return out.String(), 0
}

const snapshotA = `{"project":"foo","name":"foo","version":"1.0","maintainers":[{"email":"a@x","name":"A"}],"links":[{"kind":"homepage","url":"https://foo.example"}]}
{"project":"foo","name":"libfoo","version":"1.0","maintainers":[{"email":"a@x","name":"A"}]}
{"project":"bar","name":"bar","version":"2.1","maintainers":[{"email":"b@x","name":"B"},{"email":"a@x","name":"A"}]}
{"project":"baz","name":"baz","version":"0.3","maintainers":[{"email":"c@x","name":"C"}]}
`

const snapshotB = `{"project":"foo","name":"foo","version":"1.1","maintainers":[{"email":"d@x","name":"D"}]}
{"project":"bar","name":"bar","version":"2.0","maintainers":[{"email":"b@x","name":"B"}]}
`

// TestAuditCommands drives audit, repair, invalidate, rebuild and status as
// a user would, with their exit statuses.
func TestAuditCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	require.NoError(t, os.WriteFile(a, []byte(snapshotA), 0o644))
	require.NoError(t, os.WriteFile(b, []byte(snapshotB), 0o644))
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer pool.Close()
	one := func(sql string) int64 {
		var n int64
		require.NoError(t, pool.QueryRow(ctx, sql).Scan(&n))
		return n
	}

	for _, u := range [][]string{{"--repo", "ra", a}, {"--repo", "rb", b}} {
		out, code := cli(t, url, append([]string{"update", "--format", "jsonl", "--project"}, u...)...)
		require.Zero(t, code, out)
	}
	out, code := cli(t, url, "audit")
	require.Zero(t, code, out)
	require.Contains(t, out, "audit #1: consistent")

	// Corrupt by hand: a derived row deleted, a counter changed, a bogus
	// maintainer, a stored checksum changed.
	for _, q := range []string{
		`DELETE FROM project_repositories WHERE project = 'baz'`,
		`UPDATE maintainers SET num_projects = 7 WHERE email = 'b@x'`,
		`INSERT INTO maintainers (email, num_packages, num_projects, num_repos) VALUES ('bogus@x', 1, 1, 1)`,
		`UPDATE packagesets SET checksum = checksum + 1 WHERE project = 'bar' AND repo_id = 1`,
	} {
		_, err := pool.Exec(ctx, q)
		require.NoError(t, err)
	}
	out, code = cli(t, url, "audit")
	require.Equal(t, 1, code, out)
	for _, want := range []string{
		`! catalog.project_repositories`, `{"project":"baz","repo_id":1}: expected {`,
		`! catalog.maintainers`, `"email":"b@x"`,
		`! catalog.identities`, `{"maintainer":"bogus@x"}: expected none`,
		`! packagesets`, `{"project":"bar","repo":"ra"}`,
	} {
		require.Contains(t, out, want)
	}
	out, code = cli(t, url, "audit", "--repair")
	require.Zero(t, code, out)
	require.Contains(t, out, "after the repair: consistent")
	out, code = cli(t, url, "audit")
	require.Zero(t, code, out)
	out, code = cli(t, url, "status")
	require.Zero(t, code, out)
	require.Contains(t, out, "last audit #4: consistent")

	// Invalidate one repository; the same snapshot again re-states it.
	history := one(`SELECT count(*) FROM project_history`)
	out, code = cli(t, url, "invalidate", "--repo", "ra", "--reason", "new column")
	require.Zero(t, code, out)
	require.Contains(t, out, "ra: 3 packagesets invalidated")
	out, _ = cli(t, url, "status")
	require.Contains(t, out, "invalidation pending: ra, 3 packagesets")
	out, code = cli(t, url, "update", "--format", "jsonl", "--project", "--repo", "ra", a)
	require.Zero(t, code, out)
	require.Contains(t, out, "0 added, 0 changed, 0 removed, 3 invalidated, 0 unchanged")
	require.Equal(t, history, one(`SELECT count(*) FROM project_history`))
	out, code = cli(t, url, "audit", "--replay-history")
	require.Zero(t, code, out)
	out, _ = cli(t, url, "status")
	require.NotContains(t, out, "invalidation pending")

	// A new hash seed re-derives the repository on its next update, and
	// the batch says why.
	out, code = cli(t, url, "update", "--format", "jsonl", "--project", "--repo", "rb", "--hash-seed", "0x7", b)
	require.Zero(t, code, out)
	require.Contains(t, out, "0 added, 0 changed, 0 removed, 2 invalidated, 0 unchanged")
	var reason string
	require.NoError(t, pool.QueryRow(ctx, `SELECT reason FROM batches ORDER BY id DESC LIMIT 1`).Scan(&reason))
	require.Equal(t, "re-derived: hash seed 0x64656c74616c6f67 → 0x7", reason)
	out, code = cli(t, url, "status", "--json")
	require.Zero(t, code, out)
	var st struct {
		LastAudit struct {
			Outcome string `json:"outcome"`
		} `json:"last_audit"`
		Pending []any `json:"pending_invalidations"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	require.Equal(t, "consistent", st.LastAudit.Outcome)
	require.NotNil(t, st.Pending)

	// A projection behind the head cannot be compared: exit 2, unless caught up.
	out, code = cli(t, url, "update", "--format", "jsonl", "--repo", "rb", a)
	require.Zero(t, code, out)
	out, code = cli(t, url, "audit")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "skipped: catalog lags")
	out, code = cli(t, url, "audit", "--catch-up")
	require.Zero(t, code, out)

	// Rebuilds.
	for _, from := range []string{"state", "changelog"} {
		out, code = cli(t, url, "rebuild", "--all", "--from", from)
		require.Zero(t, code, out)
		require.Contains(t, out, "catalog: rebuilt from "+from)
		require.Contains(t, out, "history: rebuilt from "+from)
	}
	out, code = cli(t, url, "audit", "--replay-history")
	require.Zero(t, code, out)

	// Usage errors.
	for _, args := range [][]string{{"rebuild"}, {"rebuild", "nope"}, {"rebuild", "--all", "--from", "x"},
		{"invalidate"}, {"invalidate", "--all", "--repo", "ra"}, {"audit", "--projection", "nope"}, {"project", "--audit-every", "1s"}} {
		out, code = cli(t, url, args...)
		require.Equal(t, 2, code, "%v: %s", args, out)
	}

	// project --follow --audit-every audits between pages, recorded for status.
	cmd := exec.Command(binary, "project", "--follow", "--audit-every", "300ms", "--db", url)
	var fout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &fout, &fout
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(30 * time.Second)
	for one(`SELECT count(*) FROM audit_runs WHERE source = 'follow'`) < 2 {
		require.True(t, time.Now().Before(deadline), "no audits from the follower: %s", fout.String())
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	var ee *exec.ExitError
	require.ErrorAs(t, cmd.Wait(), &ee, fout.String())
	require.Equal(t, 130, ee.ExitCode(), "SIGINT ends it with 130: %s", fout.String())
	require.Contains(t, fout.String(), "interrupted by SIGINT")
	require.Contains(t, fout.String(), ": consistent at head seq")
	out, _ = cli(t, url, "status")
	require.True(t, strings.Contains(out, "consistent at head seq") && strings.Contains(out, "(follow by "), out)
}
