package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

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
		HistoryName: append(names([]table{historyVersions}), "project_history", projectRedirects.name),
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
		if err := timedExec(ctx, tx, tb.name, tb.recomputeSQL(sch)); err != nil {
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
	counts, samples := tb.compareSQL()
	if err := tx.QueryRow(ctx, counts).Scan(&d.Compared, &d.Missing, &d.Extra, &d.Differing); err != nil {
		return d, fmt.Errorf("comparing %s: %w", tb.name, err)
	}
	if d.Clean() {
		return d, nil
	}
	var js []byte
	if err := tx.QueryRow(ctx, samples).Scan(&js); err != nil {
		return d, fmt.Errorf("comparing %s: %w", tb.name, err)
	}
	if err := json.Unmarshal(js, &d.Samples); err != nil {
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
			values: []string{"repo_id", "batch_id", "old_version", "new_version", "direction"}},
		table{name: projectRedirects.name, keys: projectRedirects.keys, values: []string{"repo_id", "batch_id"}})
	for _, tb := range all {
		var d string
		if err := q.QueryRow(ctx, tb.digestSQL()).Scan(&d); err != nil {
			return nil, fmt.Errorf("digest of %s: %w", tb.name, err)
		}
		out[tb.name] = d
	}
	return out, nil
}
