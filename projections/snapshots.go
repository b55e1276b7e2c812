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
// none (their changes are in the next row written). The runner's pages
// end at the changelog's head, which is always a batch's end: a worker
// keeping up writes a row for every batch that moves a count; a catch-up
// in pages of a fixed size records fewer batches, never a state that no
// batch ended with.
//
// They are history, not a function of the current state: the audit does
// not check them and convergence (A then B equals B alone) does not apply.
// Only the live catalog writes them. A rebuild's catalog (from state or
// from the changelog, and its catch-up) writes none, and the swap moves
// only the tables of shadowTables, so a rebuild keeps them as they are;
// its swap then records the state it swapped in, at the new checkpoint,
// like a page ending there (rebuilder.trySwap): after a rebuild that only
// re-derived what the worker had applied that adds nothing, and a catalog
// caught up by a rebuild (a fresh one, or one far behind: RebuildLag)
// records its state at the batch it reached, the batches it skipped
// getting none.
func (c *Catalog) snapshot(ctx context.Context, tx pgx.Tx, page *Page) error {
	if c.schema != "" {
		return nil
	}
	return snapshotAt(ctx, tx, page.Next)
}

// snapshotAt writes the live snapshot rows of the batch whose last event
// is seq, if there is one and they differ from the rows before.
func snapshotAt(ctx context.Context, tx pgx.Tx, seq int64) error {
	sch := deltaSchemas(liveSchema)
	for _, tb := range []string{"repositories", "statistics"} {
		n, err := timedRows(ctx, tx, tb+"_history", dlsql.Render("snapshots-"+tb, sch), seq)
		if err != nil {
			return err
		}
		statsFrom(ctx).add(tb+"_history", n, n)
	}
	return nil
}
