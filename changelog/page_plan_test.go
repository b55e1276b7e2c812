package changelog_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	dlsql "github.com/deltalog/deltalog/sql"
)

// rareRepoChangelog fills the changelog directly with 300k events of which
// one in 10,000 is the repository "rare"'s, the rest "bulk"'s: the shape
// that made GET /changelog?repo=rare scan the whole changelog.
const rareRepoChangelog = `
INSERT INTO repos (name, hash_seed, hash_version, version_scheme) VALUES ('bulk', 0, 1, 'generic'), ('rare', 0, 1, 'generic');
INSERT INTO changelog (seq, batch_id, repo_id, project, kind)
SELECT i, i, (SELECT id FROM repos WHERE name = CASE WHEN i % 10000 = 0 THEN 'rare' ELSE 'bulk' END), 'p' || i, 'added'
FROM generate_series(1, 300000) i;
UPDATE changelog_head SET seq = 300000;
ANALYZE;
`

// TestPageRepoUsesIndex: a page of one repository's events is an index
// range scan on (repo_id, seq), never a scan of the whole changelog
// (sequential, or along the primary key filtering by repository), and
// returns the repository's events in order.
func TestPageRepoUsesIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	_, err := pool.Exec(ctx, rareRepoChangelog)
	require.NoError(t, err)

	var rare int32
	require.NoError(t, pool.QueryRow(ctx, dlsql.Query("repo-id"), "rare").Scan(&rare))
	for _, after := range []int64{0, 150000} {
		scans, plan, err := dbtest.Scans(ctx, pool, dlsql.Query("page-repo"), after, int64(300000), 1000, "rare", rare)
		require.NoError(t, err)
		var onChangelog []dbtest.Scan
		for _, s := range scans {
			if s.Relation == "changelog" {
				onChangelog = append(onChangelog, s)
			}
		}
		require.Len(t, onChangelog, 1, plan)
		require.NotEqual(t, "Seq Scan", onChangelog[0].NodeType, "after %d: sequential scan of the changelog:\n%s", after, plan)
		require.Equal(t, "changelog_repo_seq", onChangelog[0].Index, "after %d:\n%s", after, plan)
	}

	page, err := changelog.ReadPage(ctx, pool, changelog.PageParams{After: 150000, Limit: 5, Repo: "rare"})
	require.NoError(t, err)
	require.Len(t, page.Events, 5)
	for i, e := range page.Events {
		require.Equal(t, int64(160000+10000*i), e.Seq)
		require.Equal(t, "rare", e.Repo)
	}
	require.Equal(t, int64(200000), page.Next)

	// A repository the catalog does not hold has no events: the page is
	// empty and covers everything up to the head.
	page, err = changelog.ReadPage(ctx, pool, changelog.PageParams{After: 150000, Limit: 5, Repo: "nosuch"})
	require.NoError(t, err)
	require.Empty(t, page.Events)
	require.Equal(t, int64(300000), page.Next)
}
