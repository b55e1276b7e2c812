package web

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
	dlsql "github.com/deltalog/deltalog/sql"
)

// bigCatalog fills the read tables directly (no changelog: only the plans
// matter here) with a catalog large enough for the planner to prefer an
// index wherever one serves: 200k projects, 300k packages, 40 repositories,
// 20k maintainers. It is the shape of internal/bench/gen's catalogs: most
// projects in one repository, a few in many.
const bigCatalog = `
INSERT INTO repositories (id, name, num_packages, num_projects)
SELECT i, 'repo_' || i, 1000, 1000 FROM generate_series(1, 40) i;
INSERT INTO projects (name, num_repos, num_packages, newest_version, newest_key, num_updates)
SELECT 'project-' || lpad(i::text, 7, '0'), 1 + (i % 97 = 0)::int * (i % 30), 1, '1.' || i, int8send(i), 0
FROM generate_series(1, 200000) i;
INSERT INTO packages (repo_id, project, checksum, name, version, version_key)
SELECT 1 + (i % 40), 'project-' || lpad((1 + i % 200000)::text, 7, '0'), i, 'pkg' || i, '1.' || i, int8send(i)
FROM generate_series(1, 300000) i;
INSERT INTO project_repositories (project, repo_id, num_packages, num_newest, num_outdated, best_version)
SELECT DISTINCT ON (project, repo_id) project, repo_id, 1, (checksum % 3 = 0)::int, (checksum % 3 <> 0)::int, version FROM packages;
INSERT INTO maintainers (email, num_packages)
SELECT 'm' || i || '@example.org', 10 FROM generate_series(1, 20000) i;
INSERT INTO project_maintainers (project, maintainer_id, repo_id, name, num_packages, num_newest, num_outdated)
SELECT project, 1 + checksum % 20000, repo_id, '', 1, 0, 1 FROM packages ON CONFLICT DO NOTHING;
INSERT INTO maintainer_repositories (maintainer_id, repo_id, num_packages, num_projects, num_newest, num_outdated)
SELECT maintainer_id, repo_id, count(*), count(*), 0, 0 FROM project_maintainers GROUP BY 1, 2;
INSERT INTO project_history (project, repo_id, seq, batch_id, kind, new_version, at)
SELECT project, repo_id, checksum, 1, 'added', version, now() FROM packages;
INSERT INTO project_history (project, repo_id, seq, batch_id, kind, old_version, new_version, at)
SELECT project, repo_id, 1000000 + checksum, 1, 'new_newest', version, version || '.1', now() FROM packages WHERE checksum % 3 = 0;
INSERT INTO repos (name, hash_seed, hash_version, version_scheme) VALUES ('repo_1', 0, 1, 'generic');
INSERT INTO batches (repo_id, kind, started_at, finished_at, hash_seed, hash_version, version_scheme,
                     first_seq, last_seq, counts, repo_state_checksum, global_state_checksum)
SELECT (SELECT id FROM repos), 'update', now(), now(), 0, 1, 'generic', i, i, '{}', 0, 0 FROM generate_series(1, 50000) i;
ANALYZE;
`

// big are the tables whose sequential scan would cost a page of the
// catalog's size on every request.
var big = []string{"projects", "packages", "project_repositories", "maintainers", "project_maintainers",
	"maintainer_repositories", "project_history", "batches"}

// TestProjectsPlansUseIndexes runs EXPLAIN on every filter of the list
// query, alone and combined, and on every fixed query of web.sql, and fails
// on a sequential scan of a big table: every filter must be served by an
// index.
func TestProjectsPlansUseIndexes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a 200k-project catalog")
	}
	ctx := context.Background()
	admin := dbtest.New(t)
	_, err := admin.Exec(ctx, bigCatalog)
	require.NoError(t, err)
	reader, err := OpenReadOnly(ctx, admin.Config(), 0)
	require.NoError(t, err)
	defer reader.Close()

	repo, maint := "repo_7", "m42@example.org"
	lists := map[string]ProjectsParams{
		"first page":           {Limit: 50},
		"after":                {Limit: 50, After: "project-0100000"},
		"search":               {Limit: 50, Search: "0012"},
		"search rare":          {Limit: 50, Search: "zzz"},
		"maintainer":           {Limit: 50, Maintainer: maint},
		"inrepo":               {Limit: 50, InRepo: repo},
		"notinrepo":            {Limit: 50, NotInRepo: repo},
		"outdated":             {Limit: 50, Outdated: repo},
		"newest":               {Limit: 50, Newest: repo},
		"min_repos":            {Limit: 50, MinRepos: 20},
		"max_repos":            {Limit: 50, MaxRepos: 1},
		"combined":             {Limit: 50, After: "project-0000500", Search: "1", InRepo: repo, Outdated: repo, MinRepos: 2},
		"maintainer+notinrepo": {Limit: 50, Maintainer: maint, NotInRepo: repo},
	}
	type plan struct {
		sql  string
		args []any
	}
	plans := map[string]plan{}
	for name, p := range lists {
		sql, args, err := projectsQuery(p)
		require.NoError(t, err)
		plans["projects "+name] = plan{sql, args}
	}
	q := func(name string, args ...any) { plans[name] = plan{dlsql.Query(name), args} }
	q("web-checkpoint", projections.CatalogName, projections.HistoryName)
	q("web-project", "project-0001234")
	q("web-project-packages", "project-0001234")
	q("web-repository", repo)
	q("web-maintainer", maint)
	q("web-maintainer-repositories", 42)
	q("web-maintainer-projects", 42, "", 50)
	q("web-history", "project-0001234", int64(1)<<62, 50)
	q("web-history-maintainer", 42, int64(1)<<62, 50)
	q("web-history-repository", 7, int64(1)<<62, 50)
	q("web-batches", 30)
	q("web-audit-runs", 10)
	// Freshness over a window of a day (the catalog's history is all of
	// now: none in it), of every project, a maintainer's, a repository's.
	day := time.Now().Add(-24 * time.Hour)
	q("freshness-window", projections.HistoryName)
	q("freshness-maintainer-pairs", 42)
	q("snapshots-repository-history", 7, 100)
	for name, args := range map[string][]any{"": {nil, nil}, " maintainer": {42, nil}, " repository": {nil, 7}} {
		plans["freshness-entries"+name] = plan{dlsql.Query("freshness-entries"), append([]any{day.Add(-24 * time.Hour), day, int64(1) << 62}, args...)}
	}

	// The search's trigram index must not serve the catalog's lookups of
	// projects by name (a page's o_projects, its UPDATE of projects): it
	// once did, at ~2.6 ms a name (migration 012).
	names := make([]string, 0, 2000)
	for i := range 2000 {
		names = append(names, fmt.Sprintf("project-%07d", 1+i*97))
	}
	lookup, explained, err := dbtest.Scans(ctx, admin, "SELECT * FROM projects WHERE name = ANY ($1)", names)
	require.NoError(t, err)
	for _, scan := range lookup {
		require.True(t, scan.Relation != "projects" || scan.Index == "projects_pkey", "a lookup by name:\n%s", explained)
	}

	for name, p := range plans {
		scans, plan, err := dbtest.Scans(ctx, reader, p.sql, p.args...)
		require.NoError(t, err, name)
		for _, scan := range scans {
			require.False(t, scan.NodeType == "Seq Scan" && slices.Contains(big, scan.Relation),
				"%s: sequential scan of %s:\n%s\n%s", name, scan.Relation, p.sql, plan)
		}
	}
}
