package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/projections"
)

// deltaCase measures a delta between two snapshots both ways (there: A →
// B, back: B → A) in Reps alternating runs, each a delta of the same size,
// ending where it began (A), with the delta's ideal-delta floor and
// amplification.
//
// Before the measured runs, one unmeasured run there and back snapshots
// both states (after it, the identity rows of B's emails and URLs exist in
// A too, orphaned, as they do between the measured runs); after them, the
// floor writes the differences alternately both ways, Reps times, ending at
// A again.
func (h *harness) deltaCase(ctx context.Context, name, what string, there, back []snapshot) (Case, error) {
	h.progress("%s: snapshots of both states for the ideal-delta floor", name)
	for _, s := range []struct {
		snaps []snapshot
		label string
	}{{there, "b"}, {back, "a"}} {
		if _, err := h.update(ctx, s.snaps); err != nil {
			return Case{}, fmt.Errorf("%s: %w", name, err)
		}
		if err := snapshotFloor(ctx, h.pool, s.label); err != nil {
			return Case{}, fmt.Errorf("%s: floor: %w", name, err)
		}
	}
	f, err := newFloor(ctx, h.pool)
	if err != nil {
		return Case{}, fmt.Errorf("%s: %w", name, err)
	}

	rec := newCase(name, what)
	var measured []map[string]projections.TableStats
	away := false
	for i := range h.cfg.Reps {
		target := there
		if away {
			target = back
		}
		p, err := h.update(ctx, target)
		if err != nil {
			return Case{}, fmt.Errorf("%s: %w", name, err)
		}
		away = !away
		rec.addPass(p)
		measured = append(measured, p.tables)
		h.progress("%s %d/%d: %.2fs (database %.2fs, projections %.2fs), %d events", name, i+1, h.cfg.Reps,
			p.e2e.Seconds(), p.db.Seconds(), p.project.Seconds(), p.events)
	}
	c := rec.done(h.rep)
	if away {
		if _, err := h.update(ctx, back); err != nil {
			return Case{}, fmt.Errorf("%s: back: %w", name, err)
		}
	}

	fl := f.summary()
	fl.measured(measured)
	dir := floorAB
	for i := range h.cfg.Reps {
		d, err := f.apply(ctx, dir)
		if err != nil {
			return Case{}, fmt.Errorf("%s: floor: %w", name, err)
		}
		fl.Samples = append(fl.Samples, d.Seconds())
		h.progress("%s: ideal-delta floor %d/%d (%s): %.3fs", name, i+1, h.cfg.Reps, dir, d.Seconds())
		dir = map[string]string{floorAB: floorBA, floorBA: floorAB}[dir]
	}
	if dir == floorBA { // the live tables hold B's rows: back to A
		if _, err := f.apply(ctx, floorBA); err != nil {
			return Case{}, fmt.Errorf("%s: floor: %w", name, err)
		}
	}
	fl.Seconds = median(fl.Samples)
	c.Floor = fl
	if _, err := h.pool.Exec(ctx, query("floor-drop")); err != nil {
		return Case{}, err
	}
	return c, nil
}

// AuditResult is the audit run after a family of cases.
type AuditResult struct {
	Family  string  `json:"family"`
	Outcome string  `json:"outcome"`
	Checks  int     `json:"checks"`
	Seconds float64 `json:"seconds"`
}

// ErrInconsistent is returned when the audit after a family of cases finds
// the database anything but consistent.
var ErrInconsistent = errors.New("the audit found the database inconsistent")

// audit runs `deltalog audit` (projections.Audit) on the database as the
// family's cases left it, and fails the run unless it is consistent.
func (h *harness) audit(ctx context.Context, family string) error {
	start := time.Now()
	rep, err := projections.Audit(ctx, h.pool, projections.AuditOpts{Source: "bench", Logger: h.cfg.Logger})
	if err != nil {
		return fmt.Errorf("audit after the %s cases: %w", family, err)
	}
	h.rep.Audits = append(h.rep.Audits, AuditResult{Family: family, Outcome: rep.Outcome, Checks: len(rep.Checks),
		Seconds: time.Since(start).Seconds()})
	h.progress("audit after the %s cases: %s (%d checks in %.1fs)", family, rep.Outcome, len(rep.Checks), rep.Seconds)
	if rep.Outcome == projections.OutcomeConsistent {
		return nil
	}
	var failed []string
	for _, c := range rep.Checks {
		if !c.Clean() {
			failed = append(failed, fmt.Sprintf("%s (missing %d, extra %d, differing %d%s)", c.Name, c.Missing, c.Extra,
				c.Differing, map[bool]string{true: ", skipped: " + c.Skipped}[c.Skipped != ""]))
		}
	}
	return fmt.Errorf("%w after the %s cases (outcome %s): %s", ErrInconsistent, family, rep.Outcome, strings.Join(failed, "; "))
}

// writeSingleChange copies the JSONL snapshot src to dst with one package
// changed — the middle line's, its version given one more component, as a
// security update does — and returns that package's project.
func writeSingleChange(src, dst string) (string, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("%s: no packages", src)
	}
	i := len(lines) / 2
	var p events.Package
	if err := json.Unmarshal(lines[i], &p); err != nil {
		return "", fmt.Errorf("%s:%d: %w", src, i+1, err)
	}
	p.Version += ".1"
	lines[i] = append(gen.AppendJSON(nil, &p), '\n')
	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for _, l := range lines {
		if _, err := w.Write(l); err != nil {
			return "", err
		}
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return p.Project, f.Close()
}
