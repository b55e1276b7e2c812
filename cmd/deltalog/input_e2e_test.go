package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// dbState sums up a database's content: head, batches, packages and every
// repository's state checksum.
func dbState(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var s string
	require.NoError(t, conn.QueryRow(ctx, `SELECT format('head %s, %s batches, %s packages, repos %s',
		(SELECT seq FROM changelog_head), (SELECT count(*) FROM batches), (SELECT count(*) FROM packages),
		(SELECT coalesce(string_agg(name || '=' || state_checksum, ',' ORDER BY name), '') FROM repos))`).Scan(&s))
	return s
}

// startUpdate starts `deltalog update` of file as JSON lines.
func startUpdate(t *testing.T, url, file string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary, "update", "--db", url, "--repo", "a", "--format", "jsonl", file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	return cmd, &out
}

// waitExit waits for cmd and returns its exit status; a command still
// running after a generous bound is killed and fails the test.
func waitExit(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running 15s after the signal: %s", cmd.Args, out)
	}
	return cmd.ProcessState.ExitCode()
}

// TestSignalsEndUpdate: `update` reading input that never ends — a FIFO
// whose writer stalls, one that keeps writing, one no writer ever opens —
// ends on SIGTERM with 143 and on SIGINT with 130, saying so, and leaves
// the database as it was; /dev/zero fails with its parse error instead of
// being read forever.
func TestSignalsEndUpdate(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	require.NoError(t, os.WriteFile(a, []byte(snapshotA), 0o644))
	out, code := cli(t, url, "update", "--repo", "a", "--format", "jsonl", a)
	require.Zero(t, code, out)
	before := dbState(t, url)

	for i, c := range []struct {
		name   string
		sig    syscall.Signal
		writer string // "stall", "endless" or "none"
		code   int
	}{
		{"stalled writer", syscall.SIGTERM, "stall", 143},
		{"endless writer", syscall.SIGINT, "endless", 130},
		{"no writer", syscall.SIGTERM, "none", 143},
	} {
		fifo := filepath.Join(dir, fmt.Sprintf("fifo%d", i))
		require.NoError(t, syscall.Mkfifo(fifo, 0o600))
		cmd, out := startUpdate(t, url, fifo)
		var w *os.File
		stop := make(chan struct{})
		if c.writer != "none" {
			// Opening the write end returns once update has opened the
			// FIFO for reading: it is reading.
			var err error
			w, err = os.OpenFile(fifo, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = io.WriteString(w, strings.Repeat(snapshotA, 100))
			require.NoError(t, err)
			if c.writer == "endless" {
				go func() {
					line := []byte(`{"name":"more","version":"1"}` + "\n")
					for {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := w.Write(line); err != nil {
							return
						}
					}
				}()
			}
		} else {
			// Nothing to wait for: update blocks opening the FIFO.
			time.Sleep(300 * time.Millisecond)
		}
		require.NoError(t, cmd.Process.Signal(c.sig))
		got := waitExit(t, cmd, out)
		close(stop)
		if w != nil {
			w.Close()
		}
		require.Equal(t, c.code, got, "%s: %s", c.name, out)
		require.Contains(t, out.String(), "interrupted by "+map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[c.sig], c.name)
		require.Equal(t, before, dbState(t, url), c.name)
	}

	out, code = cli(t, url, "update", "--repo", "a", "--format", "jsonl", "/dev/zero")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "/dev/zero:1: NUL byte")
	require.Equal(t, before, dbState(t, url))
}

// TestBadInputNeverReachesTheDatabase: NUL bytes, over-long names and a
// repository name the schema cannot index fail before any transaction,
// with the file, line and field (or the flag), quoting only the start of
// the value, and the database as it was.
func TestBadInputNeverReachesTheDatabase(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		return path
	}
	a := write("a.jsonl", snapshotA)
	out, code := cli(t, url, "update", "--repo", "a", "--format", "jsonl", a)
	require.Zero(t, code, out)
	before := dbState(t, url)

	long := strings.Repeat("n", 10_000)
	jsonlNUL := write("nul.jsonl", snapshotA+`{"name":"b\u0000c","version":"1"}`+"\n")
	tsvNUL := write("nul.tsv", "name\tversion\nok\t1\nb\x00c\t1\n")
	sourcesNUL := write("Sources", "Package: a\nVersion: 1\nMaintainer: A <a@x\x00>\n")
	jsonlLong := write("long.jsonl", `{"name":"`+long+`","version":"1"}`+"\n")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--repo", "a", "--format", "jsonl", jsonlNUL}, 1, jsonlNUL + `:5: field "name": NUL byte`},
		{[]string{"--repo", "a", "--format", "tsv", "--version-scheme", "pypi", tsvNUL}, 1, tsvNUL + `:3: field "name": NUL byte`},
		{[]string{"--repo", "a", "--format", "debian-sources", sourcesNUL}, 1, sourcesNUL + `:3: field "Maintainer": NUL byte`},
		{[]string{"--repo", "a", "--format", "jsonl", jsonlLong}, 1, jsonlLong + `:1: field "name": oversized field: 10000 bytes, more than 512`},
		{[]string{"--repo", long, "--format", "jsonl", a}, 2, "--repo: repository name: oversized field: 10000 bytes, more than 512"},
		{[]string{"--repo", strings.Repeat("r", 513), "--format", "jsonl", a}, 2, "--repo: repository name: oversized field: 513 bytes"},
	} {
		out, code := cli(t, url, append([]string{"update"}, c.args...)...)
		require.Equal(t, c.code, code, "%.200s", out)
		require.Contains(t, out, c.want)
		require.NotContains(t, out, "SQLSTATE")
		require.Less(t, len(out), 600, "the value is quoted, not echoed whole: %.1000s", out)
		require.Equal(t, before, dbState(t, url), "%.200s", out)
	}
}
