package soak

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/deltalog/deltalog/projections"
)

// Report is what a soak run did and found.
type Report struct {
	Seed     uint64        `json:"seed"`
	Home     string        `json:"home"`
	Duration time.Duration `json:"duration_ns"` // of the faults and updates
	Elapsed  time.Duration `json:"elapsed_ns"`  // of the whole run, checks included

	// Kills counts the SIGKILLs by kind of process (project, replicate,
	// follow, update); Restarts the PostgreSQL crashes and starts, down
	// Downtime in all.
	Kills    map[string]int `json:"kills"`
	Restarts int            `json:"pg_restarts"`
	Downtime time.Duration  `json:"pg_downtime_ns"`

	// Generations of the catalog applied; Updates committed (the events
	// they reported; an update killed after its commit reports none),
	// UpdateFailures the attempts that failed without being killed (the
	// database down), each run again.
	Generations    int   `json:"generations"`
	Updates        int   `json:"updates"`
	UpdateEvents   int64 `json:"update_events"`
	UpdateFailures int   `json:"update_failures"`
	HeadSeq        int64 `json:"head_seq"`

	Stream   StreamReport   `json:"stream"`
	Follower FollowerReport `json:"follower"`
	Audit    AuditReport    `json:"audit"`
	Workers  WorkerReport   `json:"workers"`
	CatchUp  CatchUpReport  `json:"catch_up"`

	// Exits lists the long-running processes that ended by themselves;
	// Refused counts the worker starts refused because another worker held
	// the projections; SlowStops the processes that did not stop within
	// 10s of SIGTERM at the end.
	Exits     []Exit `json:"exits"`
	Refused   int    `json:"refused"`
	SlowStops int    `json:"slow_stops"`

	Checks []Check `json:"checks"`
}

// Check is one pass/fail verdict of a run.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// TotalKills is the number of SIGKILLs sent.
func (r *Report) TotalKills() int {
	n := 0
	for _, k := range r.Kills {
		n += k
	}
	return n
}

// Failed returns the names of the checks that failed.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

// check sets the verdicts.
func (r *Report) check(cfg Config) {
	add := func(name string, ok bool, format string, args ...any) {
		r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	add("faults", r.TotalKills() >= cfg.MinKills && r.Restarts >= cfg.MinRestarts,
		"%d SIGKILLs (at least %d wanted), %d PostgreSQL restarts (at least %d)", r.TotalKills(), cfg.MinKills, r.Restarts, cfg.MinRestarts)
	st := r.Stream
	add("stream exactly once", st.Missing == 0 && st.Duplicated == 0 && st.Unknown == 0 && st.InOrder && r.HeadSeq > 0,
		"seqs 1..%d: %d missing, %d duplicated, %d unknown, %s", r.HeadSeq, st.Missing, st.Duplicated, st.Unknown, order(st.InOrder))
	if r.Follower.Equal {
		add("follower", true, "head seq %d and state checksum %s, the leader's", r.Follower.HeadSeq, r.Follower.StateChecksum)
	} else {
		add("follower", false, "differs from the leader: %s", r.Follower.Difference)
	}
	add("audit", r.Audit.Status == 0, "exit status %d: %s", r.Audit.Status, r.Audit.Summary)
	if len(r.CatchUp.Pending) == 0 {
		add("no stall", true, "every reader at the head within %v of the last fault", cfg.Settle)
	} else {
		add("no stall", false, "behind the head %v after the faults stopped: %s", cfg.Settle, strings.Join(r.CatchUp.Pending, "; "))
	}
	w := r.Workers
	if w.Violations == 0 {
		add("one worker at a time", w.Writing > 0, "%d samples saw a worker writing, each time the lock holder alone", w.Writing)
	} else {
		add("one worker at a time", false, "%d of %d samples with a worker writing broke it; first: %s", w.Violations, w.Writing, w.First)
	}
	if len(r.Exits) == 0 {
		add("no process gave up", true, "no long-running process ended by itself")
	} else {
		add("no process gave up", false, "%s", describeExits(r.Exits))
	}
}

// describeExits counts the exits by kind, and by what they said (numbers
// left out), the most frequent first.
func describeExits(exits []Exit) string {
	byKind := map[string]int{}
	byMessage := map[string]int{}
	example := map[string]Exit{}
	var kinds, messages []string
	during := 0
	for _, e := range exits {
		kind, _, _ := strings.Cut(e.Process, "-")
		if byKind[kind] == 0 {
			kinds = append(kinds, kind)
		}
		byKind[kind]++
		class := digits.ReplaceAllString(e.Message, "N")
		if len(class) > 160 {
			class = class[:160]
		}
		if byMessage[class] == 0 {
			messages = append(messages, class)
			example[class] = e
		}
		byMessage[class]++
		if e.DuringRestart {
			during++
		}
	}
	var counts, classes []string
	for _, k := range kinds {
		counts = append(counts, fmt.Sprintf("%s %d", k, byKind[k]))
	}
	slices.SortStableFunc(messages, func(a, b string) int { return byMessage[b] - byMessage[a] })
	for i, m := range messages {
		if i == 5 {
			classes = append(classes, fmt.Sprintf("and %d more kinds of message", len(messages)-5))
			break
		}
		classes = append(classes, fmt.Sprintf("%d× like %s", byMessage[m], describe(example[m])))
	}
	return fmt.Sprintf("%d long-running processes ended by themselves (%s; %d of them while PostgreSQL was restarted): %s",
		len(exits), strings.Join(counts, ", "), during, strings.Join(classes, "; "))
}

// digits matches the numbers of a message.
var digits = regexp.MustCompile(`[0-9]+`)

func order(in bool) string {
	if in {
		return "in order"
	}
	return "out of order"
}

func describe(e Exit) string {
	d := fmt.Sprintf("%s after %v, exit status %d", e.Process, e.After.Round(100*time.Millisecond), e.Status)
	if e.DuringRestart {
		d += " (PostgreSQL restarted meanwhile)"
	}
	if msg := e.Message; msg != "" {
		if len(msg) > 240 {
			msg = msg[:237] + "..."
		}
		d += ": " + msg
	}
	return d
}

// WriteText prints the figures and the verdicts.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	kinds := make([]string, 0, len(r.Kills))
	for k := range r.Kills {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var byKind []string
	for _, k := range kinds {
		byKind = append(byKind, fmt.Sprintf("%s %d", k, r.Kills[k]))
	}
	p("soak: %v of faults (seed %d), %v in all", r.Duration, r.Seed, r.Elapsed.Round(time.Second))
	p("  faults:    %d SIGKILLs (%s), %d PostgreSQL restarts (-m immediate; down %v in all)",
		r.TotalKills(), strings.Join(byKind, ", "), r.Restarts, r.Downtime.Round(100*time.Millisecond))
	p("  updates:   %d generations, %d updates committed (%d events), %d attempts failed on the database and were run again; head seq %d",
		r.Generations, r.Updates, r.UpdateEvents, r.UpdateFailures, r.HeadSeq)
	st := r.Stream
	p("  stream:    %d events in %d messages: %d missing, %d duplicated, %s", st.Events, st.Messages, st.Missing, st.Duplicated, order(st.InOrder))
	p("  follower:  head seq %d, state checksum %s, %s", r.Follower.HeadSeq, r.Follower.StateChecksum, equal(r.Follower))
	p("  audit:     %s", firstLine(r.Audit.Summary))
	wr := r.Workers
	p("  workers:   %d samples (%d skipped, database down), %d with a worker writing, %d violations; %d starts refused (another worker held the lock); max lag %d, longest behind without progress %v",
		wr.Samples, wr.Skipped, wr.Writing, wr.Violations, r.Refused, wr.MaxLag, wr.LongestBehind.Round(100*time.Millisecond))
	var after []string
	for _, name := range append(projections.Names(), readerStream, readerFollower) {
		if d, ok := r.CatchUp.After[name]; ok {
			after = append(after, fmt.Sprintf("%s %v", name, d.Round(100*time.Millisecond)))
		} else {
			after = append(after, name+" never")
		}
	}
	p("  catch-up:  at the head after the last fault: %s", strings.Join(after, ", "))
	p("  exits:     %d long-running processes ended by themselves, %d did not stop on SIGTERM", len(r.Exits), r.SlowStops)
	for _, c := range r.Checks {
		mark := "ok    "
		if !c.OK {
			mark = "FAILED"
		}
		p("  %s %-22s %s", mark, c.Name, c.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func equal(f FollowerReport) string {
	if f.Equal {
		return "equal to the leader's"
	}
	return "differs: " + f.Difference
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
