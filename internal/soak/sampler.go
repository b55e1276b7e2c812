package soak

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/projections"
	dlsql "github.com/deltalog/deltalog/sql"
)

// WorkerReport is what the sampler saw of the projection workers.
type WorkerReport struct {
	// Samples taken, and skipped because the database was down.
	Samples int `json:"samples"`
	Skipped int `json:"skipped"`
	// Writing counts the (sample, projection) pairs in which a worker was
	// writing the projection's tables: what the exclusivity check saw.
	Writing int `json:"writing"`
	// Violations counts the pairs in which a live worker wrote without
	// holding the projection's lock, or two wrote at once, and the
	// projections whose checkpoint moved from one sample to the next
	// while nobody held their lock at either (and no worker ended nor
	// PostgreSQL restarted in between); First describes the first.
	Violations int    `json:"violations"`
	First      string `json:"first,omitempty"`
	// MaxLag is the largest lag seen (events behind the head), and
	// LongestBehind the longest a projection stayed behind without its
	// checkpoint moving, and which.
	MaxLag        int64         `json:"max_lag"`
	LongestBehind time.Duration `json:"longest_behind_ns"`
	BehindWhich   string        `json:"behind_which,omitempty"`
}

// sampler samples, every SampleEvery, which worker holds each projection's
// lock and which is writing its tables, and the projections' lags.
type sampler struct {
	s               *soak
	names, relnames []string // pairs: projection, one of its tables

	mu       sync.Mutex
	rep      WorkerReport
	progress map[string]progressMark // per projection
	last     map[string]lockMark     // per projection: the last sample
}

// progressMark is when a projection's checkpoint last moved.
type progressMark struct {
	checkpoint int64
	since      time.Time
}

// lockMark is a projection's checkpoint at a sample, and whether a worker
// held its lock then.
type lockMark struct {
	at         time.Time
	checkpoint int64
	held       bool
}

func newSampler(s *soak) *sampler {
	smp := &sampler{s: s, progress: map[string]progressMark{}, last: map[string]lockMark{}}
	tables := projections.Tables()
	for _, p := range projections.Names() {
		for _, t := range tables[p] {
			smp.names, smp.relnames = append(smp.names, p), append(smp.relnames, t)
		}
	}
	return smp
}

func (smp *sampler) run(ctx context.Context) {
	for sleep(ctx, smp.s.cfg.SampleEvery) {
		err := smp.sample(ctx)
		smp.mu.Lock()
		if err != nil {
			smp.rep.Skipped++
		} else {
			smp.rep.Samples++
		}
		smp.mu.Unlock()
	}
}

// sample takes one sample.
func (smp *sampler) sample(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	rows, err := smp.s.leader.Query(ctx, dlsql.Query("soak-projection-sessions"), smp.names, smp.relnames)
	if err != nil {
		return err
	}
	holders, writers := map[string][]string{}, map[string][]string{}
	var projection, role, app string
	if _, err := pgx.ForEachRow(rows, []any{&projection, &role, &app}, func() error {
		name, ok := strings.CutPrefix(app, appPrefix)
		if !ok {
			return nil
		}
		if role == "lock" {
			holders[projection] = append(holders[projection], name)
		} else if strings.HasPrefix(name, kindProject+"-") && smp.s.procs.alive(name) {
			// Alive after the query, so alive during it. A killed worker's
			// backend may finish a statement after its client is gone:
			// that one is not counted.
			writers[projection] = append(writers[projection], name)
		}
		return nil
	}); err != nil {
		return err
	}
	sts, err := projections.ReadStatus(ctx, smp.s.leader)
	if err != nil {
		return err
	}

	now := time.Now()
	smp.mu.Lock()
	defer smp.mu.Unlock()
	violation := func(bad string) {
		smp.rep.Violations++
		if smp.rep.First == "" {
			smp.rep.First = now.UTC().Format("15:04:05.000") + " " + bad
		}
	}
	for _, st := range sts {
		held := len(holders[st.Name]) > 0
		prev, ok := smp.last[st.Name]
		smp.last[st.Name] = lockMark{at: start, checkpoint: st.Checkpoint, held: held}
		if ok && !prev.held && !held && st.Checkpoint > prev.checkpoint &&
			!smp.s.restartedDuring(prev.at, now) && !smp.s.procs.endedSince(kindProject, prev.at) {
			violation(fmt.Sprintf("%s: applied from %d to %d while no worker held its lock", st.Name, prev.checkpoint, st.Checkpoint))
		}
	}
	for _, p := range projections.Names() {
		w := writers[p]
		if len(w) == 0 {
			continue
		}
		smp.rep.Writing++
		var bad string
		switch {
		case len(w) > 1:
			slices.Sort(w)
			bad = fmt.Sprintf("%s: %s wrote its tables at once", p, strings.Join(w, " and "))
		case !slices.Contains(holders[p], w[0]):
			holder := "nobody"
			if len(holders[p]) > 0 {
				holder = strings.Join(holders[p], ", ")
			}
			bad = fmt.Sprintf("%s: %s wrote its tables without its lock (held by %s)", p, w[0], holder)
		}
		if bad != "" {
			violation(bad)
		}
	}
	for _, st := range sts {
		smp.rep.MaxLag = max(smp.rep.MaxLag, st.Lag)
		mark, ok := smp.progress[st.Name]
		if !ok || mark.checkpoint != st.Checkpoint || st.Lag == 0 {
			smp.progress[st.Name] = progressMark{checkpoint: st.Checkpoint, since: now}
			continue
		}
		if d := now.Sub(mark.since); d > smp.rep.LongestBehind {
			smp.rep.LongestBehind, smp.rep.BehindWhich = d, fmt.Sprintf("%s at checkpoint %d", st.Name, st.Checkpoint)
		}
	}
	return nil
}

func (smp *sampler) report() WorkerReport {
	smp.mu.Lock()
	defer smp.mu.Unlock()
	return smp.rep
}

func (smp *sampler) violations() int {
	smp.mu.Lock()
	defer smp.mu.Unlock()
	return smp.rep.Violations
}
