package dbtest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Scan is one scan node of a query plan: its type ("Seq Scan", "Index
// Scan" …), the table and the index, if any.
type Scan struct {
	NodeType string `json:"Node Type"`
	Relation string `json:"Relation Name"`
	Index    string `json:"Index Name"`
}

// Scans runs EXPLAIN on the query and returns its plan's scans and the
// plan itself (JSON), for tests that require an index to serve a query.
func Scans(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, args ...any) ([]Scan, string, error) {
	var out []byte
	if err := q.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&out); err != nil {
		return nil, "", fmt.Errorf("explain: %w", err)
	}
	var doc []struct{ Plan planNode }
	if err := json.Unmarshal(out, &doc); err != nil || len(doc) == 0 {
		return nil, "", fmt.Errorf("explain: unexpected output %s: %v", out, err)
	}
	return doc[0].Plan.scans(), string(out), nil
}

type planNode struct {
	Scan
	Plans []planNode `json:"Plans"`
}

func (n planNode) scans() []Scan {
	var out []Scan
	if n.Relation != "" {
		out = append(out, n.Scan)
	}
	for _, c := range n.Plans {
		out = append(out, c.scans()...)
	}
	return out
}
