package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/internal/input/formats"
)

// synthetic runs the cases on the generated catalog.
func (h *harness) synthetic(ctx context.Context) error {
	cfg := h.cfg
	g0, err := gen.New(cfg.Gen)
	if err != nil {
		return err
	}
	names := g0.Repos()
	h.progress("generating generation 0: %d packages in %d repositories (seed %d) into %s",
		cfg.Gen.Packages, cfg.Gen.Repos, cfg.Gen.Seed, h.dir)
	files0, st0, err := g0.WriteFiles(ctx, 0, filepath.Join(h.dir, "gen0"))
	if err != nil {
		return err
	}
	h.rep.Scale = Scale{
		Seed: cfg.Gen.Seed, Repos: cfg.Gen.Repos, Packages: st0.Packages, Packagesets: st0.Packagesets,
		Projects: st0.Projects, InputBytes: st0.Bytes, Rates: cfg.Rates, Reps: cfg.Reps, PageSize: cfg.PageSize,
	}
	snaps0 := snapshots(names, files0)
	deltas := map[float64][]snapshot{}
	if cfg.want("delta") {
		for _, rate := range cfg.Rates {
			gc := cfg.Gen
			gc.Rate = rate
			g, err := gen.New(gc)
			if err != nil {
				return err
			}
			h.progress("generating generation 1 at rate %v", rate)
			files, _, err := g.WriteFiles(ctx, 1, filepath.Join(h.dir, "gen1-"+strconv.FormatFloat(rate, 'f', -1, 64)))
			if err != nil {
				return err
			}
			deltas[rate] = snapshots(names, files)
		}
	}
	h.rep.PeakRSS = max(h.rep.PeakRSS, peakRSS())

	if cfg.want("copy") {
		if err := h.wipe(ctx); err != nil {
			return err
		}
		c, err := h.copyFloor(ctx, formats.JSONL, files0)
		if err != nil {
			return fmt.Errorf("COPY floor: %w", err)
		}
		h.add(c)
	}
	needDB := false
	for _, g := range []string{"full", "nochange", "delta", "recompute", "views", "tail", "api"} {
		needDB = needDB || cfg.want(g)
	}
	if !needDB {
		if cfg.want("parse") {
			return h.parseHash(ctx, files0)
		}
		return nil
	}

	rec := newCase(CaseFull, "initial update of every repository into an empty database, projections included")
	for i := range cfg.FullReps {
		if err := h.wipe(ctx); err != nil {
			return err
		}
		p, err := h.update(ctx, snaps0)
		if err != nil {
			return fmt.Errorf("full ingest: %w", err)
		}
		rec.addPass(p)
		h.progress("%s %d/%d: %.1fs (database %.1fs, projections %.1fs), %d events", CaseFull, i+1, cfg.FullReps,
			p.e2e.Seconds(), p.db.Seconds(), p.project.Seconds(), p.events)
	}
	h.add(rec.done(h.rep))
	if err := h.vacuum(ctx); err != nil {
		return err
	}
	// Parse + hash is the floor the updates below are compared with: it
	// runs here, next to them, under the same background (the server
	// idle after its checkpoint, the files in the page cache).
	if cfg.want("parse") {
		if err := h.parseHash(ctx, files0); err != nil {
			return err
		}
	}

	if cfg.want("nochange") {
		rec := newCase(CaseNoChange, "the same snapshots again: diff only, nothing written")
		for i := range cfg.Reps {
			p, err := h.update(ctx, snaps0)
			if err != nil {
				return fmt.Errorf("no-change update: %w", err)
			}
			if p.events != 0 {
				return fmt.Errorf("no-change update appended %d events", p.events)
			}
			rec.addPass(p)
			h.progress("%s %d/%d: %.2fs (database %.2fs)", CaseNoChange, i+1, cfg.Reps, p.e2e.Seconds(), p.db.Seconds())
		}
		h.add(rec.done(h.rep))
	}

	if cfg.want("delta") {
		// One security update: one package of one repository changes, and
		// only that repository is updated.
		single := filepath.Join(h.dir, "single-"+filepath.Base(files0[0]))
		project, err := writeSingleChange(files0[0], single)
		if err != nil {
			return err
		}
		one := snapshots(names[:1], []string{single})
		c, err := h.deltaCase(ctx, CaseSingle, "one package of one repository with a new version: that repository's update + projections",
			one, snaps0[:1])
		if err != nil {
			return err
		}
		c.Note = fmt.Sprintf("project %s in repository %s; runs alternate the changed snapshot and generation 0", project, names[0])
		h.add(c)
		for _, rate := range cfg.Rates {
			c, err := h.deltaCase(ctx, DeltaCase(rate), "one generation later: update + projections", deltas[rate], snaps0)
			if err != nil {
				return err
			}
			c.Note = fmt.Sprintf("%.2f%% of %d packagesets changed; runs alternate generations 1 and 0",
				100*float64(c.Events)/float64(max(1, st0.Packagesets)), st0.Packagesets)
			h.add(c)
		}
	}

	if cfg.want("api") {
		if err := h.api(ctx, names, snaps0); err != nil {
			return err
		}
	}
	if err := h.fullPaths(ctx, "", h.add); err != nil {
		return err
	}
	return h.audit(ctx, "synthetic")
}

// fullPaths runs the naive peers and the tail on the loaded database.
func (h *harness) fullPaths(ctx context.Context, suffix string, add func(Case)) error {
	if h.cfg.want("recompute") {
		rec := newCase(CaseRecompute+suffix, "every derived table rebuilt from the current state (projections.Recompute, the audit's queries)")
		for i := range h.cfg.Reps {
			d, err := h.recompute(ctx)
			if err != nil {
				return fmt.Errorf("full recompute: %w", err)
			}
			rec.addDB(d, 0)
			h.progress("%s %d/%d: %.2fs", CaseRecompute, i+1, h.cfg.Reps, d.Seconds())
		}
		add(rec.done(h.rep))
	}
	if h.cfg.want("views") {
		if err := h.createViews(ctx); err != nil {
			return fmt.Errorf("creating the materialized views: %w", err)
		}
		rec := newCase(CaseViews+suffix, "the same derived data as SQL materialized views over packages, REFRESHed (views.sql)")
		for i := range h.cfg.Reps {
			d, err := h.refreshViews(ctx)
			if err != nil {
				return err
			}
			rec.addDB(d, 0)
			h.progress("%s %d/%d: %.2fs", CaseViews, i+1, h.cfg.Reps, d.Seconds())
		}
		add(rec.done(h.rep))
		if _, err := h.pool.Exec(ctx, query("views-drop")); err != nil {
			return err
		}
	}
	if h.cfg.want("tail") {
		rec := newCase(CaseTail+suffix, "the whole changelog read out page by page (changelog.ReadPage)")
		var n int
		for i := range h.cfg.Reps {
			d, events, err := h.tail(ctx)
			if err != nil {
				return fmt.Errorf("tail: %w", err)
			}
			n = events
			rec.addDB(d, int64(events))
			rec.events = append(rec.events, events)
			h.progress("%s %d/%d: %d events in %.2fs", CaseTail, i+1, h.cfg.Reps, events, d.Seconds())
		}
		c := rec.done(h.rep)
		c.Note = fmt.Sprintf("%.0f events/s", float64(n)/c.Seconds)
		add(c)
	}
	return nil
}

func (h *harness) add(c Case) { h.rep.Cases = append(h.rep.Cases, c) }

// parseHash times reading, parsing, hashing and grouping every file as an
// update does, then reading alone and hashing alone.
func (h *harness) parseHash(ctx context.Context, files []string) error {
	c, hashRate, err := h.parseHashCase(ctx, CaseParseHash, formats.JSONL, files)
	if err != nil {
		return err
	}
	h.rep.HashBytesPerSecond = hashRate
	h.rep.ParseBytesPerSecond = float64(c.InputBytes) / c.Seconds
	h.rep.ReadBytesPerSecond = float64(c.InputBytes) / *c.ReadSeconds
	h.add(c)
	return nil
}

// parseHashCase measures parse + hash of files of format f, each file one
// snapshot.
func (h *harness) parseHashCase(ctx context.Context, name string, f formats.Format, files []string) (Case, float64, error) {
	rec := newCase(name, "read, parse, hash and group every snapshot as an update does; no database")
	var packages int
	for i := range h.cfg.Reps {
		start := time.Now()
		packages = 0
		for _, file := range files {
			snap, err := formats.ReadSnapshot(ctx, f, []string{file})
			if err != nil {
				return Case{}, 0, err
			}
			packages += hashing.Group(hashing.New(hashing.DefaultSeed), snap.Packages).Packages
		}
		d := time.Since(start)
		rec.c.Samples = append(rec.c.Samples, d.Seconds())
		rec.rows = append(rec.rows, int64(packages))
		h.progress("%s %d/%d: %.2fs", name, i+1, h.cfg.Reps, d.Seconds())
	}

	// Reading (and decompressing) alone, and hashing alone on one core.
	var reads []float64
	var in int64 // decompressed input bytes
	for range h.cfg.Reps {
		start := time.Now()
		in = 0
		for _, file := range files {
			rc, err := formats.Open(file)
			if err != nil {
				return Case{}, 0, err
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return Case{}, 0, err
			}
			in += n
		}
		reads = append(reads, time.Since(start).Seconds())
	}
	var hashTime time.Duration
	var canonical int64
	hs := hashing.New(hashing.DefaultSeed)
	var buf []byte
	for _, file := range files {
		snap, err := formats.ReadSnapshot(ctx, f, []string{file})
		if err != nil {
			return Case{}, 0, err
		}
		for i := range snap.Packages {
			buf = hashing.AppendCanonical(buf[:0], &snap.Packages[i])
			canonical += int64(len(buf))
		}
		best := time.Duration(1<<63 - 1)
		for range 3 {
			start := time.Now()
			for i := range snap.Packages {
				hs.Package(&snap.Packages[i])
			}
			best = min(best, time.Since(start))
		}
		hashTime += best
	}
	c := rec.done(h.rep)
	c.ReadSeconds = ptr(median(reads))
	c.InputBytes = in
	c.HashBytesPerSecond = float64(canonical) / hashTime.Seconds()
	c.Note = fmt.Sprintf("%.0f MB/s of (decompressed) input; reading and decompressing alone %.2fs (%.0f MB/s); "+
		"hashing %.2f GB/s of canonical bytes on one core", float64(in)/c.Seconds/1e6, *c.ReadSeconds,
		float64(in) / *c.ReadSeconds / 1e6, c.HashBytesPerSecond/1e9)
	return c, c.HashBytesPerSecond, nil
}
