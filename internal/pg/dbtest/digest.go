package dbtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Querier is what Digest reads through: a pool, a connection or a
// transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Digest summarizes the content of tables (every table outside the system
// schemas when none is named) as one line per table, "name: N rows <md5>",
// independent of row order. Equal digests mean equal contents, so tests
// compare a database before and after an operation, or two databases that
// should have converged; on a mismatch the lines show which tables differ.
func Digest(tb testing.TB, db Querier, tables ...string) string {
	tb.Helper()
	ctx := context.Background()
	if len(tables) == 0 {
		rows, err := db.Query(ctx, `SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
			WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
		if err == nil {
			tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			tb.Fatalf("dbtest: Digest: list tables: %v", err)
		}
	}
	var b strings.Builder
	for _, table := range tables {
		rows, err := db.Query(ctx, "SELECT count(*), coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '') FROM "+table+" AS r")
		if err != nil {
			tb.Fatalf("dbtest: Digest %s: %v", table, err)
		}
		sum, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[tableSum])
		if err != nil {
			tb.Fatalf("dbtest: Digest %s: %v", table, err)
		}
		fmt.Fprintf(&b, "%s: %d rows %s\n", table, sum.Rows, sum.MD5)
	}
	return b.String()
}

type tableSum struct {
	Rows int64
	MD5  string
}
