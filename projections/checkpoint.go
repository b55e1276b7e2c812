package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deltalog/deltalog/changelog"
	dlsql "github.com/deltalog/deltalog/sql"
)

// A projection's checkpoint (projection_checkpoints) is the seq up to which
// its tables hold the changelog. Every read and write of it is here: a page
// is applied in one transaction with its checkpoint, under the lock of the
// checkpoint row (the worker's pages, a rebuild's swap, a repair), so that
// nothing is applied twice or skipped.

// readCheckpoints returns every projection's checkpoint (0 for those that
// never ran).
func readCheckpoints(ctx context.Context, q changelog.Querier) (map[string]int64, error) {
	out := map[string]int64{}
	for _, name := range Names {
		out[name] = 0
	}
	rows, err := q.Query(ctx, dlsql.Query("audit-checkpoints"))
	if err != nil {
		return nil, fmt.Errorf("reading checkpoints: %w", err)
	}
	var name string
	var seq int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &seq}, func() error {
		out[name] = seq
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading checkpoints: %w", err)
	}
	return out, nil
}

// checkpoint returns the named projection's checkpoint (0 when it never
// ran).
func checkpoint(ctx context.Context, q changelog.Querier, name string) (int64, error) {
	var cp int64
	err := q.QueryRow(ctx, dlsql.Query("checkpoint-get"), name).Scan(&cp)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading checkpoint of %s: %w", name, err)
	}
	return cp, nil
}

// lockCheckpoint locks the named projection's checkpoint row until tx ends
// (creating it first when the projection never ran) and returns its seq.
func lockCheckpoint(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	if _, err := tx.Exec(ctx, dlsql.Query("checkpoint-ensure"), name); err != nil {
		return 0, err
	}
	return lockExistingCheckpoint(ctx, tx, name)
}

// lockExistingCheckpoint locks the named projection's checkpoint row until
// tx ends, if it has one, and returns its seq (0 when it has none).
func lockExistingCheckpoint(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	var cp int64
	err := tx.QueryRow(ctx, dlsql.Query("checkpoint-lock"), name).Scan(&cp)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("locking checkpoint of %s: %w", name, err)
	}
	return cp, nil
}

// advanceCheckpoint sets the checkpoint to seq after a page, with the
// projection's cache counters, and clears a failure.
func advanceCheckpoint(ctx context.Context, tx pgx.Tx, name string, seq int64, cacheStats []byte) error {
	if _, err := tx.Exec(ctx, dlsql.Query("checkpoint-advance"), name, seq, cacheStats); err != nil {
		return fmt.Errorf("advancing checkpoint: %w", err)
	}
	return nil
}

// setCheckpoint sets the checkpoint to the seq swapped-in tables hold, and
// clears a failure.
func setCheckpoint(ctx context.Context, tx pgx.Tx, name string, seq int64) error {
	_, err := tx.Exec(ctx, dlsql.Query("rebuild-checkpoint-set"), name, seq)
	return err
}

// failCheckpoint records the page (after, to] that failed attempts times in
// projection_dead_letters and marks the projection failed.
func failCheckpoint(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, name string, after, to int64, cause error, attempts int) error {
	_, err := q.Exec(ctx, dlsql.Query("projection-dead-letter"), name, after, to, cause.Error(), attempts)
	return err
}
