package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// runPass runs one update pass as a one-run case.
func (h *harness) onePass(ctx context.Context, name, what string, snaps []snapshot) (Case, error) {
	rec := newCase(name, what)
	p, err := h.update(ctx, snaps)
	if err != nil {
		return Case{}, fmt.Errorf("%s: %w", name, err)
	}
	rec.addPass(p)
	h.progress("%s: %.2fs (database %.2fs, projections %.2fs), %d events", name, p.e2e.Seconds(), p.db.Seconds(),
		p.project.Seconds(), p.events)
	return rec.done(h.rep), nil
}

// debian runs the real Debian sequence: bookworm, its overlays, the same
// again, then trixie, in one repository.
func (h *harness) debian(ctx context.Context) error {
	dir := h.cfg.DebianDir
	var files [6][]string
	for i, pattern := range []string{
		"debian-bookworm-main-Sources-*.xz", "debian-bookworm-updates-main-Sources-*.xz", "debian-bookworm-security-main-Sources-*.xz",
		"debian-trixie-main-Sources-*.xz", "debian-trixie-updates-main-Sources-*.xz", "debian-trixie-security-main-Sources-*.xz",
	} {
		m, err := globOne(dir, pattern)
		if err != nil {
			return err
		}
		files[i] = m
	}
	packagesXZ, err := globOne(dir, "debian-bookworm-main-Packages-amd64-*.xz")
	if err != nil {
		return err
	}
	snap := func(fs ...[]string) []snapshot {
		return []snapshot{{repo: "debian", format: formats.DebianSources, scheme: version.SchemeDebian, files: slices.Concat(fs...)}}
	}
	bookworm := snap(files[0])
	overlays := snap(files[0], files[1], files[2])
	trixie := snap(files[3], files[4], files[5])

	w := Workload{Name: "Debian", Note: "real Sources indexes (xz) as one repository: bookworm, + its -updates and -security overlays, the same again, then trixie with its overlays (a release upgrade)"}
	if err := h.wipe(ctx); err != nil {
		return err
	}
	c, err := h.onePass(ctx, CaseFull+" (bookworm)", "bookworm Sources into an empty database, projections included", bookworm)
	if err != nil {
		return err
	}
	w.Cases = append(w.Cases, c)
	if err := h.vacuum(ctx); err != nil {
		return err
	}
	c, err = h.deltaCase(ctx, "delta: + overlays", "bookworm + -updates + -security (runs alternate with bookworm alone)", overlays, bookworm)
	if err != nil {
		return err
	}
	w.Cases = append(w.Cases, c)
	if _, err := h.update(ctx, overlays); err != nil {
		return err
	}
	rec := newCase(CaseNoChange, "bookworm + overlays again")
	for i := range h.cfg.Reps {
		p, err := h.update(ctx, overlays)
		if err != nil {
			return err
		}
		rec.addPass(p)
		h.progress("%s %d/%d: %.2fs (database %.2fs)", CaseNoChange, i+1, h.cfg.Reps, p.e2e.Seconds(), p.db.Seconds())
	}
	w.Cases = append(w.Cases, rec.done(h.rep))
	c, err = h.onePass(ctx, "delta: → trixie", "trixie + overlays replace bookworm + overlays (release-sized)", trixie)
	if err != nil {
		return err
	}
	w.Cases = append(w.Cases, c)
	if err := h.fullPaths(ctx, " (trixie)", func(c Case) { w.Cases = append(w.Cases, c) }); err != nil {
		return err
	}
	if h.cfg.want("replay") {
		c, err := h.replay(ctx)
		if err != nil {
			return err
		}
		w.Cases = append(w.Cases, c)
	}
	if h.cfg.want("parse") {
		c, _, err := h.parseHashCase(ctx, CaseParseHash+" (bookworm Packages-amd64.xz)", formats.DebianPackages, packagesXZ)
		if err != nil {
			return err
		}
		w.Cases = append(w.Cases, c)
	}
	h.rep.Workloads = append(h.rep.Workloads, w)
	return h.audit(ctx, "Debian")
}

// replay rebuilds every projection from the changelog (`deltalog rebuild
// --from changelog`): one run, events per second.
func (h *harness) replay(ctx context.Context) (Case, error) {
	rec := newCase(CaseReplay, "every projection rebuilt by replaying the whole changelog through it, in pages")
	start := time.Now()
	res, err := projections.Rebuild(ctx, h.pool, projections.RebuildOpts{
		From: projections.FromChangelog, PageSize: h.cfg.PageSize, Logger: h.cfg.Logger,
	})
	if err != nil {
		return Case{}, fmt.Errorf("%s: %w", CaseReplay, err)
	}
	d := time.Since(start)
	var events int64
	for _, r := range res {
		events = max(events, r.BuiltAt)
	}
	rec.addDB(d, events)
	rec.events = append(rec.events, int(events))
	c := rec.done(h.rep)
	c.Note = fmt.Sprintf("%.0f events/s (%d events, every projection)", float64(events)/d.Seconds(), events)
	h.progress("%s: %d events in %.1fs", CaseReplay, events, d.Seconds())
	return c, nil
}

// pypi runs the PyPI list: full ingest, no-change, a 1% change (every
// hundredth package gets a new version) there and back, and the full
// paths. The list is decompressed once up front, so that parse + hash is
// the parser's.
func (h *harness) pypi(ctx context.Context) error {
	base := filepath.Join(h.dir, "pypi.tsv")
	changed := filepath.Join(h.dir, "pypi-1pct.tsv")
	defer os.Remove(base)
	defer os.Remove(changed)
	if err := writePyPI(h.cfg.PyPIFile, base, changed); err != nil {
		return err
	}
	snap := func(f string) []snapshot {
		return []snapshot{{repo: "pypi", format: formats.TSV, scheme: version.SchemePyPI, files: []string{f}}}
	}
	w := Workload{Name: "PyPI", Note: "the PyPI list (886k packages, TSV decompressed up front) as one repository"}
	if err := h.wipe(ctx); err != nil {
		return err
	}
	if h.cfg.want("copy") {
		c, err := h.copyFloor(ctx, formats.TSV, []string{base})
		if err != nil {
			return fmt.Errorf("COPY floor: %w", err)
		}
		w.Cases = append(w.Cases, c)
	}
	c, err := h.onePass(ctx, CaseFull, "the list into an empty database, projections included", snap(base))
	if err != nil {
		return err
	}
	w.Cases = append(w.Cases, c)
	if err := h.vacuum(ctx); err != nil {
		return err
	}
	rec := newCase(CaseNoChange, "the same list again")
	for i := range h.cfg.Reps {
		p, err := h.update(ctx, snap(base))
		if err != nil {
			return err
		}
		rec.addPass(p)
		h.progress("%s %d/%d: %.2fs (database %.2fs)", CaseNoChange, i+1, h.cfg.Reps, p.e2e.Seconds(), p.db.Seconds())
	}
	w.Cases = append(w.Cases, rec.done(h.rep))
	c, err = h.deltaCase(ctx, DeltaCase(0.01), "every hundredth package with a new version (runs alternate with the list)", snap(changed), snap(base))
	if err != nil {
		return err
	}
	w.Cases = append(w.Cases, c)
	if err := h.fullPaths(ctx, "", func(c Case) { w.Cases = append(w.Cases, c) }); err != nil {
		return err
	}
	if h.cfg.want("parse") {
		c, _, err := h.parseHashCase(ctx, CaseParseHash, formats.TSV, []string{base})
		if err != nil {
			return err
		}
		w.Cases = append(w.Cases, c)
	}
	h.rep.Workloads = append(h.rep.Workloads, w)
	return h.audit(ctx, "PyPI")
}

// writePyPI decompresses the list to base, and writes to changed the same
// list with every hundredth package's version suffixed ".post9".
func writePyPI(src, base, changed string) error {
	rc, err := formats.Open(src)
	if err != nil {
		return err
	}
	defer rc.Close()
	fb, err := os.Create(base)
	if err != nil {
		return err
	}
	defer fb.Close()
	fc, err := os.Create(changed)
	if err != nil {
		return err
	}
	defer fc.Close()
	wb, wc := bufio.NewWriterSize(fb, 1<<20), bufio.NewWriterSize(fc, 1<<20)
	br := bufio.NewReaderSize(rc, 1<<20)
	versionCol := -1
	for n := 0; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			wb.Write(line)
			cols := bytes.Split(bytes.TrimRight(line, "\n"), []byte("\t"))
			if n == 0 {
				versionCol = slices.IndexFunc(cols, func(c []byte) bool { return string(c) == "version" })
				if versionCol < 0 {
					return errors.New("PyPI list has no version column")
				}
			} else if n%100 == 0 && versionCol < len(cols) && len(cols[versionCol]) > 0 {
				cols[versionCol] = append(slices.Clip(cols[versionCol]), ".post9"...)
				line = append(bytes.Join(cols, []byte("\t")), '\n')
			}
			wc.Write(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	if err := wc.Flush(); err != nil {
		return err
	}
	if err := fb.Close(); err != nil {
		return err
	}
	return fc.Close()
}
