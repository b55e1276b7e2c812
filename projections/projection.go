package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	dlsql "github.com/deltalog/deltalog/sql"
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
	Scheme events.VersionScheme
}

// Page is a contiguous range of the changelog, (After, Next], read as
// changelog pages, with what the projections need to interpret it.
type Page struct {
	changelog.Page
	Repos map[string]Repo
	// BatchTimes maps the page's batches to the time they finished.
	BatchTimes map[int64]time.Time
}

// readPage reads the events in (after, to] and their context inside tx.
func readPage(ctx context.Context, tx pgx.Tx, after, to int64) (*Page, error) {
	p := &Page{Page: changelog.Page{After: after, Next: to, Head: to}, Repos: map[string]Repo{}, BatchTimes: map[int64]time.Time{}}
	for at := after; at < to; {
		cp, err := changelog.ReadPage(ctx, tx, changelog.PageParams{After: at, Upto: to, Limit: int(min(to-at, changelog.MaxPage))})
		if err != nil {
			return nil, err
		}
		if len(cp.Events) == 0 {
			return nil, fmt.Errorf("changelog ends at %d, before %d", at, to)
		}
		p.Events = append(p.Events, cp.Events...)
		if n := len(p.Batches); n > 0 && cp.Batches[0].ID == p.Batches[n-1].ID {
			cp.Batches = cp.Batches[1:] // a batch continued from the page before
		}
		p.Batches = append(p.Batches, cp.Batches...)
		at = cp.Events[len(cp.Events)-1].Seq
	}
	for i, ev := range p.Events {
		if want := after + int64(i) + 1; ev.Seq != want {
			return nil, fmt.Errorf("changelog hole: seq %d where %d was expected", ev.Seq, want)
		}
	}
	for _, b := range p.Batches {
		p.BatchTimes[b.ID] = b.FinishedAt
	}

	rows, err := tx.Query(ctx, dlsql.Query("projection-repos"))
	if err != nil {
		return nil, fmt.Errorf("reading repositories: %w", err)
	}
	var r Repo
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&r.ID, &name, &r.Scheme}, func() error {
		p.Repos[name] = r
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading repositories: %w", err)
	}
	return p, nil
}
