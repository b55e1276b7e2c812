package bench

import (
	"context"
	"fmt"

	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
)

// Repology's updater (Python + PostgreSQL), measured on this project's
// machine kind (2 cores, PostgreSQL with shared_buffers 1 GB) on the shared
// Debian data — bookworm and trixie Sources, one repository each; the
// bookworm -updates and -security overlays as the delta. Its published
// figures, in seconds:
const (
	PeerInitialSeconds    = 61.1 // parse + database, both repositories
	PeerDeltaSeconds      = 15.2 // the bookworm overlays
	PeerNoChangeSeconds   = 19.3 // with parsing, both repositories
	PeerNoChangeDBSeconds = 1.5  // its database phase alone
)

// The cases of the Repology workload, as named in the report.
const (
	PeerWorkload = "Repology workload"
	PeerInitial  = "initial (bookworm + trixie)"
	PeerNoChange = "no-change (bookworm + trixie)"
	PeerDelta    = "delta: bookworm + overlays"
)

// peerDebian runs Repology's workload: bookworm and trixie Sources as
// one repository each into an empty database, projections included; the
// same byte-identical files again; then bookworm's -updates and -security
// overlays as a delta of the bookworm repository (alternating with
// bookworm alone), with its floor; then the audit.
func (h *harness) peerDebian(ctx context.Context) error {
	dir := h.cfg.DebianDir
	var files [4][]string
	for i, pattern := range []string{
		"debian-bookworm-main-Sources-*.xz", "debian-bookworm-updates-main-Sources-*.xz",
		"debian-bookworm-security-main-Sources-*.xz", "debian-trixie-main-Sources-*.xz",
	} {
		m, err := globOne(dir, pattern)
		if err != nil {
			return err
		}
		files[i] = m
	}
	repo := func(name string, fs ...[]string) snapshot {
		var all []string
		for _, f := range fs {
			all = append(all, f...)
		}
		return snapshot{repo: name, format: formats.DebianSources, scheme: version.SchemeDebian, files: all}
	}
	bookworm, trixie := repo("bookworm", files[0]), repo("trixie", files[3])
	overlays := repo("bookworm", files[0], files[1], files[2])
	both := []snapshot{bookworm, trixie}

	w := Workload{Name: PeerWorkload, Note: fmt.Sprintf("Repology's updater on the same Debian data: bookworm and trixie Sources (xz), "+
		"one repository each; peer = its published figures on this machine kind (shared_buffers 1 GB): initial %.1fs, "+
		"delta %.1fs, no-change %.1fs with parsing (%.1fs its database phase)",
		PeerInitialSeconds, PeerDeltaSeconds, PeerNoChangeSeconds, PeerNoChangeDBSeconds)}
	if err := h.wipe(ctx); err != nil {
		return err
	}
	c, err := h.onePass(ctx, PeerInitial, "both repositories into an empty database, projections included", both)
	if err != nil {
		return err
	}
	c.PeerSeconds = ptr(PeerInitialSeconds)
	w.Cases = append(w.Cases, c)
	if err := h.vacuum(ctx); err != nil {
		return err
	}

	rec := newCase(PeerNoChange, "both repositories again, byte-identical files")
	for i := range h.cfg.Reps {
		p, err := h.update(ctx, both)
		if err != nil {
			return fmt.Errorf("%s: %w", PeerNoChange, err)
		}
		if p.events != 0 {
			return fmt.Errorf("%s appended %d events", PeerNoChange, p.events)
		}
		rec.addPass(p)
		h.progress("%s %d/%d: %.2fs (database %.2fs)", PeerNoChange, i+1, h.cfg.Reps, p.e2e.Seconds(), p.db.Seconds())
	}
	c = rec.done(h.rep)
	c.PeerSeconds = ptr(PeerNoChangeSeconds)
	c.Note = fmt.Sprintf("the peer's database phase alone: %.1fs", PeerNoChangeDBSeconds)
	w.Cases = append(w.Cases, c)

	c, err = h.deltaCase(ctx, PeerDelta, "bookworm + -updates + -security into the bookworm repository (runs alternate with bookworm alone)",
		[]snapshot{overlays}, []snapshot{bookworm})
	if err != nil {
		return err
	}
	c.PeerSeconds = ptr(PeerDeltaSeconds)
	w.Cases = append(w.Cases, c)
	h.rep.Workloads = append(h.rep.Workloads, w)
	return h.audit(ctx, PeerWorkload)
}
