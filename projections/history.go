package projections

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	dlsql "github.com/deltalog/deltalog/sql"
)

// HistoryName is the name of the history projection.
const HistoryName = "history"

// History records, per project, what happened and when: added to or removed
// from a repository, a version update in a repository, a new newest version
// across repositories — each with the seq and batch that caused it.
//
// Unlike the catalog it is derived from the events themselves, one by one in
// seq order, so that every entry is attributed to the exact event that caused
// it. Its state (history_versions: the versions present per project and
// repository) is still checked by the audit against the current packages.
// Invalidated events update that state (re-deriving version keys) but never
// produce entries: they are not changes of content.
type History struct {
	// schema holds the tables Apply writes (empty: the live ones); a
	// rebuild's or an audit's history writes its own.
	schema string
}

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

// Apply implements Projection.
func (h History) Apply(ctx context.Context, tx pgx.Tx, page *Page) (func(), error) {
	sch := deltaSchemas(h.schema)
	touched := map[string]struct{}{}
	for _, ev := range page.Events {
		touched[ev.Project] = struct{}{}
	}
	before := map[hvKey]hvRow{}
	rows, err := tx.Query(ctx, dlsql.Render("history-load", sch), keys(touched))
	if err != nil {
		return nil, err
	}
	var k hvKey
	var r hvRow
	if _, err := pgx.ForEachRow(rows, []any{&k.project, &k.repo, &k.version, &r.key, &r.count}, func() error {
		before[k] = hvRow{key: bytes.Clone(r.key), count: r.count}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("loading history versions: %w", err)
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
	best := func(project string, repo int32, all bool) (string, []byte) {
		var v string
		var key []byte
		for k := range byProject[project] {
			if !all && k.repo != repo {
				continue
			}
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
		at             time.Time
	}
	var entries []entry
	for _, ev := range page.Events {
		repo, ok := page.Repos[ev.Repo]
		if !ok {
			return nil, fmt.Errorf("event %d: unknown repository %q", ev.Seq, ev.Repo)
		}
		oldBest, oldBestKey := best(ev.Project, repo.ID, false)
		oldNewest, oldNewestKey := best(ev.Project, 0, true)
		for _, p := range ev.Removed {
			add(ev.Project, repo.ID, repo.Scheme, p.Version, -1)
		}
		for _, p := range ev.Added {
			add(ev.Project, repo.ID, repo.Scheme, p.Version, +1)
		}
		if ev.Kind == events.KindInvalidated {
			continue
		}
		newBest, newBestKey := best(ev.Project, repo.ID, false)
		newNewest, newNewestKey := best(ev.Project, 0, true)
		e := entry{project: ev.Project, repo: &repo.ID, seq: ev.Seq, batch: ev.Batch, at: page.BatchTimes[ev.Batch]}
		switch {
		case oldBestKey == nil && newBestKey != nil:
			e.kind, e.newVer = "added", &newBest
			entries = append(entries, e)
		case oldBestKey != nil && newBestKey == nil:
			e.kind, e.oldVer = "removed", &oldBest
			entries = append(entries, e)
		case oldBest != newBest:
			e.kind, e.oldVer, e.newVer = "version_update", &oldBest, &newBest
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
	for k, v := range state {
		if old, ok := before[k]; ok && old.count == v.count && bytes.Equal(old.key, v.key) {
			continue
		}
		up.projects, up.repos, up.versions = append(up.projects, k.project), append(up.repos, k.repo), append(up.versions, k.version)
		up.keys, up.counts = append(up.keys, v.key), append(up.counts, v.count)
	}
	if len(del.projects) > 0 {
		if _, err := tx.Exec(ctx, dlsql.Render("history-delete", sch), del.projects, del.repos, del.versions); err != nil {
			return nil, fmt.Errorf("history versions: %w", err)
		}
	}
	if len(up.projects) > 0 {
		if _, err := tx.Exec(ctx, dlsql.Render("history-upsert", sch), up.projects, up.repos, up.versions, up.keys, up.counts); err != nil {
			return nil, fmt.Errorf("history versions: %w", err)
		}
	}
	if len(entries) > 0 {
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{sch.Schema, "project_history"},
			[]string{"project", "repo_id", "seq", "batch_id", "kind", "old_version", "new_version", "at"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(entries) {
					return nil, nil
				}
				e := entries[i]
				i++
				return []any{e.project, e.repo, e.seq, e.batch, e.kind, e.oldVer, e.newVer, e.at}, nil
			}))
		if err != nil {
			return nil, fmt.Errorf("project history: %w", err)
		}
	}
	return nil, nil
}
