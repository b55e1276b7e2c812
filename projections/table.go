package projections

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	dlsql "github.com/deltalog/deltalog/sql"
)

// table describes a derived table kept by "recompute the keys in scope":
// the expected query gives the rows the table should hold for the keys in
// scope; sync makes the table hold exactly those, writing only rows that
// differ. The same description drives the audit (every key in scope,
// compared instead of written) and rebuilds.
type table struct {
	name   string
	keys   []string
	values []string
	// orphans: rows are never deleted. The expected query has a boolean
	// "orphaned" column; the table keeps orphaned_at (set when a row loses
	// its last package, cleared when it comes back) and a generated
	// "orphaned" column.
	orphans bool
	// expected names the query in sql/queries that defines the rows.
	expected string
	// scope is a predicate on the table (aliased t) selecting the rows of
	// the keys in scope.
	scope string
	// carried are columns a rebuild copies from the live row as they are:
	// values computed once when the row was created, not by the
	// definition (links' URL columns, migration 020). A row without a live
	// counterpart gets them from the table's trigger.
	carried []string
	// triggers are the table's own triggers (its migrations'), which a
	// rebuild gives its new table: LIKE copies none.
	triggers []string
}

func (tb table) cols() []string {
	c := append(append([]string{}, tb.keys...), tb.values...)
	if tb.orphans {
		c = append(c, "orphaned")
	}
	return c
}

// on joins aliases a and b on the key columns. Keys are NOT NULL by schema,
// so plain equality is NULL-safe here and keeps hash joins possible.
func (tb table) on(a, b string) string {
	parts := make([]string, len(tb.keys))
	for i, k := range tb.keys {
		parts[i] = fmt.Sprintf("%s.%s = %s.%s", a, k, b, k)
	}
	return strings.Join(parts, " AND ")
}

func prefixed(alias string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = alias + "." + c
	}
	return strings.Join(out, ", ")
}

// sync recomputes the keys in scope of the table in sch.Schema: n_<table>
// holds the expected rows (the definition rendered with sch), o_<table> the
// rows before, both limited by the scope (both kept to the end of the
// transaction, for the counter deltas of higher levels); then rows are
// deleted, updated and inserted where they differ — an unchanged row is not
// touched.
func (tb table) sync(ctx context.Context, s *script, sch dlsql.Schemas) {
	for _, q := range tb.syncSQL(sch) {
		s.exec(tb.name, q)
	}
	tb.write(ctx, s, sch.Schema)
}

// write makes the table in schema hold n_<table> where it held o_<table>:
// the second half of sync, for tables whose n_ and o_ rows come from
// elsewhere (the counter differences of the delta path). It counts the rows
// re-derived (the keys of o_ and n_) and those written in the page's stats.
func (tb table) write(ctx context.Context, s *script, schema string) {
	stats := statsFrom(ctx)
	stmts := tb.writeSQL(schema)
	// The first statement analyzes the temporary tables; the others delete,
	// update and insert, the last one inserting.
	s.exec(tb.name, stmts[0])
	var before, changed int64
	s.count(tb.name, "SELECT count(*) FROM o_"+tb.name, func(n int64) { before = n })
	for i, q := range stmts[1:] {
		inserts := i == len(stmts)-2
		s.rows(tb.name, q, func(n int64) {
			changed += n
			if inserts {
				stats.add(tb.name, before+n, changed)
			}
		})
	}
}

// timedExec runs one statement, logging its duration at debug level: the
// first place to look when a page is slow.
func timedExec(ctx context.Context, tx pgx.Tx, what, sql string, args ...any) error {
	_, err := timedRows(ctx, tx, what, sql, args...)
	return err
}

// timedRows is timedExec returning the rows the statement affected.
func timedRows(ctx context.Context, tx pgx.Tx, what, sql string, args ...any) (int64, error) {
	start := time.Now()
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	statsFrom(ctx).addTime(what, time.Since(start))
	if l := loggerFrom(ctx); l.Enabled(ctx, slog.LevelDebug) {
		first, _, _ := strings.Cut(strings.TrimSpace(sql), "\n")
		l.DebugContext(ctx, "statement", "what", what, "rows", tag.RowsAffected(),
			"ms", time.Since(start).Milliseconds(), "sql", first[:min(len(first), 90)])
	}
	return tag.RowsAffected(), nil
}

type loggerKey struct{}

func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

func loggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
