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
	del, upd, ins := tb.applyExpectedSQL(schema)
	for _, s := range []struct {
		sql string
		n   *int64
	}{{del, &rep.Deleted}, {upd, &rep.Updated}, {ins, &rep.Inserted}} {
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
		case c.Name == CheckProjectHistory || c.Name == CheckProjectRedirects:
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
	for _, name := range Names() { // in name order, like every other taker
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
		checks, err := replayHistory(ctx, tx, head, opts.PageSize)
		if err != nil {
			return nil, nil, fmt.Errorf("repair: %w", err)
		}
		for _, c := range checks {
			if c.Clean() {
				continue
			}
			var dups int64
			tb := projectRedirects
			if c.Name == CheckProjectHistory {
				tag, err := tx.Exec(ctx, dlsql.Query("project-history-duplicates"))
				if err != nil {
					return nil, nil, fmt.Errorf("repair project_history: %w", err)
				}
				dups, tb = tag.RowsAffected(), projectHistory
			}
			rep, err := tb.applyExpected(ctx, tx, liveSchema)
			if err != nil {
				return nil, nil, fmt.Errorf("repair: %w", err)
			}
			rep.Deleted += dups
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

// createIdentities gives every email and URL the changelog added up to seq
// its identity row in the live tables, born orphaned as the catalog's own
// id resolution creates them: the rows checkIdentities finds missing,
// created as the repair creates them (deleting none). A rebuild from the
// changelog runs it first, so that it never invents an id the live worker
// would give another value.
func createIdentities(ctx context.Context, pool *pgxpool.Pool, seq int64) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	_, fix, err := checkIdentities(ctx, tx, seq)
	if err != nil {
		return err
	}
	if len(fix.emails)+len(fix.urls) > 0 {
		if _, err := tx.Exec(ctx, dlsql.Query("repair-identities"), fix.emails, fix.urls, []int32{}, []int32{}); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
