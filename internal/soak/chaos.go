package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/deltalog/deltalog/internal/bench/gen"
)

// maxUpdateFailures is how many attempts in a row an update may fail
// without being killed (the database down) before the soak gives up on it.
const maxUpdateFailures = 60

// kills SIGKILLs a random running process every ~KillEvery until ctx ends.
func (s *soak) kills(ctx context.Context) {
	for sleep(ctx, s.uniform(s.cfg.KillEvery)) {
		s.mu.Lock()
		victim := s.procs.pick(s.rng)
		s.mu.Unlock()
		if victim == nil || !victim.kill() {
			continue
		}
		s.fault()
		s.mu.Lock()
		s.rep.Kills[victim.kind]++
		s.mu.Unlock()
	}
}

// pgRestarts crashes PostgreSQL (pg_ctl stop -m immediate) every
// ~RestartEvery until ctx ends, leaves it down for up to MaxDowntime and
// starts it again. A restart once begun is finished, ctx or not.
func (s *soak) pgRestarts(ctx context.Context) {
	for sleep(ctx, s.uniform(s.cfg.RestartEvery)) {
		rctx := context.WithoutCancel(ctx)
		down := time.Now()
		s.mu.Lock()
		s.restarts = append(s.restarts, interval{from: down})
		downtime := time.Duration(s.rng.Int64N(int64(s.cfg.MaxDowntime) + 1))
		s.mu.Unlock()
		if err := s.cluster.Crash(rctx); err != nil {
			s.cfg.Logger.Error("soak: crashing PostgreSQL", "error", err)
		}
		s.fault()
		time.Sleep(downtime)
		for attempt := 0; ; attempt++ {
			err := s.cluster.Start(rctx)
			if err == nil {
				break
			}
			s.cfg.Logger.Error("soak: starting PostgreSQL again", "error", err, "attempt", attempt)
			time.Sleep(time.Second)
		}
		up := time.Now()
		s.fault()
		s.mu.Lock()
		s.restarts[len(s.restarts)-1].to = up
		s.rep.Restarts++
		s.rep.Downtime += up.Sub(down)
		s.mu.Unlock()
	}
}

// updates writes generation after generation of the catalog and updates
// every repository with it, Writers at a time, until ctx ends. Each update
// is a process (killed ones are run again, so every generation is applied
// in full before the next one starts).
func (s *soak) updates(ctx context.Context) error {
	g, err := gen.New(gen.Config{Seed: s.cfg.Seed, Repos: s.cfg.Repos, Packages: s.cfg.Packages, Rate: s.cfg.Rate})
	if err != nil {
		return err
	}
	genDir := filepath.Join(s.dir, "gen")
	for generation := 0; ctx.Err() == nil; generation++ {
		dir := filepath.Join(genDir, strconv.Itoa(generation))
		paths, _, err := g.WriteFiles(ctx, generation, dir)
		if err != nil {
			return err
		}
		sem := make(chan struct{}, s.cfg.Writers)
		errs := make([]error, len(paths))
		var wg sync.WaitGroup
		for i, path := range paths {
			if st, err := os.Stat(path); err != nil || st.Size() == 0 {
				continue // a repository with no packages in this generation
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				errs[i] = s.update(ctx, g.Repos()[i], path)
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		s.mu.Lock()
		s.rep.Generations = generation + 1
		s.mu.Unlock()
		if generation > 0 {
			_ = os.RemoveAll(filepath.Join(genDir, strconv.Itoa(generation-1)))
		}
		sleep(ctx, s.cfg.UpdatePause)
	}
	return ctx.Err()
}

// update runs `deltalog update` of repo with the snapshot at path until it
// succeeds, or ctx ends before an attempt.
func (s *soak) update(ctx context.Context, repo, path string) error {
	for failures := 0; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		inst, err := s.procs.start(kindUpdate, func(name string) []string {
			return []string{"update", "--repo", repo, "--format", "jsonl", "--json",
				"--db", appURL(s.leaderURL, appPrefix+name), path}
		})
		if err != nil {
			return err
		}
		<-inst.done
		switch {
		case inst.err == nil:
			var sum struct {
				Events int64 `json:"events"`
			}
			_ = json.Unmarshal(inst.stdout.Bytes(), &sum)
			s.mu.Lock()
			s.rep.Updates++
			s.rep.UpdateEvents += sum.Events
			s.mu.Unlock()
			return nil
		case inst.killed.Load():
			// Counted by the chaos loop; the update is run again.
		default:
			failures++
			s.mu.Lock()
			s.rep.UpdateFailures++
			s.mu.Unlock()
			if failures >= maxUpdateFailures {
				return fmt.Errorf("soak: the update of %s with %s failed %d times in a row: %s",
					repo, path, failures, inst.stderr.lastLine())
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// progress prints a line every ProgressEvery until ctx ends.
func (s *soak) progress(ctx context.Context, start time.Time, smp *sampler) {
	for sleep(ctx, s.cfg.ProgressEvery) {
		s.mu.Lock()
		kills, restarts, gens := 0, s.rep.Restarts, s.rep.Generations
		for _, n := range s.rep.Kills {
			kills += n
		}
		s.mu.Unlock()
		fmt.Fprintf(s.cfg.Progress, "soak %v: %d SIGKILLs, %d PostgreSQL restarts, %d generations, %d worker violations; %s\n",
			time.Since(start).Round(time.Second), kills, restarts, gens, smp.violations(), s.positions(ctx))
	}
}
