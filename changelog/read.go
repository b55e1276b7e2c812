package changelog

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/hashing"
	dlsql "github.com/deltalog/deltalog/sql"
)

// Querier is the read side a pool, a connection and a transaction share.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Head returns the seq of the last committed event (0 for an empty log).
func Head(ctx context.Context, q Querier) (int64, error) {
	var head int64
	if err := q.QueryRow(ctx, dlsql.Query("head")).Scan(&head); err != nil {
		return 0, fmt.Errorf("reading changelog head: %w", err)
	}
	return head, nil
}

// RepoStatus is one repository's current state.
type RepoStatus struct {
	Name          string    `json:"name"`
	Packages      int       `json:"packages"`
	Packagesets   int       `json:"packagesets"`
	StateChecksum string    `json:"state_checksum"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Status is the state of the current-state tables and the changelog.
type Status struct {
	HeadSeq       int64        `json:"head_seq"`
	StateChecksum string       `json:"state_checksum"`
	Repositories  []RepoStatus `json:"repositories"`
}

// ReadStatus reads head, global state checksum and per-repository state in
// one snapshot (run it in a REPEATABLE READ transaction for exactness while
// updates commit; from a pool each statement sees its own snapshot).
func ReadStatus(ctx context.Context, q Querier) (*Status, error) {
	st := &Status{Repositories: []RepoStatus{}}
	var err error
	if st.HeadSeq, err = Head(ctx, q); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, dlsql.Query("repos-status"))
	if err != nil {
		return nil, fmt.Errorf("reading repositories: %w", err)
	}
	var r RepoStatus
	var sum int64
	var global hashing.State
	_, err = pgx.ForEachRow(rows, []any{&r.Name, &r.Packages, &r.Packagesets, &sum, &r.UpdatedAt}, func() error {
		r.StateChecksum = hashing.Sum(sum).String()
		global = global.Add(hashing.Sum(sum))
		st.Repositories = append(st.Repositories, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading repositories: %w", err)
	}
	st.StateChecksum = global.Sum().String()
	return st, nil
}
