package web

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
	dlsql "github.com/deltalog/deltalog/sql"
)

// Freshness: how long repositories take to pick up a project's newest
// version. Computed at read time from the history projection's entries
// (project_history), not kept as a table: it is a function of a window of
// time, and the entries it reads are found by index — the new newest
// versions of the window by time, then the history of their projects by
// project — so a read costs the window's projects, never all history.
//
// Each new_newest entry in the window is a target: version V of project P
// first seen in repository R0 at T0. Every other repository carrying P at
// T0, or adding it later, is expected to pick V up; it catches up at its
// first added or version_update entry of P at or after T0 whose version is
// at least V (by the version keys, the cross-repository order; a newer
// version counts: it picked up V's successor at once), and its time to
// catch up is that entry's time less T0. One that has not by the window's
// end is pending: counted apart, never as zero. R0 itself is no sample
// (zero by definition), and a repository that drops P before catching up
// is neither. A version no other repository carries yet is pending in
// every repository that carries the project, and none when P is in R0
// alone. Both figures are nearest-rank percentiles of the samples (the
// median the ⌈n/2⌉-th smallest, p90 the ⌈0.9n⌉-th): always a time some
// repository really took.
//
// The window is the Days days up to the last batch the history projection
// applied, not up to now, so that the figures are a function of the
// checkpoint (and the API's entity tags stay true).

// DefaultFreshnessDays is the window of a freshness read when none is given.
const DefaultFreshnessDays = 30

// FreshnessParams selects a freshness read.
type FreshnessParams struct {
	// Days is the window (default DefaultFreshnessDays).
	Days int
	// RepoID, when set, keeps that repository's row only.
	RepoID *int32
	// MaintainerID, when set, keeps the (project, repository) pairs the
	// maintainer maintains.
	MaintainerID *int32
}

// Freshness is the time repositories took to pick up new newest versions
// whose first appearance lies in the window (From, Until].
type Freshness struct {
	Days  int       `json:"days"`
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// Targets counts the new newest versions of the window (of the
	// projects read: a maintainer's, or those the repository ever had,
	// when the read is limited to one).
	Targets int `json:"targets"`
	// Repositories are the rows per repository (those with a sample or a
	// pending version), by name; Total pools their samples.
	Repositories []FreshnessRow `json:"repositories"`
	Total        FreshnessRow   `json:"total"`
}

// FreshnessRow is one repository's (or the total's) figures.
type FreshnessRow struct {
	Repository string `json:"repository,omitempty"`
	CaughtUp   int    `json:"caught_up"`
	Pending    int    `json:"pending"`
	// MedianSeconds and P90Seconds are null when nothing caught up.
	MedianSeconds *float64 `json:"median_seconds"`
	P90Seconds    *float64 `json:"p90_seconds"`
}

// ReadFreshness computes the freshness figures (see the package's
// freshness notes) in one REPEATABLE READ snapshot.
func ReadFreshness(ctx context.Context, db *pgxpool.Pool, p FreshnessParams) (Freshness, error) {
	p.Days = cmp.Or(p.Days, DefaultFreshnessDays)
	out := Freshness{Days: p.Days, Repositories: []FreshnessRow{}}
	if p.Days < 0 {
		return out, fmt.Errorf("web: freshness: days %d must be positive", p.Days)
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return out, fmt.Errorf("web: freshness: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	var upto int64
	err = tx.QueryRow(ctx, dlsql.Query("freshness-window"), projections.HistoryName).Scan(&out.Until, &upto)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("web: freshness window: %w", err)
	}
	out.From = out.Until.Add(-time.Duration(p.Days) * 24 * time.Hour)

	names := map[int32]string{}
	schemes := map[int32]events.VersionScheme{}
	rows, err := tx.Query(ctx, dlsql.Query("projection-repos"))
	if err != nil {
		return out, fmt.Errorf("web: freshness: %w", err)
	}
	var id int32
	var name string
	var scheme events.VersionScheme
	if _, err := pgx.ForEachRow(rows, []any{&id, &name, &scheme}, func() error {
		names[id], schemes[id] = name, scheme
		return nil
	}); err != nil {
		return out, fmt.Errorf("web: freshness: repositories: %w", err)
	}
	type pair struct {
		project string
		repo    int32
	}
	var keep func(project string, repo int32) bool
	if p.MaintainerID != nil {
		pairs := map[pair]bool{}
		rows, err := tx.Query(ctx, dlsql.Query("freshness-maintainer-pairs"), *p.MaintainerID)
		if err != nil {
			return out, fmt.Errorf("web: freshness: %w", err)
		}
		var k pair
		if _, err := pgx.ForEachRow(rows, []any{&k.project, &k.repo}, func() error {
			pairs[k] = true
			return nil
		}); err != nil {
			return out, fmt.Errorf("web: freshness: maintainer: %w", err)
		}
		keep = func(project string, repo int32) bool { return pairs[pair{project, repo}] }
	}
	if p.RepoID != nil {
		inner := keep
		keep = func(project string, repo int32) bool {
			return repo == *p.RepoID && (inner == nil || inner(project, repo))
		}
	}

	key := func(e historyEntry) []byte { return version.SchemeKey(schemes[e.repo], e.version) }
	pending := map[int32]int{}
	lags := map[int32][]float64{}
	// One project's entries at a time, as they stream in (in project
	// order): a window over a whole catalog is never held in memory.
	var project []historyEntry
	flush := func() {
		if len(project) == 0 {
			return
		}
		out.Targets += catchUps(project, key, out.From, func(repo int32, lag time.Duration, caught bool) {
			switch {
			case keep != nil && !keep(project[0].project, repo):
			case caught:
				lags[repo] = append(lags[repo], lag.Seconds())
			default:
				pending[repo]++
			}
		})
		project = project[:0]
	}
	rows, err = tx.Query(ctx, dlsql.Query("freshness-entries"), out.From, out.Until, upto, p.MaintainerID, p.RepoID)
	if err != nil {
		return out, fmt.Errorf("web: freshness: %w", err)
	}
	var e historyEntry
	if _, err := pgx.ForEachRow(rows, []any{&e.project, &e.repo, &e.kind, &e.version, &e.at}, func() error {
		if len(project) > 0 && project[0].project != e.project {
			flush()
		}
		project = append(project, e)
		return nil
	}); err != nil {
		return out, fmt.Errorf("web: freshness: history: %w", err)
	}
	flush()
	var all []float64
	for repo := range names {
		if len(lags[repo]) == 0 && pending[repo] == 0 {
			continue
		}
		out.Repositories = append(out.Repositories, summarize(names[repo], lags[repo], pending[repo]))
		all = append(all, lags[repo]...)
		out.Total.Pending += pending[repo]
	}
	slices.SortFunc(out.Repositories, func(a, b FreshnessRow) int { return cmp.Compare(a.Repository, b.Repository) })
	out.Total = summarize("", all, out.Total.Pending)
	return out, nil
}

// historyEntry is what freshness reads of a project_history row.
type historyEntry struct {
	project string
	repo    int32
	kind    string
	version string
	at      time.Time
}

// catchUps walks one project's history in seq order and reports, for each
// new newest version first seen after from, every repository that picked
// it up (caught, with the time it took) or has not yet (not caught); it
// returns how many such versions there were.
func catchUps(entries []historyEntry, key func(historyEntry) []byte, from time.Time,
	report func(repo int32, lag time.Duration, caught bool)) int {
	type target struct {
		key     []byte
		at      time.Time
		origin  int32
		waiting map[int32]bool
		done    map[int32]bool
	}
	present := map[int32]bool{}
	var open []*target
	for _, e := range entries {
		switch e.kind {
		case "added", "version_update":
			if e.kind == "added" {
				present[e.repo] = true
				for _, t := range open {
					if e.repo != t.origin && !t.done[e.repo] {
						t.waiting[e.repo] = true
					}
				}
			}
			k := key(e)
			for _, t := range open {
				if t.waiting[e.repo] && bytes.Compare(k, t.key) >= 0 {
					report(e.repo, e.at.Sub(t.at), true)
					delete(t.waiting, e.repo)
					t.done[e.repo] = true
				}
			}
		case "removed":
			delete(present, e.repo)
			for _, t := range open {
				delete(t.waiting, e.repo)
			}
		case "new_newest":
			if !e.at.After(from) {
				continue
			}
			t := &target{key: key(e), at: e.at, origin: e.repo, waiting: map[int32]bool{}, done: map[int32]bool{}}
			for r := range present {
				if r != e.repo {
					t.waiting[r] = true
				}
			}
			open = append(open, t)
		}
	}
	for _, t := range open {
		for r := range t.waiting {
			report(r, 0, false)
		}
	}
	return len(open)
}

// summarize is a row of lags (seconds) and pending versions, with the
// nearest-rank percentiles of the lags.
func summarize(repo string, lags []float64, pending int) FreshnessRow {
	slices.Sort(lags)
	r := FreshnessRow{Repository: repo, CaughtUp: len(lags), Pending: pending}
	if n := len(lags); n > 0 {
		rank := func(p float64) *float64 {
			v := lags[int(math.Ceil(p*float64(n)))-1]
			return &v
		}
		r.MedianSeconds, r.P90Seconds = rank(0.5), rank(0.9)
	}
	return r
}

// apiRepositoryFreshness serves a repository's freshness (?days=N).
func (s *Server) apiRepositoryFreshness(ctx context.Context, r *http.Request, c Checkpoint) ([]byte, string, error) {
	repo, err := s.store.repository(ctx, r.PathValue("name"))
	if err != nil {
		return nil, "", err
	}
	return s.freshness(ctx, r, c, FreshnessParams{RepoID: &repo.ID})
}

// apiMaintainerFreshness serves a maintainer's freshness (?days=N): per
// repository and in total, over the pairs they maintain.
func (s *Server) apiMaintainerFreshness(ctx context.Context, r *http.Request, c Checkpoint) ([]byte, string, error) {
	m, err := s.store.maintainer(ctx, r.PathValue("email"))
	if err != nil {
		return nil, "", err
	}
	return s.freshness(ctx, r, c, FreshnessParams{MaintainerID: &m.ID})
}

// freshness answers with the figures p selects, over the request's window.
func (s *Server) freshness(ctx context.Context, r *http.Request, c Checkpoint, p FreshnessParams) ([]byte, string, error) {
	var err error
	if p.Days, err = intParam(r.URL.Query(), "days", DefaultFreshnessDays, 1, 3650); err != nil {
		return nil, "", err
	}
	f, err := ReadFreshness(ctx, s.store.db, p)
	if err != nil {
		return nil, "", err
	}
	return jsonBody(c, struct {
		Freshness Freshness `json:"freshness"`
	}{f})
}
