package soak

import (
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/deltalog/deltalog/projections"
)

// Pauses before a service's process is started again: after it ended (a
// SIGKILL, a crash), doubled for each time in a row it ended by itself up
// to maxRestartPause, as a service manager backs off; and after a worker
// was refused because another one holds the projections' lock (it keeps
// trying to take over).
const (
	restartPause    = 250 * time.Millisecond
	maxRestartPause = 4 * time.Second
	refusedPause    = time.Second
	// stopWait is how long a process asked to stop (SIGTERM) has before it
	// is killed.
	stopWait = 10 * time.Second
)

// Exit is a long-running process that ended by itself: neither killed by
// the soak nor refused for a worker already running.
type Exit struct {
	Process string        `json:"process"` // kind-N
	After   time.Duration `json:"after_ns"`
	Status  int           `json:"status"`
	// Message is the last line it wrote to stderr.
	Message string `json:"message"`
	// DuringRestart says PostgreSQL was restarted while it ran.
	DuringRestart bool `json:"during_restart"`
}

// service keeps one long-running process running, starting it again
// whenever it ends, as a service manager would, until stopped.
type service struct {
	kind  string
	args  func(name string) []string
	procs *procs
	// restartedDuring reports whether PostgreSQL was restarted between
	// two instants.
	restartedDuring func(from, to time.Time) bool

	mu        sync.Mutex
	cur       *instance
	stopping  bool
	startErr  error
	exits     []Exit
	refused   int
	slowStops int
	stopCh    chan struct{}
	stopped   chan struct{}
}

func newService(p *procs, kind string, args func(name string) []string, restartedDuring func(from, to time.Time) bool) *service {
	sv := &service{kind: kind, args: args, procs: p, restartedDuring: restartedDuring,
		stopCh: make(chan struct{}), stopped: make(chan struct{})}
	go sv.run()
	return sv
}

func (sv *service) run() {
	defer close(sv.stopped)
	gaveUp := 0 // times in a row the process ended by itself
	for {
		sv.mu.Lock()
		if sv.stopping {
			sv.mu.Unlock()
			return
		}
		inst, err := sv.procs.start(sv.kind, sv.args)
		if err != nil {
			sv.startErr = err
			sv.mu.Unlock()
			return
		}
		sv.cur = inst
		sv.mu.Unlock()

		<-inst.done
		sv.mu.Lock()
		stopping := sv.stopping
		pause := restartPause
		switch {
		case stopping, inst.killed.Load(): // kills are counted by the chaos loop
			gaveUp = 0
		case inst.kind == kindProject && strings.Contains(inst.stderr.String(), projections.ErrBusy.Error()):
			gaveUp = 0
			sv.refused++
			pause = refusedPause
		default:
			gaveUp++
			pause = min(restartPause<<min(gaveUp-1, 8), maxRestartPause)
			sv.exits = append(sv.exits, Exit{
				Process: inst.name, After: inst.ended.Sub(inst.started), Status: inst.exitCode(),
				Message: inst.stderr.lastLine(), DuringRestart: sv.restartedDuring(inst.started, inst.ended),
			})
		}
		sv.mu.Unlock()
		if stopping {
			return
		}
		select {
		case <-sv.stopCh:
			return
		case <-time.After(pause):
		}
	}
}

// stop ends the service: its process is asked to stop (SIGTERM) and killed
// if it has not within stopWait.
func (sv *service) stop() {
	sv.mu.Lock()
	if sv.stopping {
		sv.mu.Unlock()
		<-sv.stopped
		return
	}
	sv.stopping = true
	cur := sv.cur
	sv.mu.Unlock()
	close(sv.stopCh)
	if cur != nil {
		select {
		case <-cur.done:
		default:
			_ = cur.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-cur.done:
			case <-time.After(stopWait):
				cur.kill()
				sv.mu.Lock()
				sv.slowStops++
				sv.mu.Unlock()
			}
		}
	}
	<-sv.stopped
}
