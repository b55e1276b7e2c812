package projections

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deltalog/deltalog/changelog"
	dlsql "github.com/deltalog/deltalog/sql"
)

// createShadow creates the shadow schema afresh, with an empty copy of each
// live table: same columns, defaults, identities, generated columns,
// constraints and indexes, the indexes under the live names.
func (b *rebuilder) createShadow(ctx context.Context) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	for _, s := range []string{"DROP SCHEMA IF EXISTS " + b.schema + " CASCADE", "CREATE SCHEMA " + b.schema} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	for _, tb := range b.tables {
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE %s.%s (LIKE public.%s INCLUDING ALL)", b.schema, tb.name, tb.name)); err != nil {
			return err
		}
		// LIKE copies no storage parameters (fillfactor): copy them.
		var opts []string
		if err := tx.QueryRow(ctx, dlsql.Query("rebuild-reloptions"), "public."+tb.name).Scan(&opts); err != nil {
			return err
		}
		if len(opts) > 0 {
			if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s SET (%s)", b.schema, tb.name, strings.Join(opts, ", "))); err != nil {
				return err
			}
		}
		if err := b.alignIndexNames(ctx, tx, tb.name); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

var indexDef = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX \S+ ON \S+ (USING .*)$`)

// alignIndexNames renames the shadow table's indexes (named by LIKE) to the
// names of the live table's indexes with the same definition, so that the
// swapped-in table keeps the names the migrations gave.
func (b *rebuilder) alignIndexNames(ctx context.Context, tx pgx.Tx, table string) error {
	read := func(rel string) (map[string]string, error) {
		rows, err := tx.Query(ctx, dlsql.Query("rebuild-indexes"), rel)
		if err != nil {
			return nil, err
		}
		byDef := map[string]string{}
		var name, def string
		_, err = pgx.ForEachRow(rows, []any{&name, &def}, func() error {
			m := indexDef.FindStringSubmatch(def)
			if m == nil {
				return fmt.Errorf("unexpected index definition %q", def)
			}
			byDef[m[1]+m[2]] = name
			return nil
		})
		return byDef, err
	}
	live, err := read("public." + table)
	if err != nil {
		return err
	}
	shadow, err := read(b.raw + "." + table)
	if err != nil {
		return err
	}
	for def, name := range shadow {
		want, ok := live[def]
		if !ok {
			return fmt.Errorf("%s: index %s has no live counterpart", table, name)
		}
		if want != name {
			if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER INDEX %s.%s RENAME TO %s", b.schema,
				pgx.Identifier{name}.Sanitize(), pgx.Identifier{want}.Sanitize())); err != nil {
				return err
			}
		}
	}
	if len(shadow) != len(live) {
		return fmt.Errorf("%s: %d indexes, the live table has %d", table, len(shadow), len(live))
	}
	return nil
}

// fill copies the recomputed rows (pg_temp.<table>) into the empty shadow
// table, keeping first_seen and orphaned_at of the live rows.
func (b *rebuilder) fill(ctx context.Context, tx pgx.Tx, tb table) error {
	cols, err := b.columns(ctx, tx, tb.name)
	if err != nil {
		return err
	}
	names := append(append([]string{}, tb.keys...), tb.values...)
	vals := prefixed("e", names)
	from := "pg_temp." + tb.name + " e"
	if tb.orphans {
		names = append(names, "orphaned_at")
		vals += ", CASE WHEN e.orphaned THEN coalesce(l.orphaned_at, now()) END"
	}
	if _, ok := cols["first_seen"]; ok {
		names = append(names, "first_seen")
		vals += ", coalesce(l.first_seen, now())"
	}
	if len(names) > len(tb.keys)+len(tb.values) {
		from += fmt.Sprintf(" LEFT JOIN public.%s l ON %s", tb.name, tb.on("l", "e"))
	}
	q := fmt.Sprintf("INSERT INTO %s.%s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s",
		b.schema, tb.name, strings.Join(names, ", "), vals, from)
	return timedExec(ctx, tx, "rebuild "+tb.name, q)
}

// columns maps a live table's columns to whether each is an identity.
func (b *rebuilder) columns(ctx context.Context, q changelog.Querier, table string) (map[string]bool, error) {
	rows, err := q.Query(ctx, dlsql.Query("rebuild-columns"), "public."+table)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	var name string
	var identity bool
	_, err = pgx.ForEachRow(rows, []any{&name, &identity}, func() error {
		out[name] = identity
		return nil
	})
	return out, err
}

// carryTimestamps gives the rows of a replay the first_seen (and, while
// still orphaned, the orphaned_at) of their live counterparts: wall-clock
// columns a replay cannot know.
func (b *rebuilder) carryTimestamps(ctx context.Context) error {
	for _, tb := range b.tables {
		cols, err := b.columns(ctx, b.pool, tb.name)
		if err != nil {
			return err
		}
		if _, ok := cols["first_seen"]; !ok {
			continue
		}
		set, cmpOld, cmpNew := "first_seen = l.first_seen", "x.first_seen", "l.first_seen"
		if tb.orphans {
			set += ", orphaned_at = CASE WHEN x.orphaned AND l.orphaned THEN l.orphaned_at ELSE x.orphaned_at END"
			cmpOld += ", x.orphaned_at"
			cmpNew += ", CASE WHEN x.orphaned AND l.orphaned THEN l.orphaned_at ELSE x.orphaned_at END"
		}
		q := fmt.Sprintf("UPDATE %s.%s x SET %s FROM public.%s l WHERE %s AND (%s) IS DISTINCT FROM (%s)",
			b.schema, tb.name, set, tb.name, tb.on("x", "l"), cmpOld, cmpNew)
		if _, err := b.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", tb.name, err)
		}
	}
	return b.analyze(ctx)
}

func (b *rebuilder) analyze(ctx context.Context) error {
	names := make([]string, len(b.tables))
	for i, tb := range b.tables {
		names[i] = b.schema + "." + tb.name
	}
	_, err := b.pool.Exec(ctx, "ANALYZE "+strings.Join(names, ", "))
	return err
}

// syncSequences sets the shadow tables' identity sequences past both their
// own rows (copied with their ids) and the live sequences: new rows never
// collide with copied ones, and ids continue after the swap.
func (b *rebuilder) syncSequences(ctx context.Context, q interface {
	changelog.Querier
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}) error {
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	for _, tb := range b.tables {
		cols, err := b.columns(ctx, q, tb.name)
		if err != nil {
			return err
		}
		for col, identity := range cols {
			if !identity {
				continue
			}
			sql := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence(%[1]s, %[3]s), greatest(
				coalesce(pg_sequence_last_value(pg_get_serial_sequence(%[2]s, %[3]s)::regclass), 0),
				(SELECT coalesce(max(%[4]s), 0) FROM %[5]s.%[6]s), 1))`,
				lit(b.raw+"."+tb.name), lit("public."+tb.name), lit(col), pgx.Identifier{col}.Sanitize(), b.schema, tb.name)
			if _, err := q.Exec(ctx, sql); err != nil {
				return fmt.Errorf("identity of %s: %w", tb.name, err)
			}
		}
	}
	return nil
}

type view struct{ name, def string }

// dependentViews returns the views reading the live tables, with their
// definitions written with fully qualified names (read with an empty
// search_path): re-created after the swap, they bind to the new tables of
// those names, never to a temporary table of the same name.
func (b *rebuilder) dependentViews(ctx context.Context, tx pgx.Tx) ([]view, error) {
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = pg_catalog"); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, dlsql.Query("rebuild-dependent-views"), b.liveNames())
	if err != nil {
		return nil, err
	}
	var views []view
	var v view
	if _, err := pgx.ForEachRow(rows, []any{&v.name, &v.def}, func() error {
		views = append(views, v)
		return nil
	}); err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, "SET LOCAL search_path TO DEFAULT")
	return views, err
}

func (b *rebuilder) liveNames() []string {
	live := make([]string, len(b.tables))
	for i, tb := range b.tables {
		live[i] = "public." + tb.name
	}
	return live
}

func (b *rebuilder) retired() string { return pgx.Identifier{"deltalog_retired_" + b.name}.Sanitize() }

// dropRetired drops the tables a swap moved out, table by table without
// CASCADE (a dependent left behind keeps them, and says so), then their
// schema.
func (b *rebuilder) dropRetired(ctx context.Context) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	for _, tb := range b.tables {
		if _, err := tx.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s", b.retired(), tb.name)); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+b.retired()); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// swapIn moves the live tables out and the shadow ones in, in tx, and
// re-creates the views reading them.
func (b *rebuilder) swapIn(ctx context.Context, tx pgx.Tx, views []view) error {
	start := time.Now()
	live := b.liveNames()
	if err := b.syncSequences(ctx, tx); err != nil {
		return err
	}
	var n int64
	for _, tb := range b.tables {
		var c int64
		if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s.%s", b.schema, tb.name)).Scan(&c); err != nil {
			return err
		}
		n += c
	}
	b.res.Rows = n
	sorted := slices.Sorted(slices.Values(live))
	retired := b.retired()
	// Locks are taken in the order readers take them: a view before the
	// tables it reads (re-creating it as it is takes the view alone), then
	// the tables. Each wait is kept shorter than the server's deadlock
	// timeout, so that a reader locking tables in another order never
	// deadlocks with the swap: the swap gives up first and retries.
	lockWait := min(b.opts.LockTimeout, 500*time.Millisecond)
	stmts := []string{fmt.Sprintf("SET LOCAL lock_timeout = %d", lockWait.Milliseconds())}
	for _, v := range views {
		stmts = append(stmts, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS %s", v.name, v.def))
	}
	stmts = append(stmts,
		// All the live tables at once: readers wait here for the few
		// milliseconds the swap takes.
		"LOCK TABLE "+strings.Join(sorted, ", ")+" IN ACCESS EXCLUSIVE MODE",
		"CREATE SCHEMA "+retired,
	)
	lockStmt := len(views) + 1
	for _, tb := range b.tables {
		stmts = append(stmts,
			fmt.Sprintf("ALTER TABLE public.%s SET SCHEMA %s", tb.name, retired),
			fmt.Sprintf("ALTER TABLE %s.%s SET SCHEMA public", b.schema, tb.name))
	}
	for _, v := range views {
		stmts = append(stmts, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS %s", v.name, v.def))
	}
	// The old tables are dropped after the commit (dropWithheld), outside
	// the lock window; the shadow schema is empty now.
	stmts = append(stmts, "DROP SCHEMA "+b.schema)
	for i, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
		if i == lockStmt {
			b.lockedAt = time.Now()
		}
	}
	b.opts.Logger.DebugContext(ctx, "swapped", "projection", b.name, "ms", time.Since(start).Milliseconds())
	return nil
}
