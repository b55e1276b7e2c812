package projections

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	dlsql "github.com/deltalog/deltalog/sql"
)

// HistoryName is the name of the history projection.
const HistoryName = "history"

// The directions of a version update in project_history.
var upgrade, downgrade = "upgrade", "downgrade"

// History records, per project, what happened and when: added to or removed
// from a repository, a version update in a repository (an upgrade or a
// downgrade by the repository's own order), a new newest version across
// repositories (by libversion's order) — each with the seq and batch that
// caused it.
//
// Unlike the catalog it is derived from the events themselves, one by one in
// seq order, so that every entry is attributed to the exact event that caused
// it. Its state (history_versions: the versions present per project and
// repository) is still checked by the audit against the current packages.
// Invalidated events update that state (re-deriving version keys) but never
// produce entries: they are not changes of content.
//
// Runs of consecutive "added" events of pairs (project, repository) new to
// the run — a fresh repository loaded, a replay's bulk — are written
// set-based instead (see bulk), with exactly the rows the fold gives: such
// an event can only add an "added" entry and, if it raises the project's
// newest version key, a "new_newest" one.
type History struct {
	// schema holds the tables Apply writes (empty: the live ones); a
	// rebuild's or an audit's history writes its own.
	schema string
	// bulkFrom is the fewest events a run of fresh pairs needs to be
	// written set-based (0: historyBulkEvents; negative: never, every
	// event is folded).
	bulkFrom int
}

// historyBulkEvents is the fewest events of a run of fresh pairs that the
// history writes set-based: below it a fold costs a few milliseconds too,
// and everyday pages keep the one path.
const historyBulkEvents = 500

// Name implements Projection.
func (History) Name() string { return HistoryName }

// CacheStats implements Projection.
func (History) CacheStats() map[string]CacheStats { return nil }

type hvKey struct {
	project string
	repo    int32
	version string
}

type hvRow struct {
	key   []byte
	count int32
}

// Apply implements Projection: the page's moves of packages between
// projects (redirects), then its runs of fresh pairs set-based (bulk), the
// other events folded one by one in seq order (fold), run after run, each
// seeing the state the runs before it wrote.
func (h History) Apply(ctx context.Context, tx pgx.Tx, page *Page) (func(), error) {
	if err := h.redirects(ctx, tx, page); err != nil {
		return nil, err
	}
	for _, r := range h.runs(page.Events) {
		evs := page.Events[r.from:r.to]
		var err error
		if r.bulk {
			err = h.bulk(ctx, tx, page, evs)
		} else {
			err = h.fold(ctx, tx, page, evs)
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// historyRun is a run of a page's events, [from, to), and how it is written.
type historyRun struct {
	from, to int
	bulk     bool
}

// runs splits a page's events into maximal runs of fresh pairs — "added"
// events, each of a (project, repository) the run has not seen — and of
// the other events. A run of fresh pairs shorter than the bulk threshold is
// folded with its neighbours.
func (h History) runs(evs []events.Event) []historyRun {
	least := cmp.Or(h.bulkFrom, historyBulkEvents)
	var out []historyRun
	push := func(r historyRun) {
		r.bulk = r.bulk && least > 0 && r.to-r.from >= least
		if n := len(out); n > 0 && !r.bulk && !out[n-1].bulk {
			out[n-1].to = r.to
			return
		}
		out = append(out, r)
	}
	type pair struct{ project, repo string }
	seen := map[pair]struct{}{}
	cur := historyRun{}
	for i, ev := range evs {
		k := pair{ev.Project, ev.Repo}
		fresh := ev.Kind == events.KindAdded && len(ev.Removed) == 0 && len(ev.Added) > 0
		if _, dup := seen[k]; fresh && cur.bulk && dup {
			fresh = false
		}
		if i > cur.from && fresh != cur.bulk {
			cur.to = i
			push(cur)
			cur = historyRun{from: i}
			clear(seen)
		}
		cur.bulk = fresh
		if fresh {
			seen[k] = struct{}{}
		}
	}
	if cur.to = len(evs); cur.to > cur.from {
		push(cur)
	}
	return out
}

// bulk writes a run of fresh pairs set-based, in one statement
// (history-bulk): their versions, and their entries — every event's
// "added", and a "new_newest" where the event's greatest version key is
// above the project's newest before it. That newest is the greater of the
// versions stored before the run (read by the statement) and those of the
// project's earlier events in the run (a running maximum kept here, in seq
// order). What needs the repository's own order (an event's best version)
// and the version keys is computed here too, per event, with no state. A
// run whose pairs are not all fresh in the tables (which a consistent
// changelog never gives: an "added" packageset had no versions) writes
// nothing and is folded instead.
func (h History) bulk(ctx context.Context, tx pgx.Tx, page *Page, evs []events.Event) error {
	// One row per event, with its greatest version (most events have one);
	// the others of its versions as extra rows.
	n := len(evs)
	var (
		seqs, batches    = make([]int64, 0, n), make([]int64, 0, n)
		projects         = make([]string, 0, n)
		repos            = make([]int32, 0, n)
		best             = make([]*string, 0, n) // nil: the greatest version
		topKeys, runKeys = make([][]byte, 0, n), make([][]byte, 0, n)
		topVers, runVers = make([]string, 0, n), make([]*string, 0, n)
		topCounts        = make([]int32, 0, n)
		extra            struct {
			projects, versions []string
			repos, counts      []int32
			keys               [][]byte
		}
	)
	type versionCount struct {
		key     []byte
		version string
		count   int32
	}
	// greater orders versions as the fold's newest does: by key, then by
	// spelling.
	greater := func(a, b versionCount) bool {
		c := bytes.Compare(a.key, b.key)
		return c > 0 || c == 0 && a.version > b.version
	}
	running := map[string]versionCount{}
	var vs []versionCount
	for _, ev := range evs {
		repo, ok := page.Repos[ev.Repo]
		if !ok {
			return fmt.Errorf("event %d: unknown repository %q", ev.Seq, ev.Repo)
		}
		vs = vs[:0]
		var bestVer string
		for i, p := range ev.Added {
			if j := slices.IndexFunc(vs, func(v versionCount) bool { return v.version == p.Version }); j >= 0 {
				vs[j].count++
				continue
			}
			vs = append(vs, versionCount{version.SchemeKey(repo.Scheme, p.Version), p.Version, 1})
			// The greatest by the repository's order, then by spelling:
			// the fold's best.
			if c := version.OrderOf(repo.Scheme).Compare(p.Version, bestVer); i == 0 || c > 0 || c == 0 && p.Version > bestVer {
				bestVer = p.Version
			}
		}
		top := 0
		for i := range vs {
			if greater(vs[i], vs[top]) {
				top = i
			}
		}
		for i, v := range vs {
			if i != top {
				extra.projects, extra.repos, extra.versions = append(extra.projects, ev.Project), append(extra.repos, repo.ID), append(extra.versions, v.version)
				extra.keys, extra.counts = append(extra.keys, v.key), append(extra.counts, v.count)
			}
		}
		t := vs[top]
		seqs, batches, projects, repos = append(seqs, ev.Seq), append(batches, ev.Batch), append(projects, ev.Project), append(repos, repo.ID)
		topKeys, topVers, topCounts = append(topKeys, t.key), append(topVers, t.version), append(topCounts, t.count)
		if bestVer == t.version {
			best = append(best, nil)
		} else {
			best = append(best, &bestVer)
		}
		if before, ok := running[ev.Project]; ok {
			runKeys, runVers = append(runKeys, before.key), append(runVers, &before.version)
			if !greater(t, before) {
				continue
			}
		} else {
			runKeys, runVers = append(runKeys, nil), append(runVers, nil)
		}
		running[ev.Project] = t
	}
	batchIDs := make([]int64, 0, len(page.BatchTimes))
	batchTimes := make([]time.Time, 0, len(page.BatchTimes))
	for id, at := range page.BatchTimes {
		batchIDs, batchTimes = append(batchIDs, id), append(batchTimes, at)
	}
	entries, err := timedRows(ctx, tx, "project_history", dlsql.Render("history-bulk", deltaSchemas(h.schema)),
		seqs, batches, projects, repos, best, topKeys, topVers, topCounts, runKeys, runVers,
		extra.projects, extra.repos, extra.versions, extra.keys, extra.counts, batchIDs, batchTimes)
	if err != nil {
		return err
	}
	if entries == 0 { // stale pairs: nothing was written
		return h.fold(ctx, tx, page, evs)
	}
	versions := int64(n + len(extra.versions))
	statsFrom(ctx).add("history_versions", versions, versions)
	statsFrom(ctx).add("project_history", entries, entries)
	return nil
}

// fold applies events one by one in seq order, on the versions of their
// projects loaded from the tables, and writes the difference and the
// entries.
func (h History) fold(ctx context.Context, tx pgx.Tx, page *Page, evs []events.Event) error {
	sch := deltaSchemas(h.schema)
	// The versions of the (project, repository) pairs the events touch, and
	// per project the newest of its other repositories' versions: what the
	// events cannot change, newest() needs only the top of (see
	// history-load).
	type pair struct {
		project string
		repo    int32
	}
	touched := map[pair]struct{}{}
	var projects []string
	var repos []int32
	for _, ev := range evs {
		repo, ok := page.Repos[ev.Repo]
		if !ok {
			return fmt.Errorf("event %d: unknown repository %q", ev.Seq, ev.Repo)
		}
		if _, dup := touched[pair{ev.Project, repo.ID}]; !dup {
			touched[pair{ev.Project, repo.ID}] = struct{}{}
			projects, repos = append(projects, ev.Project), append(repos, repo.ID)
		}
	}
	before := map[hvKey]hvRow{}
	rows, err := tx.Query(ctx, dlsql.Render("history-load", sch), projects, repos)
	if err != nil {
		return err
	}
	var k hvKey
	var r hvRow
	if _, err := pgx.ForEachRow(rows, []any{&k.project, &k.repo, &k.version, &r.key, &r.count}, func() error {
		before[k] = hvRow{key: bytes.Clone(r.key), count: r.count}
		return nil
	}); err != nil {
		return fmt.Errorf("loading history versions: %w", err)
	}
	state := make(map[hvKey]hvRow, len(before))
	for k, v := range before {
		state[k] = v
	}
	// byProject indexes state keys per project, for best/newest lookups.
	byProject := map[string]map[hvKey]struct{}{}
	for k := range state {
		if byProject[k.project] == nil {
			byProject[k.project] = map[hvKey]struct{}{}
		}
		byProject[k.project][k] = struct{}{}
	}
	// best is the newest version a repository has of a project, by the
	// repository's own order (dpkg's for Debian): what a version update
	// moves from and to.
	best := func(project string, repo int32, order version.Order) (string, bool) {
		var v string
		found := false
		for k := range byProject[project] {
			if k.repo != repo {
				continue
			}
			if found {
				if c := order.Compare(k.version, v); c < 0 || c == 0 && k.version < v {
					continue
				}
			}
			v, found = k.version, true
		}
		return v, found
	}
	// newest is the newest version of a project across repositories, by
	// the version key (libversion's order on normalized versions).
	newest := func(project string) (string, []byte) {
		var v string
		var key []byte
		for k := range byProject[project] {
			row := state[k]
			if c := bytes.Compare(row.key, key); key == nil || c > 0 || (c == 0 && k.version > v) {
				v, key = k.version, row.key
			}
		}
		return v, key
	}
	add := func(project string, repo int32, scheme version.Scheme, v string, delta int32) {
		k := hvKey{project, repo, v}
		row := state[k]
		row.count += delta
		row.key = version.SchemeKey(scheme, v)
		if row.count <= 0 {
			delete(state, k)
			delete(byProject[project], k)
			return
		}
		state[k] = row
		if byProject[project] == nil {
			byProject[project] = map[hvKey]struct{}{}
		}
		byProject[project][k] = struct{}{}
	}

	type entry struct {
		project        string
		repo           *int32
		seq, batch     int64
		kind           string
		oldVer, newVer *string
		direction      *string // of a version update: upgrade or downgrade
		at             time.Time
	}
	var entries []entry
	for _, ev := range evs {
		repo, ok := page.Repos[ev.Repo]
		if !ok {
			return fmt.Errorf("event %d: unknown repository %q", ev.Seq, ev.Repo)
		}
		order := version.OrderOf(repo.Scheme)
		oldBest, hadBest := best(ev.Project, repo.ID, order)
		oldNewest, oldNewestKey := newest(ev.Project)
		for _, p := range ev.Removed {
			add(ev.Project, repo.ID, repo.Scheme, p.Version, -1)
		}
		for _, p := range ev.Added {
			add(ev.Project, repo.ID, repo.Scheme, p.Version, +1)
		}
		if ev.Kind == events.KindInvalidated {
			continue
		}
		newBest, hasBest := best(ev.Project, repo.ID, order)
		newNewest, newNewestKey := newest(ev.Project)
		e := entry{project: ev.Project, repo: &repo.ID, seq: ev.Seq, batch: ev.Batch, at: page.BatchTimes[ev.Batch]}
		switch {
		case !hadBest && hasBest:
			e.kind, e.newVer = "added", &newBest
			entries = append(entries, e)
		case hadBest && !hasBest:
			e.kind, e.oldVer = "removed", &oldBest
			entries = append(entries, e)
		case oldBest != newBest:
			e.kind, e.oldVer, e.newVer = "version_update", &oldBest, &newBest
			// Two spellings of one version (1.0 and 1.0-0 in dpkg) are
			// neither: the direction stays empty.
			switch order.Compare(newBest, oldBest) {
			case 1:
				e.direction = &upgrade
			case -1:
				e.direction = &downgrade
			}
			entries = append(entries, e)
		}
		if newNewestKey != nil && (oldNewestKey == nil || bytes.Compare(newNewestKey, oldNewestKey) > 0) {
			n := entry{project: ev.Project, repo: &repo.ID, seq: ev.Seq, batch: ev.Batch, at: e.at, kind: "new_newest", newVer: &newNewest}
			if oldNewestKey != nil {
				n.oldVer = &oldNewest
			}
			entries = append(entries, n)
		}
	}

	// Write the difference of the state, then the entries.
	var del, up struct {
		projects, versions []string
		repos              []int32
		keys               [][]byte
		counts             []int32
	}
	for k := range before {
		if _, ok := state[k]; !ok {
			del.projects, del.repos, del.versions = append(del.projects, k.project), append(del.repos, k.repo), append(del.versions, k.version)
		}
	}
	// Versions new to the page's projects (all of them when a repository
	// is loaded) are copied in, in key order; the others are updated in
	// place.
	var created []hvKey
	for k, v := range state {
		old, ok := before[k]
		switch {
		case !ok:
			created = append(created, k)
		case old.count != v.count || !bytes.Equal(old.key, v.key):
			up.projects, up.repos, up.versions = append(up.projects, k.project), append(up.repos, k.repo), append(up.versions, k.version)
			up.keys, up.counts = append(up.keys, v.key), append(up.counts, v.count)
		}
	}
	if len(del.projects) > 0 {
		if err := timedExec(ctx, tx, "history_versions", dlsql.Render("history-delete", sch), del.projects, del.repos, del.versions); err != nil {
			return err
		}
	}
	if len(up.projects) > 0 {
		if err := timedExec(ctx, tx, "history_versions", dlsql.Render("history-upsert", sch), up.projects, up.repos, up.versions, up.keys, up.counts); err != nil {
			return err
		}
	}
	if len(created) > 0 {
		slices.SortFunc(created, func(a, b hvKey) int {
			return cmp.Or(strings.Compare(a.project, b.project), cmp.Compare(a.repo, b.repo), strings.Compare(a.version, b.version))
		})
		i := 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{sch.Schema, "history_versions"},
			[]string{"project", "repo_id", "version", "version_key", "count"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(created) {
					return nil, nil
				}
				k := created[i]
				i++
				return []any{k.project, k.repo, k.version, state[k].key, state[k].count}, nil
			})); err != nil {
			return fmt.Errorf("history versions: %w", err)
		}
	}
	// Re-derived: the versions read (of the touched pairs, and one per
	// project of the others) and those the page created; changed: those
	// written.
	statsFrom(ctx).add("history_versions", int64(len(before)+len(created)), int64(len(del.projects)+len(up.projects)+len(created)))
	statsFrom(ctx).add("project_history", int64(len(entries)), int64(len(entries)))
	if len(entries) > 0 {
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{sch.Schema, "project_history"},
			[]string{"project", "repo_id", "seq", "batch_id", "kind", "old_version", "new_version", "direction", "at"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(entries) {
					return nil, nil
				}
				e := entries[i]
				i++
				return []any{e.project, e.repo, e.seq, e.batch, e.kind, e.oldVer, e.newVer, e.direction, e.at}, nil
			}))
		if err != nil {
			return fmt.Errorf("project history: %w", err)
		}
	}
	return nil
}
