package projections

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// TableStats counts what one page did to one derived table.
type TableStats struct {
	// Rederived counts the rows re-derived: read and compared with their
	// recomputation (the keys in scope, before and after).
	Rederived int64 `json:"rederived"`
	// Changed counts the rows actually written: inserted, updated or
	// deleted. Rederived ÷ Changed is the page's amplification on the table.
	Changed int64 `json:"changed"`
	// Seconds is the time of the page's statements on the table (or, for
	// the scope's statements, under the query's name): each table's share
	// of a page.
	Seconds float64 `json:"seconds"`
}

// PageStats describes one page a projection applied: the events (After, To],
// and per derived table the rows re-derived and changed.
type PageStats struct {
	Projection string                `json:"projection"`
	After      int64                 `json:"after"`
	To         int64                 `json:"to"`
	Events     int                   `json:"events"`
	Tables     map[string]TableStats `json:"tables"`
	Duration   time.Duration         `json:"duration"`
}

// Total sums the tables' counts.
func (s PageStats) Total() TableStats {
	var t TableStats
	for _, ts := range s.Tables {
		t.Rederived += ts.Rederived
		t.Changed += ts.Changed
	}
	return t
}

// StatsSum sums what pages did per derived table: its Add is a
// Config.PageFunc (safe for the runner's concurrent projections).
type StatsSum struct {
	mu     sync.Mutex
	tables map[string]TableStats
	// Only, when set, counts the pages of that projection only.
	Only string
}

// Add counts a page.
func (s *StatsSum) Add(p PageStats) {
	if s.Only != "" && p.Projection != s.Only {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tables == nil {
		s.tables = map[string]TableStats{}
	}
	for name, t := range p.Tables {
		sum := s.tables[name]
		sum.Rederived += t.Rederived
		sum.Changed += t.Changed
		sum.Seconds += t.Seconds
		s.tables[name] = sum
	}
}

// Take returns the sums since the last Take (empty when no page was
// counted) and starts again.
func (s *StatsSum) Take() map[string]TableStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.tables
	if out == nil {
		out = map[string]TableStats{}
	}
	s.tables = nil
	return out
}

// add counts rows of a table.
func (s *PageStats) add(table string, rederived, changed int64) {
	if s == nil {
		return
	}
	if s.Tables == nil {
		s.Tables = map[string]TableStats{}
	}
	t := s.Tables[table]
	t.Rederived += rederived
	t.Changed += changed
	s.Tables[table] = t
}

// addTime counts the time of a statement on a table.
func (s *PageStats) addTime(table string, d time.Duration) {
	if s == nil {
		return
	}
	if s.Tables == nil {
		s.Tables = map[string]TableStats{}
	}
	t := s.Tables[table]
	t.Seconds += d.Seconds()
	s.Tables[table] = t
}

// logAttrs renders the per-table counts for a log line, in table order.
func (s *PageStats) logAttrs() []any {
	out := make([]any, 0, len(s.Tables))
	for _, name := range slices.Sorted(maps.Keys(s.Tables)) {
		t := s.Tables[name]
		out = append(out, slog.Group(name, "rederived", t.Rederived, "changed", t.Changed))
	}
	return out
}

type statsKey struct{}

// withStats makes the statements run under ctx count into s.
func withStats(ctx context.Context, s *PageStats) context.Context {
	return context.WithValue(ctx, statsKey{}, s)
}

// statsFrom returns the page stats ctx counts into; nil (counting nothing)
// outside a page.
func statsFrom(ctx context.Context) *PageStats {
	s, _ := ctx.Value(statsKey{}).(*PageStats)
	return s
}
