package autoanalyze_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/pg/autoanalyze"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

func analyzeCount(t *testing.T, pool *pgxpool.Pool, table string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, pool.QueryRow(context.Background(),
		"SELECT analyze_count FROM pg_stat_user_tables WHERE relname = $1", table).Scan(&n))
	return n
}

func grow(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	_, err := pool.Exec(context.Background(), "INSERT INTO t SELECT generate_series(1, $1)", n)
	require.NoError(t, err)
}

// A table growing from empty is analyzed once the rows changed exceed the
// threshold plus a share of its size at the last ANALYZE: a few times over
// a large load, not after every batch.
func TestAnalyzesRelativeToSize(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.New(t)
	_, err := pool.Exec(ctx, "CREATE TABLE t (x int)")
	require.NoError(t, err)
	a := autoanalyze.New("t")

	grow(t, pool, 500)
	did, err := a.Changed(ctx, pool, 500)
	require.NoError(t, err)
	require.False(t, did, "500 rows are under the threshold")

	grow(t, pool, 600)
	did, err = a.Changed(ctx, pool, 600)
	require.NoError(t, err)
	require.True(t, did, "1100 rows changed since the start exceed the threshold")
	require.Equal(t, int64(1), analyzeCount(t, pool, "t"))

	// Now 1100 rows: the next ANALYZE comes after 1000 + 0.2 × 1100 = 1220.
	grow(t, pool, 1200)
	did, err = a.Changed(ctx, pool, 1200)
	require.NoError(t, err)
	require.False(t, did)
	grow(t, pool, 100)
	did, err = a.Changed(ctx, pool, 100)
	require.NoError(t, err)
	require.True(t, did)
	require.Equal(t, int64(2), analyzeCount(t, pool, "t"))

	// A load of 200k rows in batches of 2000 analyzes a few dozen times at
	// most, not a hundred.
	for range 100 {
		grow(t, pool, 2000)
		_, err := a.Changed(ctx, pool, 2000)
		require.NoError(t, err)
	}
	n := analyzeCount(t, pool, "t")
	require.Greater(t, n, int64(10))
	require.Less(t, n, int64(40))
}

func TestNilAndUnknownTables(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.New(t)
	var a *autoanalyze.Analyzer
	did, err := a.Changed(ctx, pool, 1e6)
	require.NoError(t, err)
	require.False(t, did)

	_, err = autoanalyze.New("no_such_table").Changed(ctx, pool, 1e6)
	require.ErrorContains(t, err, "no_such_table")
}
