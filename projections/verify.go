package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	dlsql "github.com/deltalog/deltalog/sql"
)

// historyVersions is the history projection's recomputable state.
var historyVersions = table{
	name: "history_versions", keys: []string{"project", "repo_id", "version"},
	values: []string{"version_key", "count"}, expected: "expect-history-versions", scope: "true",
}

// Tables lists every derived table Verify checks, in derivation order, by
// projection.
func Tables() map[string][]string {
	names := func(ts ...[]table) []string {
		var out []string
		for _, t := range ts {
			for _, tb := range t {
				out = append(out, tb.name)
			}
		}
		return out
	}
	return map[string][]string{
		CatalogName: names(catalogLevel1, catalogLevel2, catalogTotals),
		HistoryName: append(names([]table{historyVersions}), "project_history"),
	}
}

// TableDiff is the comparison of one derived table with its recomputation.
type TableDiff struct {
	Table     string `json:"table"`
	Compared  int    `json:"compared"`
	Missing   int    `json:"missing"`
	Extra     int    `json:"extra"`
	Differing int    `json:"differing"`
	// Samples show a few differences: the row expected (null when extra)
	// and the row found (null when missing).
	Samples []DiffSample `json:"samples,omitempty"`
}

// Clean reports whether the table matched.
func (d TableDiff) Clean() bool { return d.Missing+d.Extra+d.Differing == 0 }

// DiffSample is one differing row.
type DiffSample struct {
	Key      json.RawMessage `json:"key"`
	Expected json.RawMessage `json:"expected"`
	Actual   json.RawMessage `json:"actual"`
}

// MaxSamples bounds the samples per table.
const MaxSamples = 5

// Verify recomputes every derived table of the named projections (all when
// none) from the current state and compares it with the table. It works in
// tx, creating temporary tables only: run it in a REPEATABLE READ
// transaction and roll it back, and it reads one consistent snapshot
// without blocking writers.
//
// The recomputation uses the very definitions the delta path uses, with
// every key in scope. Each level is computed from the expected rows of the
// levels below it (temporary tables of the same names, which the
// definitions read there: fullSchemas), so a wrong row is reported at its own level
// only, not again in every total above it.
func Verify(ctx context.Context, tx pgx.Tx, only ...string) ([]TableDiff, error) {
	tables, err := recompute(ctx, tx, only...)
	if err != nil {
		return nil, err
	}
	out := make([]TableDiff, 0, len(tables))
	for _, tb := range tables {
		d, err := tb.compare(ctx, tx)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Recompute computes every derived table of the named projections (all when
// none) from scratch, into temporary tables of the same names (pg_temp)
// that live until tx ends: the full path, which Verify compares with the
// live tables.
func Recompute(ctx context.Context, tx pgx.Tx, only ...string) error {
	_, err := recompute(ctx, tx, only...)
	return err
}

func recompute(ctx context.Context, tx pgx.Tx, only ...string) ([]table, error) {
	want := func(name string) bool { return len(only) == 0 || slices.Contains(only, name) }
	var out []table
	sch := fullSchemas()
	build := func(tb table) error {
		if err := timedExec(ctx, tx, tb.name, fmt.Sprintf("CREATE TEMP TABLE %s ON COMMIT DROP AS %s", tb.name, dlsql.Render(tb.expected, sch))); err != nil {
			return fmt.Errorf("recomputing %w", err)
		}
		out = append(out, tb)
		return nil
	}
	if want(CatalogName) {
		for _, q := range []string{"catalog-scope", "catalog-scope-all", "catalog-newest"} {
			if err := timedExec(ctx, tx, q, dlsql.Render(q, sch)); err != nil {
				return nil, err
			}
		}
		for _, level := range [][]table{catalogLevel1, catalogLevel2, catalogTotals} {
			for _, tb := range level {
				if err := build(tb); err != nil {
					return nil, err
				}
			}
		}
	}
	if want(HistoryName) {
		if err := build(historyVersions); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// compare compares the recomputed rows with the live table, with a full
// outer join on the keys.
func (tb table) compare(ctx context.Context, tx pgx.Tx) (TableDiff, error) {
	d := TableDiff{Table: tb.name}
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
	// Count in one pass without building any JSON (the common case: a
	// clean table); render the few sample rows only when something differs.
	join := fmt.Sprintf("%s e FULL JOIN %s a ON %s", qualified(tempSchema, tb.name), qualified(liveSchema, tb.name), tb.on("e", "a"))
	differing := fmt.Sprintf("(e.%[1]s IS NOT NULL AND a.%[1]s IS NOT NULL AND (%[2]s) IS DISTINCT FROM (%[3]s))",
		k0, prefixed("e", vals), prefixed("a", vals))
	q := fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE a.%[1]s IS NULL), count(*) FILTER (WHERE e.%[1]s IS NULL),
       count(*) FILTER (WHERE %[2]s) FROM %[3]s`, k0, differing, join)
	if err := tx.QueryRow(ctx, q).Scan(&d.Compared, &d.Missing, &d.Extra, &d.Differing); err != nil {
		return d, fmt.Errorf("comparing %s: %w", tb.name, err)
	}
	if d.Clean() {
		return d, nil
	}
	q = fmt.Sprintf(`SELECT coalesce(jsonb_agg(s), '[]') FROM (
    SELECT jsonb_build_object(%[1]s) AS key, %[2]s AS expected, %[3]s AS actual
    FROM %[4]s
    WHERE a.%[5]s IS NULL OR e.%[5]s IS NULL OR %[6]s
    ORDER BY 1 LIMIT %[7]d) s`,
		strings.Join(keyObj, ", "), rowObj("e"), rowObj("a"), join, k0, differing, MaxSamples)
	var samples []byte
	if err := tx.QueryRow(ctx, q).Scan(&samples); err != nil {
		return d, fmt.Errorf("comparing %s: %w", tb.name, err)
	}
	if err := json.Unmarshal(samples, &d.Samples); err != nil {
		return d, err
	}
	return d, nil
}

// Digest summarizes the content of every derived table — keys and derived
// values, not wall-clock columns such as first_seen — as an md5 per table.
// Two databases that applied the same changelog have equal digests whatever
// crashes, restarts or rebuilds happened on the way.
func Digest(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (map[string]string, error) {
	out := map[string]string{}
	all := append(append(append(append([]table{}, catalogLevel1...), catalogLevel2...), catalogTotals...), historyVersions,
		table{name: "project_history", keys: []string{"seq", "kind", "project"},
			values: []string{"repo_id", "batch_id", "old_version", "new_version"}})
	// Surrogate ids come from sequences, which a rolled back transaction
	// advances too: compare by the natural keys they stand for.
	natural := map[string]string{
		"maintainer_id": "(SELECT x.email FROM public.maintainers x WHERE x.id = t.maintainer_id)",
		"link_id":       "(SELECT x.url FROM public.links x WHERE x.id = t.link_id)",
	}
	expr := func(tb table, cols []string) []string {
		out := make([]string, 0, len(cols))
		for _, c := range cols {
			switch {
			case natural[c] != "":
				out = append(out, natural[c])
			case c == "id" && (tb.name == "maintainers" || tb.name == "links"):
				// identified by email / url, among the values
			case c == "last_updated":
				// a wall-clock time
			default:
				out = append(out, "t."+c)
			}
		}
		return out
	}
	for _, tb := range all {
		cols := append(append([]string{}, tb.keys...), tb.values...)
		if tb.orphans {
			cols = append(cols, "orphaned")
		}
		sel := expr(tb, cols)
		q2 := fmt.Sprintf("SELECT count(*) || ' ' || coalesce(md5(string_agg(row(%s)::text, E'\\n' ORDER BY row(%s)::text)), '') FROM %s t",
			strings.Join(sel, ", "), strings.Join(sel, ", "), qualified(liveSchema, tb.name))
		var d string
		if err := q.QueryRow(ctx, q2).Scan(&d); err != nil {
			return nil, fmt.Errorf("digest of %s: %w", tb.name, err)
		}
		out[tb.name] = d
	}
	return out, nil
}
