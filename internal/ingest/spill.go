package ingest

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/formats"
)

// A snapshot is read without holding its packages: each package is hashed
// as it is parsed and its full record (the canonical encoding, which holds
// every field) appended to a temporary file, the spill; memory keeps 40
// bytes a package and the packagesets' checksums — what grouping, the
// overlays and the diff need. The records of the few packagesets an update
// touches are read back for its events and rows. The PyPI list's 886k
// packages take about 35 MiB this way instead of about 1 GiB whole.

// entry is what memory keeps of a package.
type entry struct {
	project string
	sum     hashing.Sum
	off     int64  // the record is n bytes at off in the spill
	n       uint32 // (kept last, so that entry packs in 40 bytes)
}

// named is an entry with what the overlays of a snapshot of several files
// compare.
type named struct {
	entry
	name, version string
}

// spilled is a snapshot read through a spill: its packagesets in project
// order with their checksums (grouped, whose Packages are empty until
// load), the packages of packageset i being entries[starts[i]:starts[i+1]].
type spilled struct {
	grouped hashing.Grouped
	entries []entry
	starts  []int
	read    *formats.Read[entry] // files, skipped rows; Kept is entries
	spill   *spill
}

// readSpilled reads, hashes and groups the snapshot of p's files,
// spilling full records into dir ("" for the system's temporary
// directory). Close releases the spill.
func readSpilled(ctx context.Context, p Params, h *hashing.Hasher, dir string, opts ...formats.Option) (_ *spilled, err error) {
	sp, err := newSpill(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			sp.Close()
		}
	}()
	var buf []byte
	keep := func(pkg *events.Package) (entry, error) {
		buf = hashing.AppendCanonical(buf[:0], pkg)
		off, err := sp.put(buf)
		return entry{project: pkg.Project, sum: h.Package(pkg), off: off, n: uint32(len(buf))}, err
	}
	var read *formats.Read[entry]
	if len(p.Files) == 1 {
		read, err = formats.ReadSnapshotFunc(ctx, p.Format, p.Files, keep, nil, opts...)
	} else {
		// Names and versions are kept while the overlays need them.
		var withNames *formats.Read[named]
		withNames, err = formats.ReadSnapshotFunc(ctx, p.Format, p.Files,
			func(pkg *events.Package) (named, error) {
				e, err := keep(pkg)
				return named{entry: e, name: pkg.Name, version: pkg.Version}, err
			},
			func(n *named) (string, string) { return n.name, n.version }, opts...)
		if err == nil {
			read = &formats.Read[entry]{Files: withNames.Files, Skipped: withNames.Skipped,
				SkippedLines: withNames.SkippedLines, Stale: withNames.Stale,
				Kept: make([]entry, len(withNames.Kept))}
			for i := range withNames.Kept {
				read.Kept[i] = withNames.Kept[i].entry
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if err := sp.w.Flush(); err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	s := &spilled{read: read, spill: sp}
	if err := s.group(h); err != nil {
		return nil, err
	}
	return s, nil
}

// group sorts the entries into packagesets, drops true duplicates (same
// checksum in the same packageset: reported, one copy kept) and computes
// the packageset checksums, as hashing.Group does for packages in memory.
func (s *spilled) group(h *hashing.Hasher) error {
	all := s.read.Kept
	s.read.Kept = nil
	slices.SortFunc(all, func(a, b entry) int {
		return cmp.Or(strings.Compare(a.project, b.project), cmp.Compare(a.sum, b.sum))
	})
	g := &s.grouped
	kept := all[:0] // deduplicated in place
	sums := make([]hashing.Sum, 0, 16)
	for start := 0; start < len(all); {
		end := start + 1
		for end < len(all) && all[end].project == all[start].project {
			end++
		}
		first := len(kept)
		sums = sums[:0]
		for i := start; i < end; i++ {
			if i > start && all[i].sum == all[i-1].sum {
				if err := s.duplicate(&all[i]); err != nil {
					return err
				}
				continue
			}
			kept = append(kept, all[i])
			sums = append(sums, all[i].sum)
		}
		s.starts = append(s.starts, first)
		g.Packagesets = append(g.Packagesets, hashing.Packageset{Project: all[start].project, Sum: h.Packageset(sums)})
		g.Packages += len(kept) - first
		start = end
	}
	s.starts = append(s.starts, len(kept))
	s.entries = slices.Clip(kept)
	return nil
}

// duplicate reports e, a second copy of the package before it.
func (s *spilled) duplicate(e *entry) error {
	var p events.Package
	if err := s.spill.get(e, &p); err != nil {
		return err
	}
	g := &s.grouped
	if n := len(g.Duplicates); n > 0 && g.Duplicates[n-1].Project == p.Project &&
		g.Duplicates[n-1].Name == p.Name && g.Duplicates[n-1].Version == p.Version {
		g.Duplicates[n-1].Copies++
		return nil
	}
	g.Duplicates = append(g.Duplicates, hashing.Duplicate{Project: p.Project, Name: p.Name, Version: p.Version, Copies: 2})
	return nil
}

// load reads back the packages of the given packagesets (of s.grouped)
// from the spill into their Packages, sorted by checksum as Group sorts
// them.
func (s *spilled) load(sets []*hashing.Packageset) error {
	for _, ps := range sets {
		i, ok := slices.BinarySearchFunc(s.grouped.Packagesets, ps.Project, func(p hashing.Packageset, project string) int {
			return strings.Compare(p.Project, project)
		})
		if !ok {
			return fmt.Errorf("spill: no packageset %q", ps.Project)
		}
		es := s.entries[s.starts[i]:s.starts[i+1]]
		ps.Packages = make([]hashing.Hashed, len(es))
		for j := range es {
			ps.Packages[j].Sum = es[j].sum
			if err := s.spill.get(&es[j], &ps.Packages[j].Pkg); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close removes the spill.
func (s *spilled) Close() error { return s.spill.Close() }

// spill is an append-only temporary file of package records.
type spill struct {
	f   *os.File
	w   *bufio.Writer
	off int64
	buf []byte
}

func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, "deltalog-spill-*")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	// Unlinked at once: the file goes away with the process, however it
	// ends.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &spill{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

// put appends a record and returns its offset.
func (s *spill) put(rec []byte) (int64, error) {
	off := s.off
	n, err := s.w.Write(rec)
	s.off += int64(n)
	if err != nil {
		return off, fmt.Errorf("spill: %w", err)
	}
	return off, nil
}

// get decodes e's record into p.
func (s *spill) get(e *entry, p *events.Package) error {
	s.buf = slices.Grow(s.buf[:0], int(e.n))[:e.n]
	if _, err := s.f.ReadAt(s.buf, e.off); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	if err := hashing.DecodeCanonical(s.buf, p); err != nil {
		return fmt.Errorf("spill: record at %d: %w", e.off, err)
	}
	return nil
}

func (s *spill) Close() error { return s.f.Close() }
