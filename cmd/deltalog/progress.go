package main

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// progress draws, on a terminal only, the current phase of an update: a bar
// of the input bytes read while reading, then the elapsed time of each
// later phase.
type progress struct {
	tty         bool
	read, total atomic.Int64
	name        chan string
	stop        chan struct{}
	finished    chan struct{}
}

var phaseLabels = map[string]string{
	"read": "reading", "diff": "diffing and writing", "project": "projecting",
}

func newProgress(w io.Writer, repo string) *progress {
	p := &progress{tty: isTerminal(w)}
	if !p.tty {
		return p
	}
	p.name, p.stop, p.finished = make(chan string, 4), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.finished)
		phase, start := "", time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				fmt.Fprint(w, "\r\033[K")
				return
			case phase = <-p.name:
				start = time.Now()
			case <-tick.C:
			}
			line := fmt.Sprintf("%s: %s %.1fs", repo, phaseLabels[phase], time.Since(start).Seconds())
			if done, total := p.read.Load(), p.total.Load(); phase == "read" && total > 0 {
				line = fmt.Sprintf("%s: reading %s %5.1f%% of %.1f MB", repo, bar(done, total, 30),
					100*float64(done)/float64(total), float64(total)/1e6)
			}
			fmt.Fprintf(w, "\r\033[K%s", line)
		}
	}()
	return p
}

func bar(done, total int64, width int) string {
	n := min(width, int(int64(width)*done/total))
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}

// phase announces the start of a phase ("read", "diff", "project").
func (p *progress) phase(name string) {
	if p.tty {
		p.name <- name
	}
}

// bytes records reading progress; safe from any goroutine.
func (p *progress) bytes(done, total int64) {
	p.read.Store(done)
	p.total.Store(total)
}

// done clears the line.
func (p *progress) done() {
	if p.tty {
		close(p.stop)
		<-p.finished
	}
}
