package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	dlsql "github.com/deltalog/deltalog/sql"
)

// History snapshots: repositories_history holds a repository's
// repositories row and statistics_history the global statistics as they
// were after a batch, a row equal to the one before it not written (a
// batch that moves no count adds no row).
//
// The catalog applies a page at once, and a page can hold several batches
// or part of one: only the state at a page's end is ever materialized.
// So a row is "after the batch" exactly: a page whose last event is a
// batch's last event writes that batch's rows; the batches before it in
// the same page, and a batch whose last event falls inside a page, get
// none (their state is folded into the next row written). The runner's
// pages end at the changelog's head, which is always a batch's end: a
// worker keeping up writes a row for every batch that moves a count; a
// catch-up in pages of a fixed size records fewer batches, never a state
// that no batch ended with.
//
// They are history, not a function of the current state: the audit does
// not check them and convergence (A then B equals B alone) does not apply.
// Only the live catalog writes them: a rebuild's catalog (from state or
// from the changelog, and its catch-up) applies pages the live worker
// already applied, and the swap moves only the tables of shadowTables, so
// a rebuild keeps them as they are. A catalog caught up by a rebuild
// (RebuildLag) records no row for the batches it skipped; the next batch
// records the state then.
func (c *Catalog) snapshot(ctx context.Context, tx pgx.Tx, page *Page) error {
	if c.schema != "" {
		return nil
	}
	var batch int64
	for _, b := range page.Batches {
		if b.LastSeq == page.Next {
			batch = b.ID
		}
	}
	if batch == 0 {
		return nil // the page ends inside a batch
	}
	sch := deltaSchemas(c.schema)
	at := page.BatchTimes[batch]
	n, err := timedRows(ctx, tx, "repositories_history", dlsql.Render("snapshots-repositories", sch), page.Next, batch, at)
	if err != nil {
		return err
	}
	statsFrom(ctx).add("repositories_history", n, n)
	if n, err = timedRows(ctx, tx, "statistics_history", dlsql.Render("snapshots-statistics", sch), page.Next, batch, at); err != nil {
		return err
	}
	statsFrom(ctx).add("statistics_history", n, n)
	return nil
}
