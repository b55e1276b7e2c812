package projections

import (
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
	// head), "stopped" (behind, and no worker runs) or "failed" (stopped
	// on a page it could not apply; Error says why).
	State     string                `json:"state"`
	Running   bool                  `json:"running"`
	Error     string                `json:"error,omitempty"`
	FailedAt  *time.Time            `json:"failed_at,omitempty"`
	UpdatedAt *time.Time            `json:"updated_at,omitempty"`
	Caches    map[string]CacheStats `json:"caches,omitempty"`
}

// ReadStatus reports every projection, including those that never ran.
func ReadStatus(ctx context.Context, q changelog.Querier) ([]Status, error) {
	head, err := changelog.Head(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, dlsql.Query("projection-status"))
	if err != nil {
		return nil, fmt.Errorf("reading projection status: %w", err)
	}
	byName := map[string]Status{}
	var (
		s       Status
		updated time.Time
		errText *string
		caches  []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&s.Name, &s.Checkpoint, &updated, &s.FailedAt, &errText, &caches, &s.Running}, func() error {
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
		case st.Running:
			st.State = "running"
		default:
			st.State = "stopped"
		}
		out = append(out, st)
	}
	return out, nil
}
