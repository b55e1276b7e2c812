package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/projections"
)

// The ideal-delta floor of a delta between two states of the database, A
// and B: every derived table recomputed in each state (projections.Recompute,
// the audit's definitions) and the current state (packagesets, packages),
// snapshotted into the bench_floor schema; their exact differences, both
// ways, stored there too; and, measured, those differences written into the
// live tables as one bulk DELETE, UPDATE and INSERT per table from
// temporary tables, in one transaction. That is what the database side of
// the delta costs if nothing but the rows that truly change were written.
// It leaves out what a delta must do besides: find what changed (the diff),
// append the changelog and project_history, record the batch.
//
// The same differences give the amplification of the delta path: derived
// rows it re-derived (read and compared, as its projections count them)
// ÷ derived rows that changed.

// Directions of the floor.
const (
	floorAB = "ab" // A → B
	floorBA = "ba" // B → A
)

// State tables the floor writes besides the derived ones: the current state
// a delta rewrites.
var floorStateTables = []string{"packagesets", "packages"}

// floorForward are wall-clock columns that only move forward (a
// repository's last update): the floor, like the delta path, never moves
// them back, so that writing the differences back to A leaves the time of
// the last batch.
var floorForward = map[string]bool{"last_updated": true}

// floorTable is one table the floor writes.
type floorTable struct {
	name   string
	keys   []string
	values []string // the snapshot's other columns
	// orphans: "orphaned" among the values stands for the live table's
	// orphaned_at (its generated column).
	orphans bool
	derived bool
	// counts: per direction, rows to delete, update, insert.
	counts map[string][3]int64
}

func (t *floorTable) changed() int64 {
	c := t.counts[floorAB]
	return c[0] + c[1] + c[2]
}

// floor is the ideal delta between the snapshots "a" and "b".
type floor struct {
	pool   *pgxpool.Pool
	tables []*floorTable
}

// TableDelta is one derived table's share of a delta: the rows that
// changed (deleted, updated, inserted: the floor's differences), and what
// the delta path did, as its projections count it (projections.PageStats,
// the mean of the measured runs): rows re-derived (read and compared) and
// rows written.
type TableDelta struct {
	Changed   int64 `json:"changed"`
	Rederived int64 `json:"rederived"`
	Written   int64 `json:"written"`
}

// Floor is the ideal-delta floor and the amplification of a delta case.
type Floor struct {
	// Seconds is the median time of writing the differences (both
	// directions alternating, as the delta runs do).
	Seconds float64   `json:"seconds"`
	Samples []float64 `json:"samples"`
	// Changed, Rederived and Written sum the derived tables; StateRows
	// counts the rows of packagesets and packages the floor writes besides.
	Changed   int64                 `json:"changed"`
	Rederived int64                 `json:"rederived"`
	Written   int64                 `json:"written"`
	StateRows int64                 `json:"state_rows"`
	Tables    map[string]TableDelta `json:"tables"`
	// StatementSeconds is the time of the delta path's statements per
	// derived table (the scope's under their queries' names), the mean of
	// a run: each table's share of the projections' database time.
	StatementSeconds map[string]float64 `json:"statement_seconds,omitempty"`
}

// Amplification is Rederived ÷ Changed (NaN when nothing changed).
func (f *Floor) Amplification() float64 {
	if f == nil || f.Changed == 0 {
		return math.NaN()
	}
	return float64(f.Rederived) / float64(f.Changed)
}

// snapshotFloor recomputes every derived table and copies it, with the
// current state, into bench_floor.<label>_<table>, from one snapshot.
func snapshotFloor(ctx context.Context, pool *pgxpool.Pool, label string) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if err := projections.Recompute(ctx, tx); err != nil {
		return err
	}
	derived, err := recomputedTables(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, query("floor-create")); err != nil {
		return err
	}
	copyOf := func(name, from string) error {
		snap := "bench_floor." + label + "_" + name
		_, err := tx.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s AS SELECT * FROM %[2]s.%[3]s", snap, from, name))
		return err
	}
	for _, name := range derived {
		if err := copyOf(name, "pg_temp"); err != nil {
			return fmt.Errorf("snapshot of %s: %w", name, err)
		}
	}
	for _, name := range floorStateTables {
		if err := copyOf(name, "public"); err != nil {
			return fmt.Errorf("snapshot of %s: %w", name, err)
		}
	}
	return tx.Commit(ctx)
}

// recomputedTables lists the derived tables projections.Recompute left in
// pg_temp, in derivation order.
func recomputedTables(ctx context.Context, tx pgx.Tx) ([]string, error) {
	all := projections.Tables()
	var names []string
	for _, p := range projections.Names() {
		names = append(names, all[p]...)
	}
	rows, err := tx.Query(ctx, query("floor-recomputed"), names)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// newFloor compares the snapshots "a" and "b": it stores their differences
// both ways in bench_floor and counts them, and counts the rows the delta
// path re-derives.
func newFloor(ctx context.Context, pool *pgxpool.Pool) (*floor, error) {
	f := &floor{pool: pool}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	derived, err := tx.Query(ctx, `SELECT substr(tablename, 3) FROM pg_tables
	    WHERE schemaname = 'bench_floor' AND tablename LIKE 'a\_%' ORDER BY tablename`)
	if err != nil {
		return nil, err
	}
	snapped, err := pgx.CollectRows(derived, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	order := append([]string{}, floorStateTables...)
	for _, p := range projections.Names() {
		order = append(order, projections.Tables()[p]...)
	}
	for _, name := range order {
		if !slices.Contains(snapped, name) {
			continue
		}
		t := &floorTable{name: name, derived: !slices.Contains(floorStateTables, name), counts: map[string][3]int64{}}
		if t.keys, err = columnList(ctx, tx, "floor-keys", "public."+name); err != nil {
			return nil, err
		}
		cols, err := columnList(ctx, tx, "floor-columns", "bench_floor.a_"+name)
		if err != nil {
			return nil, err
		}
		if len(t.keys) == 0 || len(cols) == 0 {
			return nil, fmt.Errorf("floor: %s has no primary key or no columns", name)
		}
		var generated []string
		if !t.derived {
			// The state tables' snapshots copy their generated columns
			// (packagesets.bucket) as plain ones; PostgreSQL computes them.
			if generated, err = columnList(ctx, tx, "floor-generated", "public."+name); err != nil {
				return nil, err
			}
		}
		for _, c := range cols {
			if !slices.Contains(t.keys, c) && !slices.Contains(generated, c) {
				t.values = append(t.values, c)
			}
		}
		t.orphans = t.derived && slices.Contains(t.values, "orphaned")
		f.tables = append(f.tables, t)
	}
	for _, t := range f.tables {
		if err := t.diff(ctx, tx); err != nil {
			return nil, fmt.Errorf("floor: %s: %w", t.name, err)
		}
	}
	return f, tx.Commit(ctx)
}

func columnList(ctx context.Context, tx pgx.Tx, q, rel string) ([]string, error) {
	rows, err := tx.Query(ctx, query(q), rel)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// on joins aliases x and y on the table's keys.
func (t *floorTable) on(x, y string) string {
	parts := make([]string, len(t.keys))
	for i, k := range t.keys {
		parts[i] = fmt.Sprintf("%s.%s = %s.%s", x, k, y, k)
	}
	return strings.Join(parts, " AND ")
}

// diff stores the rows to delete (keys), update and insert (whole rows)
// from each snapshot to the other, and counts them.
func (t *floorTable) diff(ctx context.Context, tx pgx.Tx) error {
	for _, dir := range []string{floorAB, floorBA} {
		from, to := "bench_floor."+dir[:1]+"_"+t.name, "bench_floor."+dir[1:]+"_"+t.name
		d := func(kind string) string { return fmt.Sprintf("bench_floor.%s_%s_%s", dir, kind, t.name) }
		stmts := []string{
			fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s AS SELECT %[2]s FROM %[3]s f WHERE NOT EXISTS (SELECT 1 FROM %[4]s x WHERE %[5]s)",
				d("del"), prefixedCols("f", t.keys), from, to, t.on("x", "f")),
			fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s AS SELECT x.* FROM %[2]s x JOIN %[3]s f ON %[4]s WHERE (%[5]s) IS DISTINCT FROM (%[6]s)",
				d("upd"), to, from, t.on("x", "f"), prefixedCols("x", t.values), prefixedCols("f", t.values)),
			fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s AS SELECT x.* FROM %[2]s x WHERE NOT EXISTS (SELECT 1 FROM %[3]s f WHERE %[4]s)",
				d("ins"), to, from, t.on("x", "f")),
		}
		if len(t.values) == 0 {
			stmts[1] = fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s AS SELECT * FROM %[2]s LIMIT 0", d("upd"), to)
		}
		var c [3]int64
		for i, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+d([]string{"del", "upd", "ins"}[i])).Scan(&c[i]); err != nil {
				return err
			}
		}
		t.counts[dir] = c
	}
	return nil
}

func prefixedCols(alias string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = alias + "." + c
	}
	return strings.Join(out, ", ")
}

// apply writes the differences of direction dir into the live tables from
// temporary tables, in one transaction, and returns the time from the
// first write to the commit (the temporary tables are filled before).
func (f *floor) apply(ctx context.Context, dir string) (time.Duration, error) {
	conn, err := f.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	var temps, writes []string
	for _, t := range f.tables {
		c := t.counts[dir]
		for i, kind := range []string{"del", "upd", "ins"} {
			if c[i] == 0 {
				continue // an ideal writer writes nothing for nothing
			}
			tmp := "floor_" + kind + "_" + t.name
			temps = append(temps, tmp)
			if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT * FROM bench_floor.%s_%s_%s",
				tmp, dir, kind, t.name)); err != nil {
				return 0, err
			}
			writes = append(writes, t.write(kind, tmp))
		}
	}
	if len(temps) > 0 {
		if _, err := tx.Exec(ctx, "ANALYZE "+strings.Join(temps, ", ")); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	for _, s := range writes {
		if _, err := tx.Exec(ctx, s); err != nil {
			return 0, fmt.Errorf("floor: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// write is the statement writing one kind of difference from tmp.
func (t *floorTable) write(kind, tmp string) string {
	switch kind {
	case "del":
		return fmt.Sprintf("DELETE FROM public.%s x USING %s d WHERE %s", t.name, tmp, t.on("x", "d"))
	case "upd":
		set := make([]string, 0, len(t.values))
		for _, v := range t.values {
			switch {
			case t.orphans && v == "orphaned":
				set = append(set, "orphaned_at = CASE WHEN d.orphaned THEN coalesce(x.orphaned_at, now()) END")
			case floorForward[v]:
				set = append(set, fmt.Sprintf("%s = greatest(x.%s, d.%s)", v, v, v))
			default:
				set = append(set, fmt.Sprintf("%s = d.%s", v, v))
			}
		}
		return fmt.Sprintf("UPDATE public.%s x SET %s FROM %s d WHERE %s", t.name, strings.Join(set, ", "), tmp, t.on("x", "d"))
	default:
		cols, vals := append([]string{}, t.keys...), prefixedCols("d", t.keys)
		for _, v := range t.values {
			if t.orphans && v == "orphaned" {
				cols = append(cols, "orphaned_at")
				vals += ", CASE WHEN d.orphaned THEN now() END"
			} else {
				cols = append(cols, v)
				vals += ", d." + v
			}
		}
		return fmt.Sprintf("INSERT INTO public.%s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s d",
			t.name, strings.Join(cols, ", "), vals, tmp)
	}
}

// summary is the floor's counts, without the timing.
func (f *floor) summary() *Floor {
	out := &Floor{Tables: map[string]TableDelta{}}
	for _, t := range f.tables {
		if !t.derived {
			out.StateRows += t.changed()
			continue
		}
		out.Tables[t.name] = TableDelta{Changed: t.changed()}
		out.Changed += t.changed()
	}
	return out
}

// measured adds what the delta path did in runs (their projections' page
// statistics), as the mean per run, to the floor's tables.
func (fl *Floor) measured(runs []map[string]projections.TableStats) {
	if len(runs) == 0 {
		return
	}
	n := int64(len(runs))
	fl.StatementSeconds = map[string]float64{}
	for _, r := range runs {
		for name, t := range r {
			fl.StatementSeconds[name] += t.Seconds / float64(n)
		}
	}
	for name, t := range fl.Tables {
		var sum projections.TableStats
		for _, r := range runs {
			sum.Rederived += r[name].Rederived
			sum.Changed += r[name].Changed
		}
		t.Rederived, t.Written = sum.Rederived/n, sum.Changed/n
		fl.Tables[name] = t
		fl.Rederived += t.Rederived
		fl.Written += t.Written
	}
}
