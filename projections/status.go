package projections

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/changelog"
	dlsql "github.com/deltalog/deltalog/sql"
)

// Names returns the projections deltalog runs, in order.
func Names() []string { return []string{CatalogName, HistoryName} }

// Default returns every projection, configured by cfg.
func Default(cfg CatalogConfig) ([]Projection, error) {
	cat, err := NewCatalog(cfg)
	if err != nil {
		return nil, err
	}
	return []Projection{cat, History{}}, nil
}

// Select returns the projections of all whose names are in only (all of
// them when only is empty), or an error naming an unknown one.
func Select(all []Projection, only []string) ([]Projection, error) {
	if len(only) == 0 {
		return all, nil
	}
	var out []Projection
	for _, name := range only {
		found := false
		for _, p := range all {
			if p.Name() == name {
				out, found = append(out, p), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown projection %q (known: %v)", name, Names())
		}
	}
	return out, nil
}

// Status is a projection's progress, read from the database so that any
// process can report it honestly: the lag is the head minus the checkpoint,
// whatever the worker believes.
type Status struct {
	Name       string `json:"name"`
	Checkpoint int64  `json:"checkpoint"`
	Lag        int64  `json:"lag"`
	// State is "caught_up", "running" (a worker is applying, behind the
	// head), "stalled" (a worker holds the projection, but its checkpoint
	// has not moved for StatusOpts.StallAfter while events waited: the
	// watchdog's alarm), "stopped" (behind, and no worker runs) or
	// "failed" (stopped on a page it could not apply; Error says why).
	State     string                `json:"state"`
	Running   bool                  `json:"running"`
	Error     string                `json:"error,omitempty"`
	FailedAt  *time.Time            `json:"failed_at,omitempty"`
	UpdatedAt *time.Time            `json:"updated_at,omitempty"`
	Caches    map[string]CacheStats `json:"caches,omitempty"`
}

// DefaultStallAfter is StatusOpts.StallAfter's default: longer than any
// page and than a catch-up by rebuild of a large catalog takes.
const DefaultStallAfter = 2 * time.Minute

// StatusOpts are ReadStatusWith's options.
type StatusOpts struct {
	// StallAfter is how long a running projection may go without
	// advancing while events wait before it is reported "stalled"
	// (default DefaultStallAfter).
	StallAfter time.Duration
}

// ReadStatus reports every projection, including those that never ran,
// with the default options.
func ReadStatus(ctx context.Context, q changelog.Querier) ([]Status, error) {
	return ReadStatusWith(ctx, q, StatusOpts{})
}

// ReadStatusWith reports every projection, including those that never ran.
func ReadStatusWith(ctx context.Context, q changelog.Querier, opts StatusOpts) ([]Status, error) {
	stallAfter := cmp.Or(opts.StallAfter, DefaultStallAfter)
	head, err := changelog.Head(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, dlsql.Query("projection-status"))
	if err != nil {
		return nil, fmt.Errorf("reading projection status: %w", err)
	}
	byName := map[string]Status{}
	stalled := map[string]bool{}
	var (
		s            Status
		updated, now time.Time
		pendingSince *time.Time
		errText      *string
		caches       []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&s.Name, &s.Checkpoint, &updated, &s.FailedAt, &errText, &caches, &s.Running,
		&now, &pendingSince}, func() error {
		st := s
		u := updated
		st.UpdatedAt = &u
		if errText != nil {
			st.Error = *errText
		}
		st.Caches = nil
		if err := json.Unmarshal(caches, &st.Caches); err != nil {
			return err
		}
		// The watchdog: events have waited for longer than stallAfter,
		// and the checkpoint has not moved for as long.
		stalled[st.Name] = pendingSince != nil && now.Sub(*pendingSince) > stallAfter && now.Sub(updated) > stallAfter
		byName[st.Name] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading projection status: %w", err)
	}
	out := make([]Status, 0, len(Names()))
	for _, name := range Names() {
		st, ok := byName[name]
		if !ok {
			st = Status{Name: name}
		}
		st.Lag = head - st.Checkpoint
		switch {
		case st.FailedAt != nil:
			st.State = "failed"
		case st.Lag <= 0:
			st.State = "caught_up"
		case st.Running && stalled[name]:
			st.State = "stalled"
		case st.Running:
			st.State = "running"
		default:
			st.State = "stopped"
		}
		out = append(out, st)
	}
	return out, nil
}
