package changelog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	dlsql "github.com/deltalog/deltalog/sql"
)

// MaxPage bounds one page read, whatever the caller asks for.
const MaxPage = 10000

// Page is a contiguous run of the changelog: the events with After < seq <=
// Next (all of them, or with a repository filter those of the repository),
// and the records of the batches they belong to. The last event of each
// batch carries its BatchEnd. Every reader of the changelog — projections,
// tail, the HTTP and NATS feeds — reads it as pages; the JSON encoding is
// the HTTP API's.
type Page struct {
	Events  []events.Event `json:"events"`
	Batches []events.Batch `json:"batches"`
	// After is where the page starts (exclusive).
	After int64 `json:"after"`
	// Next is the seq to continue after: the last seq the page covers. With
	// a repository filter it can lie beyond the last event returned.
	Next int64 `json:"next"`
	// Head is the changelog head the page was read under.
	Head int64 `json:"head"`
}

// Batch returns the record of batch id from the page, or nil.
func (p *Page) Batch(id int64) *events.Batch {
	i, ok := slices.BinarySearchFunc(p.Batches, id, func(b events.Batch, id int64) int {
		switch {
		case b.ID < id:
			return -1
		case b.ID > id:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return &p.Batches[i]
}

// PageParams selects a page.
type PageParams struct {
	// After is the seq to read after (exclusive).
	After int64
	// Upto bounds the page (inclusive); it must not exceed a head read
	// before (see Head). Zero means the head now.
	Upto int64
	// Limit is the largest number of events; 0 or more than MaxPage means
	// MaxPage.
	Limit int
	// Repo, when set, keeps only that repository's events.
	Repo string
}

// ReadPage reads one page. The page covers (After, Next]: Next is Upto when
// fewer than Limit events were found, else the last event's seq. The page
// is final: appends are serialized (see the package doc), so the events at
// or below a head read before never gain a hole that fills in later.
func ReadPage(ctx context.Context, q Querier, p PageParams) (*Page, error) {
	if p.Limit <= 0 || p.Limit > MaxPage {
		p.Limit = MaxPage
	}
	head := p.Upto
	if head == 0 {
		h, err := Head(ctx, q)
		if err != nil {
			return nil, err
		}
		head = h
	}
	page := &Page{After: p.After, Next: max(p.After, head), Head: head, Events: []events.Event{}, Batches: []events.Batch{}}
	if head <= p.After {
		return page, nil
	}
	var rows pgx.Rows
	var err error
	if p.Repo == "" {
		rows, err = q.Query(ctx, dlsql.Query("page"), p.After, head, p.Limit)
	} else {
		var repoID int32
		switch err := q.QueryRow(ctx, dlsql.Query("repo-id"), p.Repo).Scan(&repoID); {
		case errors.Is(err, pgx.ErrNoRows):
			return page, nil // no such repository: no events
		case err != nil:
			return nil, fmt.Errorf("reading changelog after %d: repository %q: %w", p.After, p.Repo, err)
		}
		// Planned for this repository each time (an unnamed statement): a
		// cached generic plan would know only the average repository.
		rows, err = q.Query(ctx, dlsql.Query("page-repo"), pgx.QueryExecModeExec, p.After, head, p.Limit, p.Repo, repoID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading changelog after %d: %w", p.After, err)
	}
	page.Events, err = scanEvents(rows, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("reading changelog after %d: %w", p.After, err)
	}
	if len(page.Events) == p.Limit {
		page.Next = page.Events[len(page.Events)-1].Seq
	}
	var ids []int64
	for i := range page.Events {
		if id := page.Events[i].Batch; len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	if page.Batches, err = ReadBatches(ctx, q, ids); err != nil {
		return nil, err
	}
	return page, nil
}

// scanEvents is the one decoder of changelog rows. The packages are decoded
// with go-json-experiment/json, about twice as fast as encoding/json on
// them: decoding is the largest part of a replay's time in Go.
func scanEvents(rows pgx.Rows, capacity int) ([]events.Event, error) {
	out := make([]events.Event, 0, min(capacity, 1024))
	var (
		ev             events.Event
		kind           string
		oldSum, newSum *int64
		removed, added []byte
		repoSt, global *int64
	)
	_, err := pgx.ForEachRow(rows, []any{&ev.Seq, &ev.Batch, &ev.Repo, &ev.Project, &kind, &oldSum, &newSum,
		&removed, &added, &repoSt, &global}, func() error {
		e := ev
		e.Kind = events.Kind(kind)
		e.OldChecksum, e.NewChecksum = sumString(oldSum), sumString(newSum)
		e.Removed, e.Added = nil, nil
		if err := json.Unmarshal(removed, &e.Removed); err != nil {
			return fmt.Errorf("event %d: removed: %w", e.Seq, err)
		}
		if err := json.Unmarshal(added, &e.Added); err != nil {
			return fmt.Errorf("event %d: added: %w", e.Seq, err)
		}
		if len(e.Removed) == 0 {
			e.Removed = nil
		}
		if len(e.Added) == 0 {
			e.Added = nil
		}
		if repoSt != nil && global != nil {
			e.BatchEnd = &events.BatchEnd{
				RepoStateChecksum:   hashing.Sum(*repoSt).String(),
				GlobalStateChecksum: hashing.Sum(*global).String(),
			}
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

func sumString(v *int64) string {
	if v == nil {
		return ""
	}
	return hashing.Sum(*v).String()
}

// ReadBatches returns the records of the given batches, sorted by id.
// Missing ids are left out.
func ReadBatches(ctx context.Context, q Querier, ids []int64) ([]events.Batch, error) {
	out := []events.Batch{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, dlsql.Query("batches"), ids)
	if err != nil {
		return nil, fmt.Errorf("reading batches: %w", err)
	}
	var (
		b              events.Batch
		files, counts  []byte
		seed           int64
		repoSt, global int64
		parse, diff    *float64
		write          *float64
	)
	_, err = pgx.ForEachRow(rows, []any{&b.ID, &b.Repo, &b.Kind, &files, &b.StartedAt, &b.FinishedAt, &seed,
		&b.HashVersion, &b.VersionScheme, &b.FirstSeq, &b.LastSeq, &counts, &b.Reason, &b.Actor, &repoSt, &global,
		&parse, &diff, &write}, func() error {
		r := b
		r.Timings = events.TimingsOf(parse, diff, write)
		r.Files = nil
		if err := json.Unmarshal(files, &r.Files); err != nil {
			return fmt.Errorf("batch %d: files: %w", r.ID, err)
		}
		if len(r.Files) == 0 {
			r.Files = nil
		}
		if err := json.Unmarshal(counts, &r.Counts); err != nil {
			return fmt.Errorf("batch %d: counts: %w", r.ID, err)
		}
		r.HashSeed = uint64(seed)
		r.RepoStateChecksum = hashing.Sum(repoSt).String()
		r.GlobalStateChecksum = hashing.Sum(global).String()
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading batches: %w", err)
	}
	return out, nil
}

// ReadBatch returns one batch record, or ErrNotFound.
func ReadBatch(ctx context.Context, q Querier, id int64) (*events.Batch, error) {
	bs, err := ReadBatches(ctx, q, []int64{id})
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("batch %d: %w", id, ErrNotFound)
	}
	return &bs[0], nil
}
