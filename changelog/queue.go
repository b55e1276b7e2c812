package changelog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// queue holds a transaction's statements until they can be sent together.
//
// A small delta is a dozen statements that each take a few microseconds on
// the server; sent one by one, the update pays a round trip for each — a
// client and a backend waking each other up, which on a busy machine costs
// more than the statements. Queued, they travel as one pgx batch (one
// pipeline, one round trip), and run in the order queued; the first that
// fails stops the rest and fails the transaction.
type queue struct {
	b     pgx.Batch
	items []queued
}

// queued is one statement of the queue: what it does (for its error), and
// how its result is read.
type queued struct {
	what string
	read func(pgx.BatchResults) error
}

// exec queues a statement whose result is its command tag only.
func (q *queue) exec(what, sql string, args ...any) {
	q.add(what, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	}, sql, args)
}

// row queues a statement returning one row, read by scan when the queue
// is sent.
func (q *queue) row(what string, scan func(pgx.Row) error, sql string, args ...any) {
	q.add(what, func(br pgx.BatchResults) error { return scan(br.QueryRow()) }, sql, args)
}

// rows queues a statement whose rows are read by fn when the queue is sent.
func (q *queue) rows(what string, fn func(pgx.Rows) error, sql string, args ...any) {
	q.add(what, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		return fn(rows)
	}, sql, args)
}

func (q *queue) add(what string, read func(pgx.BatchResults) error, sql string, args []any) {
	q.b.Queue(sql, args...)
	q.items = append(q.items, queued{what: what, read: read})
}

// send sends the queued statements in one batch and reads their results
// in order; the queue is empty afterwards, whatever happened.
func (q *queue) send(ctx context.Context, tx DBTX) error {
	if len(q.items) == 0 {
		return nil
	}
	// The results read the batch as they go: it must outlive them.
	b, items := q.b, q.items
	q.b, q.items = pgx.Batch{}, nil
	br := tx.SendBatch(ctx, &b)
	for _, it := range items {
		if err := it.read(br); err != nil {
			_ = br.Close()
			return fmt.Errorf("%s: %w", it.what, err)
		}
	}
	return br.Close()
}
