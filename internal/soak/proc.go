package soak

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Kinds of process the soak runs.
const (
	kindProject   = "project"
	kindReplicate = "replicate"
	kindFollow    = "follow"
	kindUpdate    = "update"
)

// appPrefix starts the application_name of every session of the soak's
// processes, followed by the instance's name (kind-N).
const appPrefix = "soak-"

// instance is one run of a deltalog process.
type instance struct {
	name    string // kind-N, unique in the run; its sessions' application_name is appPrefix+name
	kind    string
	cmd     *exec.Cmd
	started time.Time
	stdout  bytes.Buffer
	stderr  *tailBuffer
	done    chan struct{}
	killed  atomic.Bool // ended by the soak's SIGKILL
	err     error       // what Wait returned; read after done
	ended   time.Time
}

// kill sends SIGKILL unless the process has ended, and waits for it to
// end. It reports whether this call killed it.
func (i *instance) kill() bool {
	select {
	case <-i.done:
		return false
	default:
	}
	i.killed.Store(true)
	if err := i.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		<-i.done
		return false // it ended meanwhile
	}
	<-i.done
	return true
}

// exitCode is the process's exit status, -1 when a signal ended it.
func (i *instance) exitCode() int {
	var ee *exec.ExitError
	if errors.As(i.err, &ee) {
		return ee.ExitCode()
	}
	if i.err != nil {
		return -1
	}
	return 0
}

// procs starts deltalog processes and knows which are running: what the
// chaos loop picks its victims from.
type procs struct {
	bin    string
	logDir string

	mu      sync.Mutex
	live    map[string]*instance
	seq     map[string]int
	lastEnd map[string]time.Time // by kind: when an instance last ended
}

func newProcs(bin, logDir string) (*procs, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	return &procs{bin: bin, logDir: logDir, live: map[string]*instance{}, seq: map[string]int{}, lastEnd: map[string]time.Time{}}, nil
}

// start runs the binary with the arguments args returns for the new
// instance's name. Its stderr goes to the kind's log file (logs/KIND.log)
// and, the last few KiB of it, to the instance.
func (p *procs) start(kind string, args func(name string) []string) (*instance, error) {
	p.mu.Lock()
	p.seq[kind]++
	name := fmt.Sprintf("%s-%d", kind, p.seq[kind])
	p.mu.Unlock()

	log, err := os.OpenFile(filepath.Join(p.logDir, kind+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	argv := args(name)
	fmt.Fprintf(log, "== %s %s: deltalog %s\n", time.Now().UTC().Format("15:04:05.000"), name, strings.Join(argv, " "))
	inst := &instance{name: name, kind: kind, stderr: &tailBuffer{max: 4 << 10}, done: make(chan struct{})}
	cmd := exec.Command(p.bin, argv...)
	cmd.Stdout = &inst.stdout
	cmd.Stderr = io.MultiWriter(log, inst.stderr)
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting deltalog %s: %w", kind, err)
	}
	inst.cmd, inst.started = cmd, time.Now()
	p.mu.Lock()
	p.live[name] = inst
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		inst.err, inst.ended = err, time.Now()
		fmt.Fprintf(log, "== %s %s ended: %s\n", inst.ended.UTC().Format("15:04:05.000"), name, describeExit(inst))
		log.Close()
		p.mu.Lock()
		delete(p.live, name)
		p.lastEnd[kind] = inst.ended
		p.mu.Unlock()
		close(inst.done)
	}()
	return inst, nil
}

func describeExit(i *instance) string {
	switch {
	case i.killed.Load():
		return "killed (SIGKILL)"
	case i.err == nil:
		return "exit status 0"
	}
	return i.err.Error()
}

// alive reports whether the named instance is running.
func (p *procs) alive(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.live[name]
	return ok
}

// endedSince reports whether an instance of kind ended after t.
func (p *procs) endedSince(kind string, t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastEnd[kind].After(t)
}

// pick returns a random running instance, choosing first a kind among
// those running, so that every kind is hit about as often; nil when none
// runs.
func (p *procs) pick(rng *rand.Rand) *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	byKind := map[string][]*instance{}
	var kinds []string
	for _, i := range p.live {
		if len(byKind[i.kind]) == 0 {
			kinds = append(kinds, i.kind)
		}
		byKind[i.kind] = append(byKind[i.kind], i)
	}
	if len(kinds) == 0 {
		return nil
	}
	// Map order is random, but not rng's: sort for a schedule the seed
	// decides.
	slices.Sort(kinds)
	is := byKind[kinds[rng.IntN(len(kinds))]]
	slices.SortFunc(is, func(a, b *instance) int { return cmp.Compare(a.name, b.name) })
	return is[rng.IntN(len(is))]
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns what is kept.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lastLine returns the last non-empty line kept.
func (t *tailBuffer) lastLine() string {
	lines := strings.Split(strings.TrimSpace(t.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
