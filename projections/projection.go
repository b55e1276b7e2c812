package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
)

// Projection keeps derived tables from changelog pages.
type Projection interface {
	// Name identifies the projection (its checkpoint row, --only, status).
	Name() string
	// Apply applies one page inside tx, with set-based SQL. The runner
	// commits it together with the checkpoint, so a page is applied exactly
	// once. The returned function, if any, runs after the commit (fill
	// caches then, never before: a rolled back id must not be remembered).
	Apply(ctx context.Context, tx pgx.Tx, page *Page) (committed func(), err error)
	// CacheStats reports the projection's caches.
	CacheStats() map[string]CacheStats
}

// CacheStats are the counters of one cache.
type CacheStats struct {
	Size   int    `json:"size"`
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
}

// Repo is what projections need to know of a repository.
type Repo struct {
	ID     int32
	Scheme version.Scheme
}

// Page is a contiguous range of the changelog, (After, To], with what the
// projections need to interpret it.
type Page struct {
	After, To int64
	Events    []events.Event
	Repos     map[string]Repo
	// BatchTimes maps the page's batches to the time they finished.
	BatchTimes map[int64]time.Time
}

// readPage reads the events in (after, to] and their context inside tx.
func readPage(ctx context.Context, tx pgx.Tx, after, to int64) (*Page, error) {
	p := &Page{After: after, To: to, Repos: map[string]Repo{}, BatchTimes: map[int64]time.Time{}}
	for at := after; at < to; {
		evs, err := changelog.ReadPage(ctx, tx, at, int(min(to-at, changelog.MaxPage)))
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return nil, fmt.Errorf("changelog ends at %d, before %d", at, to)
		}
		p.Events = append(p.Events, evs...)
		at = evs[len(evs)-1].Seq
	}
	for i, ev := range p.Events {
		if want := after + int64(i) + 1; ev.Seq != want {
			return nil, fmt.Errorf("changelog hole: seq %d where %d was expected", ev.Seq, want)
		}
	}

	rows, err := tx.Query(ctx, `SELECT id, name, version_scheme FROM repos`)
	if err != nil {
		return nil, err
	}
	var r Repo
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&r.ID, &name, &r.Scheme}, func() error {
		p.Repos[name] = r
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading repositories: %w", err)
	}

	batchIDs := make([]int64, 0, 4)
	for _, ev := range p.Events {
		if len(batchIDs) == 0 || batchIDs[len(batchIDs)-1] != ev.Batch {
			batchIDs = append(batchIDs, ev.Batch)
		}
	}
	rows, err = tx.Query(ctx, `SELECT id, finished_at FROM batches WHERE id = ANY ($1)`, batchIDs)
	if err != nil {
		return nil, err
	}
	var id int64
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&id, &at}, func() error {
		p.BatchTimes[id] = at
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading batches: %w", err)
	}
	return p, nil
}
