package projections

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// TestScript: a script's steps run in order in one round trip, a step of
// several statements (and trailing comments) included; each step's rows
// or count reach its callback and its server time the page's stats; a failing
// step is named, and the steps after it do not run.
func TestScript(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	stats := &PageStats{}
	ctx := withStats(context.Background(), stats)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck

	var s script
	var inserted, several, counted int64
	s.exec("create", "CREATE TEMP TABLE script_t (x int) ON COMMIT DROP;")
	s.rows("insert", "INSERT INTO script_t SELECT generate_series(1, 5)", func(n int64) { inserted = n })
	s.rows("several", "UPDATE script_t SET x = x + 10 WHERE x <= 2; -- moved\nDELETE FROM script_t WHERE x = 3;\n",
		func(n int64) { several = n })
	s.exec("slow", "SELECT pg_sleep(0.05)")
	s.count("count", "SELECT count(*) FROM script_t -- what is left", func(n int64) { counted = n })
	require.NoError(t, s.run(ctx, tx))
	require.Equal(t, int64(5), inserted)
	require.Equal(t, int64(3), several, "the rows of both statements of the step")
	require.Equal(t, int64(4), counted)
	require.Contains(t, stats.Tables, "several")
	require.GreaterOrEqual(t, stats.Tables["slow"].Seconds, 0.05, "a step's time is its own, taken on the server")
	require.Empty(t, s.stmts, "a script is empty once run")

	ran := false
	s.exec("fine", "INSERT INTO script_t VALUES (100)")
	s.exec("broken", "INSERT INTO script_no_such_table VALUES (1)")
	s.rows("after", "SELECT 1", func(int64) { ran = true })
	err = s.run(ctx, tx)
	require.ErrorContains(t, err, "broken: ")
	require.ErrorContains(t, err, "script_no_such_table")
	require.False(t, ran, "no step runs after a failed one")
}

// TestAnalyzeLevels: a page analyzes the levels before the problems'
// definition only when it is large and the statistics know few pairs
// beside it — a fresh catalog's first pages, not a 1 % delta of a large
// catalog with current statistics.
func TestAnalyzeLevels(t *testing.T) {
	for _, c := range []struct {
		name         string
		pairs, known int64
		want         bool
	}{
		{"small page", analyzeLevelsPairs - 1, -1, false},
		{"fresh catalog, never analyzed", analyzeLevelsPairs, -1, true},
		{"fresh catalog, analyzed empty", 20000, 0, true},
		{"statistics about the page's size", 20000, 3 * 20000, true},
		{"large catalog, current statistics", 6733, 742319, false},
		{"at the share", 10000, analyzeLevelsShare * 10000, false},
	} {
		if got := analyzeLevels(c.pairs, c.known); got != c.want {
			t.Errorf("%s: analyzeLevels(%d, %d) = %v, want %v", c.name, c.pairs, c.known, got, c.want)
		}
	}
}
