package changelog

import (
	"context"
	"slices"
	"strings"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
)

// delta is the work an update found: the packagesets that differ, in
// project order, each of which becomes one event and its table writes
// (built chunk by chunk: see chunk).
type delta struct {
	df     *differ
	work   []touched
	counts events.Counts

	state   hashing.State // the repository's state checksum after
	buckets Buckets       // and its per-bucket states
}

// chunk is the events and current-state rows of some of a delta's
// packagesets.
type chunk struct {
	events []events.Event
	rows   RowsParams
}

// differ holds what the diff of every packageset of one update needs.
type differ struct {
	repo string
	h    *hashing.Hasher
	// rederive: a change of seed or algorithm makes every stored checksum
	// meaningless, a change of version scheme every version key; the whole
	// repository is re-derived.
	rederive bool
}

// touched is a packageset whose stored state differs from the snapshot's.
type touched struct {
	project string
	kind    events.Kind
	old     *StoredSet
	new     *hashing.Packageset
}

// diff compares the snapshot with the stored state: the packagesets that
// differ, the counts, the state checksum after (their events and table
// writes are built chunk by chunk as they are written: delta.chunk). Only
// packagesets whose checksum differs (or whose stored checksum was
// invalidated) have their packages read, then. A change of seed or
// hash algorithm makes every stored checksum meaningless, a change of
// version scheme or of the version orders every version key: then the
// whole repository is re-derived.
func (u *Updater) diff(ctx context.Context, st *Store, p UpdateParams, repo StoredRepo) (*delta, error) {
	df := &differ{repo: p.Repo, h: hashing.New(p.Seed), rederive: repo.ID != 0 &&
		(repo.Seed != p.Seed || repo.HashVersion != hashing.AlgorithmVersion || repo.Scheme != p.VersionScheme ||
			repo.VersionOrder != version.OrderVersion)}
	d := &delta{df: df, state: repo.State}
	d.counts.Packages = p.Snapshot.Packages
	d.counts.Packagesets = len(p.Snapshot.Packagesets)
	d.counts.Skipped = p.Skipped
	for _, dup := range p.Snapshot.Duplicates {
		d.counts.Duplicates += dup.Copies - 1
	}

	// The snapshot's state checksum equal to the stored one means every
	// packageset is as stored: nothing to read, nothing to write. Most
	// repositories of a catalog are unchanged at any load.
	contributions, state := df.contributions(p.Snapshot)
	if repo.ID != 0 && !df.rederive && !repo.HasInvalid && state == repo.State {
		d.counts.Unchanged = len(p.Snapshot.Packagesets)
		return d, nil
	}

	// Otherwise only the buckets whose state differs (and those holding
	// invalidated packagesets) can hold a change: their stored checksums
	// are read, and the snapshot's packagesets of other buckets are as
	// stored.
	var invalid []uint16
	if repo.HasInvalid && !df.rederive {
		var err error
		if invalid, err = st.InvalidBuckets(ctx, repo.ID); err != nil {
			return nil, err
		}
	}
	sc := newScope(repo.Buckets, p.Snapshot.Packagesets, contributions, repo.ID == 0 || df.rederive, invalid)
	d.buckets = sc.after
	stored := map[string]StoredSet{}
	if repo.ID != 0 {
		read := PackagesetsParams{RepoID: repo.ID}
		if !sc.all {
			read.Buckets = sc.ranges
		}
		var err error
		if stored, err = st.Packagesets(ctx, read); err != nil {
			return nil, err
		}
	}
	d.work = df.classify(p.Snapshot, sc, stored, &d.counts)
	if df.rederive {
		// Every stored packageset is re-stated (there are no unchanged ones),
		// so the state is rebuilt from the new contributions alone.
		d.state = 0
	}
	for i := range d.work {
		d.state = df.advanceState(d.state, &d.work[i])
	}
	d.counts.Events = len(d.work)
	return d, nil
}

// chunk builds the events and current-state rows of work (some of d's
// touched packagesets): it loads their packages (p.Load) and reads their
// stored ones. It counts the events' kinds into d.counts.
func (d *delta) chunk(ctx context.Context, st *Store, p UpdateParams, repoID int32, work []touched) (*chunk, error) {
	df := d.df
	var needOld []string
	var sets []*hashing.Packageset
	for _, w := range work {
		if w.old != nil {
			needOld = append(needOld, w.project)
		}
		if w.new != nil {
			sets = append(sets, w.new)
		}
	}
	if p.Load != nil {
		if err := p.Load(sets); err != nil {
			return nil, err
		}
	}
	oldPackages, err := st.Packages(ctx, PackagesParams{RepoID: repoID, Projects: needOld})
	if err != nil {
		return nil, err
	}
	c := &chunk{rows: RowsParams{RepoID: repoID, Scheme: p.VersionScheme}, events: make([]events.Event, 0, len(work))}
	for i := range work {
		w := &work[i]
		olds := oldPackages[w.project]
		// Packagesets are small (most hold one to three packages), so
		// sorted slices with binary search beat maps here.
		var newSums []hashing.Sum
		if w.new != nil {
			newSums = make([]hashing.Sum, len(w.new.Packages))
			for i, np := range w.new.Packages {
				newSums[i] = np.Sum // sorted: Group sorts packages by checksum
			}
		}
		oldKeys := make([]hashing.Sum, len(olds))
		for i, op := range olds {
			oldKeys[i] = op.Key
		}
		slices.Sort(oldKeys)
		c.addRowWrites(w, olds, oldKeys, newSums, df.rederive || (w.old != nil && w.old.Invalid))
		c.addEvent(w, df.event(w, olds, oldKeys, newSums), &d.counts)
	}
	return c, nil
}

// release drops the packages p.Load loaded into work's packagesets, once
// their chunk is written (a snapshot given whole keeps its packages).
func release(p UpdateParams, work []touched) {
	if p.Load == nil {
		return
	}
	for _, w := range work {
		if w.new != nil {
			w.new.Packages = nil
		}
	}
}

// contributions returns what each packageset of the snapshot contributes
// to the repository's state checksum, and that state.
func (df *differ) contributions(snap hashing.Grouped) ([]hashing.Sum, hashing.State) {
	out := make([]hashing.Sum, len(snap.Packagesets))
	var state hashing.State
	for i := range snap.Packagesets {
		ps := &snap.Packagesets[i]
		out[i] = df.h.Contribution(df.repo, ps.Project, ps.Sum)
		state = state.Add(out[i])
	}
	return out, state
}

// advanceState moves the repository's state checksum past w: the old
// contribution out (unless re-derived: the state is rebuilt from scratch),
// the new one in.
func (df *differ) advanceState(state hashing.State, w *touched) hashing.State {
	if w.old != nil && !df.rederive {
		state = state.Remove(df.h.Contribution(df.repo, w.project, w.old.Sum))
	}
	if w.new != nil {
		state = state.Add(df.h.Contribution(df.repo, w.project, w.new.Sum))
	}
	return state
}

// classify sorts the snapshot's packagesets against the stored ones (those
// of the buckets sc reads) into the touched ones, in project order, and
// counts the unchanged.
func (df *differ) classify(snap hashing.Grouped, sc *scope, stored map[string]StoredSet, counts *events.Counts) (work []touched) {
	for i := range snap.Packagesets {
		ps := &snap.Packagesets[i]
		if !sc.covers(i) {
			counts.Unchanged++
			continue
		}
		old, ok := stored[ps.Project]
		switch {
		case !ok:
			work = append(work, touched{project: ps.Project, kind: events.KindAdded, new: ps})
		case old.Invalid || df.rederive:
			work = append(work, touched{project: ps.Project, kind: events.KindInvalidated, old: &old, new: ps})
		case old.Sum != ps.Sum:
			work = append(work, touched{project: ps.Project, kind: events.KindChanged, old: &old, new: ps})
		default:
			counts.Unchanged++
		}
		if ok {
			delete(stored, ps.Project)
		}
	}
	for project, old := range stored {
		work = append(work, touched{project: project, kind: events.KindRemoved, old: &old})
	}
	slices.SortFunc(work, func(a, b touched) int { return strings.Compare(a.project, b.project) })
	return work
}

// addRowWrites adds the packages rows of w to write: those whose stored key
// and new checksum differ. A re-stated packageset (invalidated, or
// re-derived) has all its rows rewritten, so that derived columns
// (version_key) are recomputed with the current code.
func (c *chunk) addRowWrites(w *touched, olds []StoredPackage, oldKeys, newSums []hashing.Sum, restate bool) {
	for _, op := range olds {
		if restate || !contains(newSums, op.Key) {
			c.rows.DeletePackages = append(c.rows.DeletePackages, PackageKey{Project: w.project, Key: op.Key})
		}
	}
	if w.new != nil {
		for i := range w.new.Packages {
			np := &w.new.Packages[i]
			if restate || !contains(oldKeys, np.Sum) {
				c.rows.InsertPackages = append(c.rows.InsertPackages, PackageRow{Key: np.Sum, Package: &np.Pkg})
			}
		}
	}
}

// event computes w's event. Its delta compares content: under a changed
// seed the old packages are re-hashed with the new one, so that content
// that did not change is recognized as such. An invalidated packageset
// whose content did change becomes a change (w.kind too).
func (df *differ) event(w *touched, olds []StoredPackage, oldKeys, newSums []hashing.Sum) events.Event {
	ev := events.Event{Repo: df.repo, Project: w.project}
	if w.old != nil {
		ev.OldChecksum = w.old.Sum.String()
	}
	if w.new != nil {
		ev.NewChecksum = w.new.Sum.String()
	}
	oldSums := oldKeys
	if df.rederive {
		oldSums = make([]hashing.Sum, len(olds))
		for i := range olds {
			oldSums[i] = df.h.Package(&olds[i].Package)
		}
		slices.Sort(oldSums)
	}
	if w.kind == events.KindInvalidated && df.h.Packageset(oldSums) != w.new.Sum {
		w.kind = events.KindChanged
	}
	ev.Kind = w.kind
	if w.kind == events.KindInvalidated {
		// Not a change of content: re-state the full content.
		for _, op := range olds {
			ev.Removed = append(ev.Removed, op.Package)
		}
		for _, np := range w.new.Packages {
			ev.Added = append(ev.Added, np.Pkg)
		}
		return ev
	}
	for _, op := range olds {
		s := op.Key
		if df.rederive {
			s = df.h.Package(&op.Package)
		}
		if !contains(newSums, s) {
			ev.Removed = append(ev.Removed, op.Package)
		}
	}
	if w.new != nil {
		for _, np := range w.new.Packages {
			if !contains(oldSums, np.Sum) {
				ev.Added = append(ev.Added, np.Pkg)
			}
		}
	}
	return ev
}

// addEvent records w's event, its count and its packagesets row.
func (c *chunk) addEvent(w *touched, ev events.Event, counts *events.Counts) {
	switch w.kind {
	case events.KindAdded:
		counts.Added++
		c.rows.InsertSets = append(c.rows.InsertSets, setRow(w.new))
	case events.KindChanged:
		counts.Changed++
		c.rows.UpdateSets = append(c.rows.UpdateSets, setRow(w.new))
	case events.KindInvalidated:
		counts.Invalidated++
		c.rows.UpdateSets = append(c.rows.UpdateSets, setRow(w.new))
	case events.KindRemoved:
		counts.Removed++
		c.rows.DeleteSets = append(c.rows.DeleteSets, w.project)
	}
	c.events = append(c.events, ev)
}

// contains reports whether sorted holds s.
func contains(sorted []hashing.Sum, s hashing.Sum) bool {
	_, ok := slices.BinarySearch(sorted, s)
	return ok
}

func setRow(ps *hashing.Packageset) SetRow {
	return SetRow{Project: ps.Project, Sum: ps.Sum, Packages: len(ps.Packages)}
}
