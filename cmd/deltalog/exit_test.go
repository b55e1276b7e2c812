package main

import (
	"cmp"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// TestHelpExitsZero: --help and -h on every command, and help COMMAND,
// print the command's help and exit 0.
func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	root := newRootCmd(&env{stdout: io.Discard, stderr: io.Discard})
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		head, _, _ := strings.Cut(cmp.Or(c.Long, c.Short), "\n")
		for _, h := range []string{"--help", "-h"} {
			out, code := runBinary(t, nil, append(path, h)...)
			require.Zero(t, code, "%q %s: %s", path, h, out)
			require.Contains(t, out, head, "%q %s", path, h)
			n++
		}
		if len(path) > 0 {
			out, code := runBinary(t, nil, append([]string{"help"}, path...)...)
			require.Zero(t, code, "help %q: %s", path, out)
			require.Contains(t, out, head)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	require.Greater(t, n, 40)
	out, code := runBinary(t, nil)
	require.Zero(t, code, "deltalog alone prints the help: %s", out)
	require.Contains(t, out, "Usage:")
}

// TestUsageErrorsExitTwo: an unknown command or flag, a bad flag value, a
// malformed DATABASE_URL or a missing argument exit 2 — before anything
// touches a database (the URLs given point nowhere) — with one error line
// naming the command, and a pointer to --help.
func TestUsageErrorsExitTwo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "a.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(snapshotA), 0o644))
	nowhere := "postgres://nobody@127.0.0.1:1/nothing?connect_timeout=1"
	home := filepath.Join(dir, "home")
	for _, c := range []struct {
		env  string
		args []string
		cmd  string // the command the error names
		want string
	}{
		{"", []string{"bogus"}, "deltalog", `unknown command "bogus"`},
		{"", []string{"update", file, "--repo", "a", "--format", "jsonl", "--bogus"}, "update", "unknown flag: --bogus"},
		{"", []string{"update", file, "--repo", "a", "--format", "jsonl", "--version-scheme", "bogus", "--db", nowhere}, "update", `--version-scheme "bogus"`},
		{"", []string{"update", file, "--repo", "a", "--format", "bogus", "--db", nowhere}, "update", "bogus"},
		{"", []string{"update", file, "--repo", "a", "--format", "jsonl", "--hash-seed", "zero", "--db", nowhere}, "update", "hash seed"},
		{"", []string{"update", "--repo", "a", "--format", "jsonl", "--db", nowhere}, "update", "requires at least 1 arg"},
		{"", []string{"update", file, "--format", "jsonl", "--db", nowhere}, "update", "needs --repo"},
		{"DATABASE_URL=postgres://x:y@:::bad", []string{"status"}, "status", "malformed database URL"},
		{"", []string{"tail", "--db", "postgres://x@host:notaport/db"}, "tail", "malformed database URL"},
		{"", []string{"tail", "--limit", "many", "--db", nowhere}, "tail", `invalid argument "many"`},
		{"", []string{"tail", "--from", "-1", "--db", nowhere}, "tail", "must not be negative"},
		{"", []string{"status", "extra", "--db", nowhere}, "status", `unknown command "extra"`},
		{"", []string{"rebuild", "--db", nowhere}, "rebuild", "needs projection names or --all"},
		{"", []string{"rebuild", "catalog", "--all", "--db", nowhere}, "rebuild", "needs projection names or --all"},
		{"", []string{"rebuild", "bogus", "--db", nowhere}, "rebuild", `unknown projection "bogus"`},
		{"", []string{"rebuild", "catalog", "--from", "bogus", "--db", nowhere}, "rebuild", `--from "bogus"`},
		{"", []string{"invalidate", "--db", nowhere}, "invalidate", "needs --all"},
		{"", []string{"follow", "--from", "ftp://x", "--db", nowhere}, "follow", `--from "ftp://x"`},
		{"", []string{"replicate", "--to", "bogus", "--db", nowhere}, "replicate", `got "bogus"`},
		{"", []string{"replicate", "--db", nowhere}, "replicate", "needs --to"},
		{"", []string{"follow", "--db", nowhere}, "follow", "needs --from"},
		{"", []string{"gen", "--packages", "300"}, "gen", "needs --out"},
		{"", []string{"report", "related", "--limit", "-1", "--db", nowhere}, "report related", "--limit -1"},
		{"", []string{"bench", "extra", "--db", nowhere}, "bench", `unknown command "extra"`},
		{"", []string{"db"}, "db", "needs one of start, status, stop, url"},
		{"", []string{"db", "bogus"}, "db", `unknown db command "bogus"`},
		{"", []string{"audit", "--bogus"}, "audit", "unknown flag: --bogus"},
		{"", []string{"completion", "tcsh"}, "completion", `"tcsh"`},
		{"", []string{"project", "--only", "bogus", "--db", nowhere}, "project", `"bogus"`},
		{"", []string{"project", "--page-size", "-1", "--db", nowhere}, "project", "--page-size -1"},
		{"", []string{"project", "--rebuild-lag", "-2", "--db", nowhere}, "project", "--rebuild-lag -2"},
		{"", []string{"project", "--audit-every", "1m", "--db", nowhere}, "project", "--audit-every needs --follow"},
		{"", []string{"update", file, "--repo", "a", "--format", "jsonl", "--project", "--only", "bogus", "--db", nowhere}, "update", `"bogus"`},
		{"", []string{"update", file, "--repo", strings.Repeat("r", 10_000), "--format", "jsonl", "--db", nowhere}, "update", "--repo: repository name: oversized field: 10000 bytes"},
		{"", []string{"follow", "--from", "http://127.0.0.1:1", "--project", "--only", "bogus", "--db", nowhere}, "follow", `"bogus"`},
	} {
		out, code := runBinary(t, []string{c.env, "DELTALOG_HOME=" + home}, c.args...)
		require.Equal(t, 2, code, "%q: %s", c.args, out)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		prefix := "deltalog " + c.cmd + ": "
		if c.cmd == "deltalog" {
			prefix = "deltalog: "
		}
		require.Len(t, lines, 2, "%q: one error, one pointer to --help: %s", c.args, out)
		require.True(t, strings.HasPrefix(lines[0], prefix), "%q: %s", c.args, out)
		require.Contains(t, lines[0], c.want, "%q", c.args)
		require.Contains(t, lines[1], "--help")
	}
	require.NoDirExists(t, home, "no usage error created the managed cluster")
}

// TestReadOnlyCommandsRefuseMissingCluster: status, tail and audit on a
// home with no cluster fail, naming the home and how to create one, and
// create nothing.
func TestReadOnlyCommandsRefuseMissingCluster(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "mistyped")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"status"}, 1},
		{[]string{"status", "--json"}, 1},
		{[]string{"tail", "--from", "3"}, 1},
		{[]string{"audit"}, 2}, // audit's "could not run"
		{[]string{"audit", "--catch-up", "--json"}, 2},
	} {
		out, code := runBinary(t, []string{"DATABASE_URL=", "DELTALOG_HOME=" + home}, c.args...)
		require.Equal(t, c.code, code, "%q: %s", c.args, out)
		require.Equal(t, 1, strings.Count(out, "\n"), "%q: the error once: %s", c.args, out)
		require.True(t, strings.HasPrefix(out, "deltalog "+c.args[0]+": no PostgreSQL cluster under "+home), "%q: %s", c.args, out)
		require.Contains(t, out, "deltalog db start", "%q", c.args)
		require.NoDirExists(t, home, "%q created nothing", c.args)
	}
}

// TestCompletion: the scripts of `completion bash|zsh|fish` call back into
// deltalog (`__complete`), which completes commands, flags and projection
// names.
func TestCompletion(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, code := runBinary(t, nil, "completion", shell)
		require.Zero(t, code, out)
		require.Contains(t, out, "__complete", shell)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"reb"}, []string{"rebuild"}},
		{[]string{"db", ""}, []string{"start", "status", "stop", "url"}},
		{[]string{"rebuild", ""}, []string{"catalog", "history"}},
		{[]string{"update", "--for"}, []string{"--force", "--format"}},
	} {
		out, code := runBinary(t, nil, append([]string{"__complete"}, c.args...)...)
		require.Zero(t, code, out)
		var got []string
		for line := range strings.SplitSeq(out, "\n") {
			if line != "" && !strings.HasPrefix(line, ":") && !strings.HasPrefix(line, "Completion ended") {
				name, _, _ := strings.Cut(line, "\t")
				got = append(got, name)
			}
		}
		require.Equal(t, c.want, got, "%q", c.args)
	}
}
