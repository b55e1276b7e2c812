package projections

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	dlsql "github.com/deltalog/deltalog/sql"
)

// The statements built in Go from the descriptions of the derived tables
// (table, the rebuild's table lists) are all here, each naming the schema
// of every table it touches (qualified): the counterpart of the marked
// queries of sql/queries. Their callers run them.

// syncSQL fills n_<table>, the expected rows of the keys in scope
// (tb.expected rendered with sch), and o_<table>, the rows of the table in
// sch.Schema before: scratch tables catalog-scope declares.
func (tb table) syncSQL(sch dlsql.Schemas) []string {
	cols := strings.Join(tb.cols(), ", ")
	return []string{
		fmt.Sprintf("INSERT INTO n_%s (%s) SELECT %s FROM (%s\n) t WHERE %s", tb.name, cols, prefixed("t", tb.cols()), dlsql.Render(tb.expected, sch), tb.scope),
		fmt.Sprintf("INSERT INTO o_%s (%s) SELECT %s FROM %s t WHERE %s",
			tb.name, cols, prefixed("t", tb.cols()), qualified(sch.Schema, tb.name), tb.scope),
	}
}

// writeSQL makes the table in schema hold n_<table> where it held
// o_<table> (see write).
func (tb table) writeSQL(schema string) []string {
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
	return append(stmts,
		fmt.Sprintf("UPDATE %s t SET %s FROM (SELECT n.* FROM %s n JOIN %s o ON %s WHERE (%s) IS DISTINCT FROM (%s)) n WHERE %s",
			target, strings.Join(set, ", "), n, o, tb.on("n", "o"), oldVals, newVals, tb.on("t", "n")),
		fmt.Sprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s n WHERE NOT EXISTS (SELECT 1 FROM %s o WHERE %s)",
			target, strings.Join(insCols, ", "), insVals, n, o, tb.on("o", "n")),
	)
}

// recomputeSQL computes the table from scratch into pg_temp.<table>, its
// definition rendered with sch (fullSchemas).
func (tb table) recomputeSQL(sch dlsql.Schemas) string {
	return fmt.Sprintf("CREATE TEMP TABLE %s ON COMMIT DROP AS %s", tb.name, dlsql.Render(tb.expected, sch))
}

// compareSQL compares pg_temp.<table> (the recomputation) with the live
// table: counts is one pass that builds no JSON (the common case: a clean
// table); samples renders the first differences as JSON.
func (tb table) compareSQL() (counts, samples string) {
	vals := append([]string{}, tb.values...)
	if tb.orphans {
		vals = append(vals, "orphaned")
	}
	k0 := tb.keys[0]
	keyObj := make([]string, len(tb.keys))
	for i, k := range tb.keys {
		keyObj[i] = fmt.Sprintf("'%s', coalesce(e.%s, a.%s)", k, k, k)
	}
	rowObj := func(alias string) string {
		parts := make([]string, 0, len(tb.keys)+len(vals))
		for _, c := range append(append([]string{}, tb.keys...), vals...) {
			parts = append(parts, fmt.Sprintf("'%s', %s.%s", c, alias, c))
		}
		return fmt.Sprintf("CASE WHEN %s.%s IS NULL THEN NULL ELSE jsonb_build_object(%s) END", alias, k0, strings.Join(parts, ", "))
	}
	join := fmt.Sprintf("%s e FULL JOIN %s a ON %s", qualified(tempSchema, tb.name), qualified(liveSchema, tb.name), tb.on("e", "a"))
	differing := fmt.Sprintf("(e.%[1]s IS NOT NULL AND a.%[1]s IS NOT NULL AND (%[2]s) IS DISTINCT FROM (%[3]s))",
		k0, prefixed("e", vals), prefixed("a", vals))
	counts = fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE a.%[1]s IS NULL), count(*) FILTER (WHERE e.%[1]s IS NULL),
       count(*) FILTER (WHERE %[2]s) FROM %[3]s`, k0, differing, join)
	samples = fmt.Sprintf(`SELECT coalesce(jsonb_agg(s), '[]') FROM (
    SELECT jsonb_build_object(%[1]s) AS key, %[2]s AS expected, %[3]s AS actual
    FROM %[4]s
    WHERE a.%[5]s IS NULL OR e.%[5]s IS NULL OR %[6]s
    ORDER BY 1 LIMIT %[7]d) s`,
		strings.Join(keyObj, ", "), rowObj("e"), rowObj("a"), join, k0, differing, MaxSamples)
	return counts, samples
}

// applyExpectedSQL makes the table in schema hold exactly the rows of
// pg_temp.<table> (see applyExpected): delete, update, insert.
func (tb table) applyExpectedSQL(schema string) (del, upd, ins string) {
	target := qualified(schema, tb.name)
	expected := qualified(tempSchema, tb.name)
	set := make([]string, 0, len(tb.values)+1)
	for _, v := range tb.values {
		set = append(set, fmt.Sprintf("%s = e.%s", v, v))
	}
	oldVals, newVals := prefixed("a", tb.values), prefixed("e", tb.values)
	cols := append(append([]string{}, tb.keys...), tb.values...)
	insCols, insVals := strings.Join(cols, ", "), prefixed("e", cols)
	if tb.orphans {
		set = append(set, "orphaned_at = CASE WHEN e.orphaned THEN coalesce(a.orphaned_at, now()) END")
		oldVals += ", a.orphaned"
		newVals += ", e.orphaned"
		insCols += ", orphaned_at"
		insVals += ", CASE WHEN e.orphaned THEN now() END"
	}
	return fmt.Sprintf("DELETE FROM %s a WHERE NOT EXISTS (SELECT 1 FROM %s e WHERE %s)",
			target, expected, tb.on("e", "a")),
		fmt.Sprintf("UPDATE %s a SET %s FROM %s e WHERE %s AND (%s) IS DISTINCT FROM (%s)",
			target, strings.Join(set, ", "), expected, tb.on("a", "e"), oldVals, newVals),
		fmt.Sprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s e WHERE NOT EXISTS (SELECT 1 FROM %s a WHERE %s)",
			target, insCols, insVals, expected, target, tb.on("a", "e"))
}

// digestSQL summarizes the live table's keys and derived values (see
// Digest) as its row count and an md5.
func (tb table) digestSQL() string {
	// Surrogate ids come from sequences, which a rolled back transaction
	// advances too: compare by the natural keys they stand for.
	natural := map[string]string{
		"maintainer_id": "(SELECT x.email FROM " + qualified(liveSchema, "maintainers") + " x WHERE x.id = t.maintainer_id)",
		"link_id":       "(SELECT x.url FROM " + qualified(liveSchema, "links") + " x WHERE x.id = t.link_id)",
	}
	cols := append(append([]string{}, tb.keys...), tb.values...)
	if tb.orphans {
		cols = append(cols, "orphaned")
	}
	sel := make([]string, 0, len(cols))
	for _, c := range cols {
		switch {
		case natural[c] != "":
			sel = append(sel, natural[c])
		case c == "id" && (tb.name == "maintainers" || tb.name == "links"):
			// identified by email / url, among the values
		case c == "last_updated":
			// a wall-clock time
		default:
			sel = append(sel, "t."+c)
		}
	}
	return fmt.Sprintf("SELECT count(*) || ' ' || coalesce(md5(string_agg(row(%s)::text, E'\\n' ORDER BY row(%s)::text)), '') FROM %s t",
		strings.Join(sel, ", "), strings.Join(sel, ", "), qualified(liveSchema, tb.name))
}

// ---- rebuilds: the shadow schema and the swap ----

// createShadowSQL creates the shadow schema afresh.
func createShadowSQL(shadow string) []string {
	s := pgx.Identifier{shadow}.Sanitize()
	return []string{"DROP SCHEMA IF EXISTS " + s + " CASCADE", "CREATE SCHEMA " + s}
}

// dropShadowSQL drops the shadow schema and whatever it holds.
func dropShadowSQL(shadow string) string {
	return "DROP SCHEMA IF EXISTS " + pgx.Identifier{shadow}.Sanitize() + " CASCADE"
}

// likeSQL creates the shadow table as an empty copy of the live one, with
// or without its indexes (and the constraints they back).
func likeSQL(shadow, table string, indexes bool) string {
	excluding := ""
	if !indexes {
		excluding = " EXCLUDING INDEXES"
	}
	return fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING ALL%s)", qualified(shadow, table), qualified(liveSchema, table), excluding)
}

// indexDefinition is one index of a live table (rebuild-index-definitions):
// its name and definition, and the constraint it backs, if any.
type indexDefinition struct {
	name, index               string
	constraint, constraintDef *string
}

// createSQL creates the index on the shadow table of the same name: the
// constraint, which creates its index, for an index that backs one.
func (d indexDefinition) createSQL(shadow, table string) ([]string, error) {
	target := qualified(shadow, table)
	if d.constraint != nil && d.constraintDef != nil {
		stmts := []string{fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", target, pgx.Identifier{*d.constraint}.Sanitize(), *d.constraintDef)}
		if *d.constraint != d.name {
			stmts = append(stmts, renameIndexSQL(shadow, *d.constraint, d.name))
		}
		return stmts, nil
	}
	m := indexDef.FindStringSubmatch(d.index)
	if m == nil {
		return nil, fmt.Errorf("%s: unexpected index definition %q", table, d.index)
	}
	return []string{fmt.Sprintf("CREATE %sINDEX %s ON %s %s", m[1], pgx.Identifier{d.name}.Sanitize(), target, m[2])}, nil
}

// reloptionsSQL gives the shadow table the live one's storage parameters.
func reloptionsSQL(shadow, table string, opts []string) string {
	return fmt.Sprintf("ALTER TABLE %s SET (%s)", qualified(shadow, table), strings.Join(opts, ", "))
}

// renameIndexSQL renames an index of the shadow schema.
func renameIndexSQL(shadow, from, to string) string {
	return fmt.Sprintf("ALTER INDEX %s RENAME TO %s", qualified(shadow, from), pgx.Identifier{to}.Sanitize())
}

var triggerDef = regexp.MustCompile(`^(CREATE (?:CONSTRAINT )?TRIGGER \S+ .+? ON )\S+( .*)$`)

// triggerSQL is def (pg_get_triggerdef of a live table's trigger) on the
// shadow table of the same name.
func triggerSQL(shadow, table, def string) (string, error) {
	m := triggerDef.FindStringSubmatch(def)
	if m == nil {
		return "", fmt.Errorf("%s: unexpected trigger definition %q", table, def)
	}
	return m[1] + qualified(shadow, table) + m[2], nil
}

// fillSQL copies the recomputed rows (pg_temp.<table>) into the empty
// shadow table, with first_seen (when the table has it), orphaned_at and
// the carried columns of the live rows.
func (tb table) fillSQL(shadow string, firstSeen bool) string {
	names := append(append([]string{}, tb.keys...), tb.values...)
	vals := prefixed("e", names)
	from := qualified(tempSchema, tb.name) + " e"
	if tb.orphans {
		names = append(names, "orphaned_at")
		vals += ", CASE WHEN e.orphaned THEN coalesce(l.orphaned_at, now()) END"
	}
	if firstSeen {
		names = append(names, "first_seen")
		vals += ", coalesce(l.first_seen, now())"
	}
	if len(tb.carried) > 0 {
		names = append(names, tb.carried...)
		vals += ", " + prefixed("l", tb.carried)
	}
	if len(names) > len(tb.keys)+len(tb.values) {
		from += fmt.Sprintf(" LEFT JOIN %s l ON %s", qualified(liveSchema, tb.name), tb.on("l", "e"))
	}
	return fmt.Sprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s",
		qualified(shadow, tb.name), strings.Join(names, ", "), vals, from)
}

// carrySQL gives the shadow rows the first_seen (and, while still orphaned,
// the orphaned_at) of their live counterparts.
func (tb table) carrySQL(shadow string) string {
	set, cmpOld, cmpNew := "first_seen = l.first_seen", "x.first_seen", "l.first_seen"
	if tb.orphans {
		set += ", orphaned_at = CASE WHEN x.orphaned AND l.orphaned THEN l.orphaned_at ELSE x.orphaned_at END"
		cmpOld += ", x.orphaned_at"
		cmpNew += ", CASE WHEN x.orphaned AND l.orphaned THEN l.orphaned_at ELSE x.orphaned_at END"
	}
	return fmt.Sprintf("UPDATE %s x SET %s FROM %s l WHERE %s AND (%s) IS DISTINCT FROM (%s)",
		qualified(shadow, tb.name), set, qualified(liveSchema, tb.name), tb.on("x", "l"), cmpOld, cmpNew)
}

// analyzeSQL refreshes the statistics of the tables in schema.
func analyzeSQL(schema string, tables []table) string {
	names := make([]string, len(tables))
	for i, tb := range tables {
		names[i] = qualified(schema, tb.name)
	}
	return "ANALYZE " + strings.Join(names, ", ")
}

// sequenceSQL sets the identity sequence of the shadow table's column col
// past both its rows and the live table's sequence.
func sequenceSQL(shadow, table, col string) string {
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return fmt.Sprintf(`SELECT setval(pg_get_serial_sequence(%[1]s, %[3]s), greatest(
				coalesce(pg_sequence_last_value(pg_get_serial_sequence(%[2]s, %[3]s)::regclass), 0),
				(SELECT coalesce(max(%[4]s), 0) FROM %[5]s), 1))`,
		lit(qualified(shadow, table)), lit(qualified(liveSchema, table)), lit(col), pgx.Identifier{col}.Sanitize(), qualified(shadow, table))
}

// countSQL counts the rows of schema.table.
func countSQL(schema, table string) string { return "SELECT count(*) FROM " + qualified(schema, table) }

// liveNames are the live tables, schema-qualified (regclass literals).
func liveNames(tables []table) []string {
	live := make([]string, len(tables))
	for i, tb := range tables {
		live[i] = liveSchema + "." + tb.name
	}
	return live
}

// dropRetiredSQL drops the tables a swap moved out into retired, table by
// table without CASCADE (a dependent left behind keeps them, and says so),
// then the schema.
func dropRetiredSQL(retired string, tables []table) []string {
	var stmts []string
	for _, tb := range tables {
		stmts = append(stmts, "DROP TABLE IF EXISTS "+qualified(retired, tb.name))
	}
	return append(stmts, "DROP SCHEMA IF EXISTS "+pgx.Identifier{retired}.Sanitize())
}

type view struct{ name, def string }

// swapSQL moves the live tables into retired and the shadow ones in, and
// re-creates the views reading them; lockStmt is the index of the
// statement that takes the live tables.
func swapSQL(shadow, retired string, tables []table, views []view, lockWait time.Duration) (stmts []string, lockStmt int) {
	// Locks are taken in the order readers take them: a view before the
	// tables it reads (re-creating it as it is takes the view alone), then
	// the tables. Each wait is kept shorter than the server's deadlock
	// timeout, so that a reader locking tables in another order never
	// deadlocks with the swap: the swap gives up first and retries.
	stmts = []string{fmt.Sprintf("SET LOCAL lock_timeout = %d", lockWait.Milliseconds())}
	for _, v := range views {
		stmts = append(stmts, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS %s", v.name, v.def))
	}
	retiredQ, shadowQ := pgx.Identifier{retired}.Sanitize(), pgx.Identifier{shadow}.Sanitize()
	stmts = append(stmts,
		// All the live tables at once: readers wait here for the few
		// milliseconds the swap takes.
		"LOCK TABLE "+strings.Join(slices.Sorted(slices.Values(liveNames(tables))), ", ")+" IN ACCESS EXCLUSIVE MODE",
		"CREATE SCHEMA "+retiredQ,
	)
	lockStmt = len(views) + 1
	for _, tb := range tables {
		stmts = append(stmts,
			fmt.Sprintf("ALTER TABLE %s SET SCHEMA %s", qualified(liveSchema, tb.name), retiredQ),
			fmt.Sprintf("ALTER TABLE %s SET SCHEMA %s", qualified(shadow, tb.name), pgx.Identifier{liveSchema}.Sanitize()))
	}
	for _, v := range views {
		stmts = append(stmts, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS %s", v.name, v.def))
	}
	// The old tables are dropped after the commit (dropRetired), outside
	// the lock window; the shadow schema is empty now.
	return append(stmts, "DROP SCHEMA "+shadowQ), lockStmt
}
