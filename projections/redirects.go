package projections

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/events"
	dlsql "github.com/deltalog/deltalog/sql"
)

// projectRedirects is project_redirects described as a table: like
// project_history a log derived from the changelog, one row per (event,
// old project, new project).
var projectRedirects = table{name: "project_redirects", keys: []string{"seq", "old_project", "new_project"},
	values: []string{"repo_id", "batch_id", "at"}}

// A package moves when one batch removes it (its repository and name)
// from one project and adds it to another: a renamed source package, a
// changed name normalization. The move is recorded once, at the later of
// the two events, as a redirect from the old project to the new one.
//
// moveKey is a package name in a batch (a batch is one repository's).
type moveKey struct {
	batch int64
	name  string
}

// moveSide is one event's half of a move: the project lost the name
// (removed it without adding it back) or gained it.
type moveSide struct {
	seq     int64
	project string
	lost    bool
}

type redirect struct {
	seq      int64
	old, new string
	repo     int32
	batch    int64
	at       time.Time
}

// redirects records the moves whose later event is in the page. The
// earlier event is in the page too, or, for a batch begun before the page,
// among the batch's events before it: those are read from the changelog by
// seq range (history-redirect-counterparts), for the names the page lost
// or gained only — a batch that fits in the page reads nothing.
func (h History) redirects(ctx context.Context, tx pgx.Tx, page *Page) error {
	sides := map[moveKey][]moveSide{}
	for _, ev := range page.Events {
		for name, lost := range movedNames(ev) {
			k := moveKey{ev.Batch, name}
			sides[k] = append(sides[k], moveSide{ev.Seq, ev.Project, lost})
		}
	}
	if len(sides) == 0 {
		return nil
	}
	var froms, tos []int64
	begun := map[int64]bool{}
	for _, b := range page.Batches {
		if b.FirstSeq <= page.After && b.LastSeq > page.After {
			froms, tos = append(froms, b.FirstSeq), append(tos, page.After)
			begun[b.ID] = true
		}
	}
	if len(froms) > 0 {
		// Sought: the other side of each of the page's halves.
		var names []string
		var lost []bool
		for k, ss := range sides {
			if begun[k.batch] {
				for _, s := range ss {
					names, lost = append(names, k.name), append(lost, !s.lost)
				}
			}
		}
		rows, err := tx.Query(ctx, dlsql.Query("history-redirect-counterparts"), froms, tos, names, lost)
		if err != nil {
			return fmt.Errorf("project_redirects: %w", err)
		}
		var s moveSide
		var k moveKey
		if _, err := pgx.ForEachRow(rows, []any{&s.seq, &k.batch, &s.project, &k.name, &s.lost}, func() error {
			if _, ok := sides[k]; ok {
				sides[k] = append(sides[k], s)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("project_redirects: %w", err)
		}
	}

	found := map[redirect]struct{}{}
	for k, ss := range sides {
		slices.SortFunc(ss, func(a, b moveSide) int { return cmp.Compare(a.seq, b.seq) })
		for i, later := range ss {
			if later.seq <= page.After {
				continue // recorded with its page
			}
			for _, earlier := range ss[:i] {
				if earlier.lost == later.lost || earlier.project == later.project {
					continue
				}
				r := redirect{seq: later.seq, old: earlier.project, new: later.project, batch: k.batch, at: page.BatchTimes[k.batch]}
				if later.lost {
					r.old, r.new = later.project, earlier.project
				}
				found[r] = struct{}{}
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	repoOf := map[int64]int32{}
	for _, b := range page.Batches {
		repoOf[b.ID] = page.Repos[b.Repo].ID
	}
	out := make([]redirect, 0, len(found))
	for r := range found {
		r.repo = repoOf[r.batch]
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b redirect) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), strings.Compare(a.old, b.old), strings.Compare(a.new, b.new))
	})
	var (
		seqs, batches []int64
		olds, news    []string
		repos         []int32
		ats           []time.Time
	)
	for _, r := range out {
		seqs, batches, olds, news = append(seqs, r.seq), append(batches, r.batch), append(olds, r.old), append(news, r.new)
		repos, ats = append(repos, r.repo), append(ats, r.at)
	}
	n, err := timedRows(ctx, tx, projectRedirects.name, dlsql.Render("history-redirects", deltaSchemas(h.schema)),
		seqs, olds, news, repos, batches, ats)
	if err != nil {
		return err
	}
	statsFrom(ctx).add(projectRedirects.name, n, n)
	return nil
}

// movedNames returns the package names an event's project lost (true:
// removed and not added back) or gained (false: added, not there before).
// Invalidations re-state content: they move nothing.
func movedNames(ev events.Event) map[string]bool {
	if ev.Kind == events.KindInvalidated {
		return nil
	}
	removed, added := map[string]bool{}, map[string]bool{}
	for _, p := range ev.Removed {
		removed[p.Name] = true
	}
	for _, p := range ev.Added {
		added[p.Name] = true
	}
	out := map[string]bool{}
	for n := range removed {
		if !added[n] { // one still there has a new version: no move
			out[n] = true
		}
	}
	for n := range added {
		if !removed[n] {
			out[n] = false
		}
	}
	return out
}
