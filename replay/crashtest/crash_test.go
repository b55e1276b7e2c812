package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/bintest"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/replay"
	"github.com/deltalog/deltalog/replay/internal/replaytest"
)

// bin is the deltalog binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(bintest.Run(m, &bin))
}

// proc is one deltalog process that the test keeps running.
type proc struct {
	name string
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan struct{}
	err    error
	kills  int
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(bin, p.args...)
	p.stderr = &bytes.Buffer{}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	p.cmd, p.done = cmd, make(chan struct{})
	done := p.done
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
}

// kill sends SIGKILL and waits for the process to end. A process that
// had already ended by itself must have succeeded.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		require.NoError(t, p.err, "%s ended by itself: %s", p.name, p.stderr)
		return
	default:
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
	p.kills++
}

// wait waits for the process to end by itself, successfully.
func (p *proc) wait(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		t.Fatalf("%s did not finish: %s", p.name, p.stderr)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	require.NoError(t, p.err, "%s: %s", p.name, p.stderr)
}

func pkgs(n, gen int) []events.Package {
	var out []events.Package
	for i := range n + gen*7 {
		if gen > 0 && i%13 == gen%13 {
			continue
		}
		v := 1
		if i%5 == gen%5 {
			v += gen
		}
		project := fmt.Sprintf("p%05d", i)
		out = append(out, events.Package{Project: project, Name: project, Version: fmt.Sprintf("%d.0", v),
			Summary: "crash test " + project, Extra: map[string]string{"i": fmt.Sprint(i)}})
		if i%4 == 0 {
			out = append(out, events.Package{Project: project, Name: project + "-dev", Version: fmt.Sprintf("%d.0", v)})
		}
	}
	return out
}

func update(u *changelog.Updater, repo string, p []events.Package, seed uint64) error {
	_, err := u.Update(context.Background(), changelog.UpdateParams{Repo: repo, Seed: seed, Force: true,
		Snapshot: hashing.Group(hashing.New(seed), p)})
	return err
}

// TestKillReplicatorAndFollowers runs a NATS replicator, a follower fed by
// NATS and a follower fed over HTTP as real processes while the leader
// appends, and kills one of them with SIGKILL at a random moment, again and
// again. Then it lets them finish: every seq is in the stream exactly
// once, and both followers equal the leader.
func TestKillReplicatorAndFollowers(t *testing.T) {
	t.Parallel()
	const kills = 24
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	leaderURL := dbtest.NewURL(t)
	leader, err := pgxpool.New(ctx, leaderURL)
	require.NoError(t, err)
	t.Cleanup(leader.Close) // after the feed's cleanup, which uses it
	u, err := changelog.NewUpdater(leader, changelog.Config{})
	require.NoError(t, err)
	require.NoError(t, update(u, "alpha", pkgs(3000, 0), hashing.DefaultSeed))
	require.NoError(t, update(u, "beta", pkgs(1500, 0), hashing.DefaultSeed))

	_, hs := replaytest.HTTPFeed(t, replay.ServerConfig{DB: leader}, nil)
	natsURL := replaytest.NATSServer(t)
	httpFollower, natsFollower := dbtest.NewURL(t), dbtest.NewURL(t)

	procs := []*proc{
		{name: "replicate", args: []string{"replicate", "--db", leaderURL, "--to", natsURL}},
		{name: "follow (nats)", args: []string{"follow", "--db", natsFollower, "--from", natsURL}},
		{name: "follow (http)", args: []string{"follow", "--db", httpFollower, "--from", hs.URL}},
	}
	for _, p := range procs {
		p.start(t)
	}

	// The leader keeps appending while processes die.
	appended := make(chan struct{})
	defer func() { <-appended }()
	go func() {
		defer close(appended)
		for gen := 1; gen <= 8; gen++ {
			seed := hashing.DefaultSeed
			if gen >= 5 {
				seed = 7 // a change of seed re-derives alpha
			}
			if err := errors.Join(update(u, "alpha", pkgs(3000, gen), seed),
				update(u, "beta", pkgs(1500, gen), hashing.DefaultSeed)); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
	}()

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("kill schedule seed %d", seed)
	for range kills {
		time.Sleep(time.Duration(30+rng.IntN(400)) * time.Millisecond)
		p := procs[rng.IntN(len(procs))]
		p.kill(t)
		p.start(t)
	}
	<-appended
	for _, p := range procs {
		p.kill(t)
		t.Logf("%s killed %d times", p.name, p.kills)
	}

	// Let them finish the whole log.
	head, err := changelog.Head(ctx, leader)
	require.NoError(t, err)
	until := fmt.Sprint(head)
	for _, p := range procs {
		p.args = append(p.args, "--until", until)
		p.start(t)
	}
	for _, p := range procs {
		p.wait(t, ctx)
	}

	replaytest.RequireExactlyOnce(t, replaytest.StreamEvents(t, natsURL, replay.DefaultStream), head)
	for _, url := range []string{httpFollower, natsFollower} {
		f, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		replaytest.RequireSame(t, leader, f)
		f.Close()
	}
}

// TestFollowExitsOnDivergence: `deltalog follow` stops with exit status 3
// and names the repository when its state no longer matches the leader's.
func TestFollowExitsOnDivergence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	leader := dbtest.New(t)
	u, err := changelog.NewUpdater(leader, changelog.Config{})
	require.NoError(t, err)
	require.NoError(t, update(u, "alpha", pkgs(50, 0), hashing.DefaultSeed))
	_, hs := replaytest.HTTPFeed(t, replay.ServerConfig{DB: leader}, nil)
	followerURL := dbtest.NewURL(t)
	run := func() (int, string) {
		head, err := changelog.Head(ctx, leader)
		require.NoError(t, err)
		cmd := exec.Command(bin, "follow", "--db", followerURL, "--from", hs.URL, "--until", fmt.Sprint(head))
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	code, out := run()
	require.Equal(t, 0, code, out)

	f, err := pgxpool.New(ctx, followerURL)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Exec(ctx, `UPDATE repos SET state_checksum = state_checksum + 1`)
	require.NoError(t, err)
	require.NoError(t, update(u, "alpha", pkgs(50, 1), hashing.DefaultSeed))
	code, out = run()
	require.Equal(t, 3, code, out)
	require.Contains(t, out, "diverged")
	require.Contains(t, out, "repository alpha")
}

// TestTailCommand: `deltalog tail` prints JSON lines from any seq, with
// --limit and --repo, and with --follow prints appends as they commit.
func TestTailCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	leader, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer leader.Close()
	u, err := changelog.NewUpdater(leader, changelog.Config{})
	require.NoError(t, err)
	require.NoError(t, update(u, "alpha", pkgs(10, 0), hashing.DefaultSeed))
	require.NoError(t, update(u, "beta", pkgs(10, 0), hashing.DefaultSeed))

	seqs := func(out []byte) (seqs []int64, repos []string) {
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var ev events.Event
			require.NoError(t, dec.Decode(&ev))
			seqs, repos = append(seqs, ev.Seq), append(repos, ev.Repo)
		}
		return seqs, repos
	}
	out, err := exec.Command(bin, "tail", "--db", url, "--from", "3", "--limit", "4").Output()
	require.NoError(t, err)
	s, _ := seqs(out)
	require.Equal(t, []int64{4, 5, 6, 7}, s)
	out, err = exec.Command(bin, "tail", "--db", url, "--repo", "beta").Output()
	require.NoError(t, err)
	s, r := seqs(out)
	require.Len(t, s, 10)
	require.Equal(t, int64(11), s[0])
	require.Equal(t, "beta", r[9])

	cmd := exec.Command(bin, "tail", "--db", url, "--from", "18", "--follow")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	dec := json.NewDecoder(stdout)
	for _, want := range []int64{19, 20} { // what was there: the tail is following now
		var ev events.Event
		require.NoError(t, dec.Decode(&ev))
		require.Equal(t, want, ev.Seq)
	}
	require.NoError(t, update(u, "gamma", pkgs(2, 0), hashing.DefaultSeed))
	for _, want := range []int64{21, 22} {
		var ev events.Event
		require.NoError(t, dec.Decode(&ev))
		require.Equal(t, want, ev.Seq)
		require.Equal(t, "gamma", ev.Repo)
	}
}
