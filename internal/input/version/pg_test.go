package version_test

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// TestKeyInPostgres stores the keys of all real versions in a bytea column
// and checks that PostgreSQL orders them, and finds each project's newest
// version with max(), exactly as Compare does.
func TestKeyInPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	_, err := pool.Exec(ctx, `CREATE TABLE version_key_test (id int PRIMARY KEY, project text NOT NULL, version text NOT NULL, version_key bytea NOT NULL)`)
	require.NoError(t, err)

	// Each real pair is a project with two versions; its newest is the
	// greater by Compare.
	type row struct {
		id      int
		project string
		version string
		key     []byte
	}
	var rows []row
	newest := map[string]string{}
	for _, p := range readPairs(t) {
		project := strconv.Itoa(p.line)
		a, b := version.Normalize(p.scheme, p.a), version.Normalize(p.scheme, p.b)
		rows = append(rows,
			row{len(rows), project, a, version.Key(a)},
			row{len(rows) + 1, project, b, version.Key(b)})
		newest[project] = a
		if version.Compare(b, a) > 0 {
			newest[project] = b
		}
	}
	n, err := pool.CopyFrom(ctx, pgx.Identifier{"version_key_test"}, []string{"id", "project", "version", "version_key"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := rows[i]
			return []any{r.id, r.project, r.version, r.key}, nil
		}))
	require.NoError(t, err)
	require.EqualValues(t, len(rows), n)

	// ORDER BY version_key sorts like Compare (ties in insertion order).
	want := slices.Clone(rows)
	slices.SortStableFunc(want, func(x, y row) int { return version.Compare(x.version, y.version) })
	var wantIDs []int
	for _, r := range want {
		wantIDs = append(wantIDs, r.id)
	}
	ordered, err := pool.Query(ctx, `SELECT id FROM version_key_test ORDER BY version_key, id`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(ordered, pgx.RowTo[int])
	require.NoError(t, err)
	require.Equal(t, wantIDs, got)

	// The largest version_key per project (as the catalog computes it, with
	// DISTINCT ON: PostgreSQL has no max(bytea)) is the newest version's.
	type projectMax struct {
		Project string
		Key     []byte
	}
	grouped, err := pool.Query(ctx, `SELECT DISTINCT ON (project) project, version_key AS key
		FROM version_key_test ORDER BY project, version_key DESC`)
	require.NoError(t, err)
	maxima, err := pgx.CollectRows(grouped, pgx.RowToStructByName[projectMax])
	require.NoError(t, err)
	require.Len(t, maxima, len(newest))
	for _, m := range maxima {
		require.True(t, bytes.Equal(version.Key(newest[m.Project]), m.Key), "%s: max key %x, newest %q", m.Project, m.Key, newest[m.Project])
	}
}
