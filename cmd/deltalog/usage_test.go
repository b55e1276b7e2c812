package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// readmeUsage returns the usage lines of the README's Commands section.
func readmeUsage(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(b), "\n## Commands\n\n```\n")
	require.True(t, ok, "README.md has a Commands section opening with a code block")
	block, _, ok := strings.Cut(section, "```")
	require.True(t, ok)
	var lines []string
	for line := range strings.SplitSeq(strings.TrimSpace(block), "\n") {
		require.True(t, strings.HasPrefix(line, "deltalog "), "usage line %q", line)
		lines = append(lines, strings.TrimPrefix(line, "deltalog "))
	}
	return lines
}

// unit is one argument of a command line: a positional word, or a flag
// with its value if it takes one.
type unit []string

func (u unit) flag() bool { return strings.HasPrefix(u[0], "-") }

// expandUsage turns a usage line in the README's notation — [optional],
// (a | b), a|b between words — into every command line it describes, each
// with optional parts present. values gives the argument for each
// placeholder (a word with capitals), keyed by the flag or the command
// before it ("--repo NAME", "update FILE...").
func expandUsage(t *testing.T, line string, values map[string]string) [][]unit {
	t.Helper()
	words := regexp.MustCompile(`[\[\]()]|[^\s\[\]()]+`).FindAllString(line, -1)
	pos := 0
	cmd := words[0]
	var seq func(end string) [][]unit
	// seq parses words up to end (or a top-level "|" inside parentheses)
	// into the lines they describe.
	seq = func(end string) [][]unit {
		lines := [][]unit{nil}
		// add appends each of alts to each line; with join, to the last
		// unit of each line (a flag's value).
		add := func(alts []string, join bool) {
			var next [][]unit
			for _, l := range lines {
				for _, a := range alts {
					c := append([]unit(nil), l...)
					if join {
						c[len(c)-1] = append(append(unit(nil), c[len(c)-1]...), a)
					} else {
						c = append(c, unit{a})
					}
					next = append(next, c)
				}
			}
			lines = next
		}
		addLines := func(alts [][]unit) {
			var next [][]unit
			for _, l := range lines {
				for _, a := range alts {
					next = append(next, append(append([]unit(nil), l...), a...))
				}
			}
			lines = next
		}
		prevFlag := "" // the flag the next word is the value of
		for pos < len(words) && words[pos] != end && words[pos] != "|" {
			w := words[pos]
			pos++
			switch w {
			case "[":
				addLines(seq("]"))
				pos++ // ]
				prevFlag = ""
				continue
			case "(":
				var alts [][]unit
				for {
					alts = append(alts, seq(")")...)
					if words[pos] == ")" {
						break
					}
					pos++ // |
				}
				pos++ // )
				addLines(alts)
				prevFlag = ""
				continue
			}
			key := cmd
			if prevFlag != "" {
				key = prevFlag
			}
			var alts []string
			for _, alt := range strings.Split(w, "|") {
				if strings.ContainsAny(alt, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
					v, ok := values[key+" "+alt]
					require.True(t, ok, "no value for %q in %q: add one to the test", key+" "+alt, line)
					alt = v
				}
				alts = append(alts, alt)
			}
			isValue := prevFlag != "" && !strings.HasPrefix(w, "-")
			add(alts, isValue)
			prevFlag = ""
			if strings.HasPrefix(w, "-") {
				prevFlag = w
			}
		}
		return lines
	}
	lines := seq("")
	require.Equal(t, len(words), pos, "unbalanced usage line %q", line)
	return lines
}

// argv lays a command line out with every positional argument first and
// the flags after them: the order the old parser refused.
func argv(l []unit) []string {
	var pos, flags []string
	for _, u := range l {
		if u.flag() {
			flags = append(flags, u...)
		} else {
			pos = append(pos, u...)
		}
	}
	return append(pos, flags...)
}

// notRun are the README's commands that TestREADMEUsageLines parses but
// does not run, and why.
var notRun = map[string]string{
	"serve":     "serves until interrupted",
	"replicate": "needs a NATS server (replay's tests run it)",
	"follow":    "needs a leader (TestFollowerWithProjectionsMatchesLeader runs it)",
	"bench":     "TestBenchCommand runs it at a tiny scale",
	"soak":      "runs for minutes (internal/soak's TestShortSoak runs a short one)",
	"db start":  "would create a cluster (pgcluster's tests do)",
}

// leftOutWhenRun are flags left out of the lines that are run, and why.
var leftOutWhenRun = map[string]string{
	"--follow":      "follows until interrupted",
	"--audit-every": "needs --follow",
	"--db":          "the test's database is given instead",
}

// TestREADMEUsageLines takes every usage line of the README's Commands
// section, with the flags after the positional arguments, and requires
// each to parse into its command (and --help on it to exit 0); the lines
// that end on their own are then run, in the README's order, against a
// test database.
func TestREADMEUsageLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	snapshot := filepath.Join(dir, "snapshot.jsonl")
	require.NoError(t, os.WriteFile(snapshot, []byte(snapshotA), 0o644))
	values := map[string]string{
		"--repo NAME": "ra", "--format FORMAT": "jsonl", "--version-scheme S": "generic", "--hash-seed N": "0x2a",
		"update FILE...": snapshot, "--page-size N": "100", "--cache-size N": "1000", "--rebuild-lag N": "0",
		"--audit-every DURATION": "1h", "--from SEQ": "0", "--limit N": "3", "--repo R": "ra",
		"--projection NAME...": "catalog", "rebuild NAME...": "catalog", "--project P": "foo", "--reason TEXT": "usage test",
		"--max-streams N": "4", "--write-timeout DURATION": "5s", "--request-timeout DURATION": "20s", "--read-conns N": "4", "--to nats://HOST:PORT": "nats://127.0.0.1:4222",
		"--stream NAME": "DELTALOG", "--until SEQ": "10", "--from http://HOST:PORT": "http://127.0.0.1:8080",
		"--from nats://HOST:PORT": "nats://127.0.0.1:4222", "--db FOLLOWER_URL": "postgres:///follower",
		"--out DIR": filepath.Join(dir, "gen"), "--packages N": "200", "--repos N": "2", "--seed N": "7", "--gen G": "1",
		"--rate R": "0.1", "--reps N": "1", "--debian DIR": dir, "--pypi FILE": snapshot,
		"--days N": "30", "--duration DURATION": "30s", "--kill-every DURATION": "2s", "--restart-every DURATION": "10s", "--home DIR": dir,
	}
	url := dbtest.NewURL(t)
	home := filepath.Join(dir, "home") // db status|stop|url look at it, and find no cluster

	ran := 0
	for _, line := range readmeUsage(t) {
		for _, l := range expandUsage(t, line, values) {
			args := argv(l)
			root := newRootCmd(&env{stdout: io.Discard, stderr: io.Discard})
			cmd, rest, err := root.Find(args)
			require.NoError(t, err, "%q", args)
			require.NoError(t, cmd.ParseFlags(rest), "%q", args)
			require.NoError(t, cmd.ValidateArgs(cmd.Flags().Args()), "%q", args)
			path := strings.TrimPrefix(cmd.CommandPath(), "deltalog ")
			require.True(t, strings.HasPrefix(strings.Join(args, " "), path), "%q reaches %s", args, path)
			for _, u := range l {
				if u.flag() {
					require.True(t, cmd.Flags().Lookup(strings.TrimPrefix(u[0], "--")).Changed, "%q: %s", args, u[0])
				}
			}

			out, code := runBinary(t, nil, append(args, "--help")...)
			require.Zero(t, code, "%q --help: %s", args, out)
			require.Contains(t, out, cmd.UseLine(), "%q --help shows the command's usage", args)

			if _, skip := notRun[path]; skip {
				continue
			}
			var run []unit
			for _, u := range l {
				if _, skip := leftOutWhenRun[u[0]]; !skip {
					run = append(run, u)
				}
			}
			out, code = runBinary(t, []string{"DELTALOG_HOME=" + home},
				append(argv(run), "--db", url)...)
			require.Zero(t, code, "%q: %s", argv(run), out)
			t.Logf("ran %q", argv(run))
			ran++
		}
	}
	require.Greater(t, ran, 15, "most usage lines ran")
}

// runBinary runs deltalog with args (and env added to the environment),
// returning its output (stdout and stderr) and exit status.
func runBinary(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), 0
}
