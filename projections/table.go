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
// rows before (both kept to the end of the transaction, for
// the counter deltas of higher levels); then rows are deleted, updated and
// inserted where they differ — an unchanged row is not touched.
func (tb table) sync(ctx context.Context, tx pgx.Tx, sch dlsql.Schemas) error {
	n, o := "n_"+tb.name, "o_"+tb.name
	for _, s := range []string{
		fmt.Sprintf("CREATE TEMP TABLE %s ON COMMIT DROP AS %s", n, dlsql.Render(tb.expected, sch)),
		fmt.Sprintf("CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT %s FROM %s t WHERE %s",
			o, prefixed("t", tb.cols()), qualified(sch.Schema, tb.name), tb.scope),
	} {
		if err := timedExec(ctx, tx, tb.name, s); err != nil {
			return err
		}
	}
	return tb.write(ctx, tx, sch.Schema)
}

// write makes the table in schema hold n_<table> where it held o_<table>: the second
// half of sync, for tables whose n_ and o_ rows come from elsewhere (the
// counter differences of the delta path).
func (tb table) write(ctx context.Context, tx pgx.Tx, schema string) error {
	n, o := "n_"+tb.name, "o_"+tb.name
	target := qualified(schema, tb.name)
	stmts := []string{
		// Autovacuum never analyzes temporary tables; without statistics
		// the anti-join below gets a nested loop over them (seen: 80 s
		// instead of 0.1 s for 60k rows).
		fmt.Sprintf("ANALYZE %s, %s", n, o),
	}
	// o_ holds the table's rows of the keys in scope as they are: which
	// rows to delete and update is found by comparing the two temporary
	// tables (a hash join in memory), and the table itself is only probed
	// for the rows that change — not for every row in scope.
	if !tb.orphans {
		stmts = append(stmts, fmt.Sprintf(
			"DELETE FROM %s t USING (SELECT %s FROM %s o WHERE NOT EXISTS (SELECT 1 FROM %s n WHERE %s)) o WHERE %s",
			target, prefixed("o", tb.keys), o, n, tb.on("n", "o"), tb.on("t", "o")))
	}

	set := make([]string, 0, len(tb.values)+1)
	for _, v := range tb.values {
		set = append(set, fmt.Sprintf("%s = n.%s", v, v))
	}
	oldVals, newVals := prefixed("o", tb.values), prefixed("n", tb.values)
	insCols, insVals := append(append([]string{}, tb.keys...), tb.values...), prefixed("n", append(append([]string{}, tb.keys...), tb.values...))
	if tb.orphans {
		set = append(set, "orphaned_at = CASE WHEN n.orphaned THEN coalesce(t.orphaned_at, now()) END")
		oldVals += ", o.orphaned"
		newVals += ", n.orphaned"
		insCols = append(insCols, "orphaned_at")
		insVals += ", CASE WHEN n.orphaned THEN now() END"
	}
	stmts = append(stmts,
		fmt.Sprintf("UPDATE %s t SET %s FROM (SELECT n.* FROM %s n JOIN %s o ON %s WHERE (%s) IS DISTINCT FROM (%s)) n WHERE %s",
			target, strings.Join(set, ", "), n, o, tb.on("n", "o"), oldVals, newVals, tb.on("t", "n")),
		fmt.Sprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s n WHERE NOT EXISTS (SELECT 1 FROM %s o WHERE %s)",
			target, strings.Join(insCols, ", "), insVals, n, o, tb.on("o", "n")),
	)
	for _, s := range stmts {
		if err := timedExec(ctx, tx, tb.name, s); err != nil {
			return err
		}
	}
	return nil
}

// timedExec runs one statement, logging its duration at debug level: the
// first place to look when a page is slow.
func timedExec(ctx context.Context, tx pgx.Tx, what, sql string, args ...any) error {
	start := time.Now()
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if l := loggerFrom(ctx); l.Enabled(ctx, slog.LevelDebug) {
		first, _, _ := strings.Cut(strings.TrimSpace(sql), "\n")
		l.DebugContext(ctx, "statement", "what", what, "rows", tag.RowsAffected(),
			"ms", time.Since(start).Milliseconds(), "sql", first[:min(len(first), 90)])
	}
	return nil
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
