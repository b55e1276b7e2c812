// Package autoanalyze keeps the planner's statistics in step with the bulk
// changes a process makes, without waiting for autovacuum.
//
// Autovacuum analyzes a table once the rows modified since its last ANALYZE
// exceed autovacuum_analyze_threshold + autovacuum_analyze_scale_factor ×
// reltuples, but it wakes once a minute (autovacuum_naptime), and a fresh
// catalog loads many times its own size in that minute: plans made in
// between see statistics of a table a fraction of its size (for temporary
// tables autovacuum never runs at all). An Analyzer applies the same rule
// itself, right after the change, counting the rows its own process changed.
//
// The rule is relative on purpose. A fixed "ANALYZE after every large
// batch" re-analyzes a big table for every small repository of a fresh
// load (300 ANALYZEs of a growing table), which cost more than the load
// itself; a relative rule analyzes a table growing from empty to N rows
// only about log(N) times.
package autoanalyze

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	dlsql "github.com/deltalog/deltalog/sql"
)

// Defaults of an Analyzer's rule: ANALYZE once the rows changed exceed
// 1000 + 0.2 × the rows the tables held at the last ANALYZE.
const (
	DefaultThreshold   = 1000
	DefaultScaleFactor = 0.2
)

// DB is what an Analyzer needs: a pool or a connection, outside any
// transaction (ANALYZE inside a transaction holds its locks to the end).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Analyzer decides when to ANALYZE a set of tables. It is safe for
// concurrent use.
type Analyzer struct {
	tables      []string
	threshold   int64
	scaleFactor float64

	mu      sync.Mutex
	pending int64   // rows changed since the last ANALYZE
	size    float64 // largest reltuples of the tables then; < 0 unknown
}

// New returns an Analyzer of tables with the default rule.
func New(tables ...string) *Analyzer {
	return &Analyzer{tables: tables, threshold: DefaultThreshold, scaleFactor: DefaultScaleFactor, size: -1}
}

// Changed records that n rows of the tables changed (committed) and
// analyzes them when the rule says so. It reports whether it did. A nil
// Analyzer does nothing.
func (a *Analyzer) Changed(ctx context.Context, db DB, n int64) (bool, error) {
	if a == nil || len(a.tables) == 0 || n <= 0 {
		return false, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending += n
	if a.size < 0 {
		size, err := a.reltuples(ctx, db)
		if err != nil {
			return false, err
		}
		a.size = size
	}
	if float64(a.pending) <= float64(a.threshold)+a.scaleFactor*a.size {
		return false, nil
	}
	if _, err := db.Exec(ctx, "ANALYZE "+strings.Join(a.tables, ", ")); err != nil {
		return false, fmt.Errorf("analyzing %s: %w", strings.Join(a.tables, ", "), err)
	}
	a.pending = 0
	size, err := a.reltuples(ctx, db)
	if err != nil {
		a.size = -1
		return true, err
	}
	a.size = size
	return true, nil
}

// Reset forgets the rows changed so far and the tables' size, as after an
// ANALYZE made elsewhere (a rebuild analyzes the tables it swaps in).
func (a *Analyzer) Reset() {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.pending, a.size = 0, -1
	a.mu.Unlock()
}

// reltuples is the largest row estimate among the tables (0 for tables
// never analyzed, whose estimate is -1).
func (a *Analyzer) reltuples(ctx context.Context, db DB) (float64, error) {
	var size float64
	err := db.QueryRow(ctx, dlsql.Query("table-size"), a.tables).Scan(&size)
	if err != nil {
		return 0, fmt.Errorf("reading the size of %s: %w", strings.Join(a.tables, ", "), err)
	}
	return size, nil
}
