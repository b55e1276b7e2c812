package projections

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	dlsql "github.com/deltalog/deltalog/sql"
)

// applyExpected makes schema.<table> hold exactly the rows of pg_temp.<table>
// (the recomputation): rows not expected are deleted, differing rows
// updated, missing rows inserted — any other row is not touched. Orphan
// timestamps follow the derived "orphaned" flag as on the delta path.
func (tb table) applyExpected(ctx context.Context, tx pgx.Tx, schema string) (changelog.Repaired, error) {
	var rep changelog.Repaired
	target := qualified(schema, tb.name)
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
	stmts := []struct {
		sql string
		n   *int64
	}{
		{fmt.Sprintf("DELETE FROM %s a WHERE NOT EXISTS (SELECT 1 FROM pg_temp.%s e WHERE %s)",
			target, tb.name, tb.on("e", "a")), &rep.Deleted},
		{fmt.Sprintf("UPDATE %s a SET %s FROM pg_temp.%s e WHERE %s AND (%s) IS DISTINCT FROM (%s)",
			target, strings.Join(set, ", "), tb.name, tb.on("a", "e"), oldVals, newVals), &rep.Updated},
		{fmt.Sprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM pg_temp.%s e WHERE NOT EXISTS (SELECT 1 FROM %s a WHERE %s)",
			target, insCols, insVals, tb.name, target, tb.on("a", "e")), &rep.Inserted},
	}
	for _, s := range stmts {
		tag, err := tx.Exec(ctx, s.sql)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", tb.name, err)
		}
		*s.n = tag.RowsAffected()
	}
	return rep, nil
}

// repair runs the groups of the failed checks again under locks, in one
// transaction, and rewrites what they find wrong.
func repair(ctx context.Context, pool *pgxpool.Pool, opts AuditOpts, failed []Check) ([]Check, []string, error) {
	var state bool
	var catalog, history, historyReplay bool
	for _, c := range failed {
		switch {
		case c.Name == changelog.CheckPackages || c.Name == changelog.CheckPackagesets || c.Name == changelog.CheckRepos:
			state = true
		case c.Name == CheckProjectHistory:
			history, historyReplay = true, true
		case strings.HasPrefix(c.Name, CatalogName+"."):
			catalog = true
		case strings.HasPrefix(c.Name, HistoryName+"."):
			history = true
		}
	}
	var out []Check
	var notes []string
	for _, c := range failed {
		if strings.HasPrefix(c.Name, "changelog.") {
			c.Note = joinNote(c.Note, "the changelog is append-only: nothing is rewritten for this check")
			out = append(out, c)
		}
	}
	if !state && !catalog && !history {
		return out, notes, nil
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("repair: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, auditWorkMem); err != nil {
		return nil, nil, fmt.Errorf("repair: %w", err)
	}
	if err := changelog.LockForRepair(ctx, tx); err != nil {
		return nil, nil, fmt.Errorf("repair: %w", err)
	}
	head, err := changelog.Head(ctx, tx)
	if err != nil {
		return nil, nil, fmt.Errorf("repair: %w", err)
	}
	// Lock the checkpoints (workers wait) and repair only what is caught up.
	var names []string
	for _, name := range Names { // in name order, like every other taker
		if (name == CatalogName && !catalog) || (name == HistoryName && !history) {
			continue
		}
		cp, err := lockExistingCheckpoint(ctx, tx, name)
		if err != nil {
			return nil, nil, fmt.Errorf("repair: %w", err)
		}
		if cp < head {
			notes = append(notes, fmt.Sprintf("%s not repaired: it lags %d events behind the head", name, head-cp))
			continue
		}
		names = append(names, name)
	}

	if state {
		checks, err := changelog.RepairState(ctx, tx, changelog.AuditParams{MaxSamples: MaxSamples})
		if err != nil {
			return nil, nil, fmt.Errorf("repair: %w", err)
		}
		for _, c := range checks {
			if !c.Clean() && !strings.HasPrefix(c.Name, "changelog.") {
				out = append(out, c)
			}
		}
	}
	if slices.Contains(names, CatalogName) {
		c, fix, err := checkIdentities(ctx, tx, head)
		if err != nil {
			return nil, nil, fmt.Errorf("repair: %w", err)
		}
		if !c.Clean() {
			c.Repaired = &changelog.Repaired{}
			if err := tx.QueryRow(ctx, dlsql.Query("repair-identities"), fix.emails, fix.urls, fix.maintIDs, fix.urlIDs).
				Scan(&c.Repaired.Deleted, &c.Repaired.Inserted); err != nil {
				return nil, nil, fmt.Errorf("repair identities: %w", err)
			}
			if c.Repaired.Inserted > 0 {
				notes = append(notes, fmt.Sprintf("re-created %d maintainer or link rows under new ids: restart running "+
					"catalog workers, whose id caches may hold the old ones", c.Repaired.Inserted))
			}
			out = append(out, c)
		}
	}
	if slices.Contains(names, HistoryName) && historyReplay {
		c, err := replayHistory(ctx, tx, head, opts.PageSize)
		if err != nil {
			return nil, nil, fmt.Errorf("repair: %w", err)
		}
		if !c.Clean() {
			tag, err := tx.Exec(ctx, dlsql.Query("project-history-duplicates"))
			if err != nil {
				return nil, nil, fmt.Errorf("repair project_history: %w", err)
			}
			rep, err := projectHistory.applyExpected(ctx, tx, liveSchema)
			if err != nil {
				return nil, nil, fmt.Errorf("repair: %w", err)
			}
			rep.Deleted += tag.RowsAffected()
			c.Repaired = &rep
			out = append(out, c)
		}
	}
	for _, name := range names {
		tables, err := recompute(ctx, tx, name)
		if err != nil {
			return nil, nil, fmt.Errorf("repair %s: %w", name, err)
		}
		for _, tb := range tables {
			d, err := tb.compare(ctx, tx)
			if err != nil {
				return nil, nil, fmt.Errorf("repair %s: %w", name, err)
			}
			if d.Clean() {
				continue
			}
			c := tableCheck(name, d)
			rep, err := tb.applyExpected(ctx, tx, liveSchema)
			if err != nil {
				return nil, nil, fmt.Errorf("repair %s: %w", name, err)
			}
			c.Repaired = &rep
			if after, err := tb.compare(ctx, tx); err != nil || !after.Clean() {
				return nil, nil, fmt.Errorf("repair %s: %s still differs after the repair (%+v, %v)", name, tb.name, after, err)
			}
			out = append(out, c)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, fmt.Errorf("repair: commit: %w", err)
	}
	opts.Logger.InfoContext(ctx, "repair committed", "checks", len(out))
	return out, notes, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
