package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/projections"
	"github.com/deltalog/deltalog/web"
)

type projectResp struct {
	Checkpoint int64 `json:"checkpoint"`
	Project    web.Project
	Packages   []web.Package
}

type listResp struct {
	Checkpoint int64         `json:"checkpoint"`
	Projects   []web.Project `json:"projects"`
	Next       string        `json:"next"`
}

// catalog is two repositories: foo is newest in reg and outdated in deb.
func catalog(t *testing.T, f *fixture) {
	t.Helper()
	f.update(t, "deb", pkg("foo", "1.0", "a@x.org"), pkg("bar", "2.0", "a@x.org", "b@x.org"), pkg("baz", "3.0", "b@x.org"))
	f.update(t, "reg", pkg("foo", "1.1", "z@y.org"), pkg("qux", "0.1"))
}

func TestProject(t *testing.T) {
	t.Parallel()
	f := setup(t)
	catalog(t, f)

	var p projectResp
	resp := f.getJSON(t, "/api/v1/project/foo", &p)
	require.Equal(t, "foo", p.Project.Name)
	require.Equal(t, "1.1", p.Project.NewestVersion)
	require.Equal(t, 2, p.Project.NumRepos)
	require.Len(t, p.Packages, 2)
	require.Equal(t, "deb", p.Packages[0].Repository)
	require.Equal(t, "outdated", p.Packages[0].Status)
	require.Equal(t, []web.Maintainer{{Email: "a@x.org", Name: "N a@x.org"}}, p.Packages[0].Maintainers)
	require.Equal(t, "newest", p.Packages[1].Status)
	require.Contains(t, string(p.Packages[1].Links), "https://example.org/foo")
	require.Positive(t, p.Checkpoint)
	require.Equal(t, resp.Header.Get("Deltalog-Checkpoint"), itoa(p.Checkpoint))

	resp, body := f.get(t, "/api/v1/project/nope")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s", body)
}

func TestProjectsFilters(t *testing.T) {
	t.Parallel()
	f := setup(t)
	catalog(t, f)
	names := func(q string) []string {
		var l listResp
		f.getJSON(t, "/api/v1/projects?limit=100&"+q, &l)
		out := []string{}
		for _, p := range l.Projects {
			out = append(out, p.Name)
		}
		return out
	}
	require.Equal(t, []string{"bar", "baz", "foo", "qux"}, names(""))
	require.Equal(t, []string{"bar", "baz"}, names("search=ba"))
	require.Equal(t, []string{"bar", "foo"}, names("maintainer=a@x.org"))
	require.Equal(t, []string{"foo", "qux"}, names("inrepo=reg"))
	require.Equal(t, []string{"bar", "baz"}, names("notinrepo=reg"))
	require.Equal(t, []string{"foo"}, names("outdated=deb"))
	require.Equal(t, []string{"bar", "baz"}, names("newest=deb"))
	require.Equal(t, []string{"foo"}, names("min_repos=2"))
	require.Equal(t, []string{"bar", "baz", "qux"}, names("max_repos=1"))
	require.Equal(t, []string{"bar"}, names("inrepo=deb&maintainer=b@x.org&search=r"))
	require.Equal(t, []string{}, names("search=%25")) // a literal %, which no name has
}

func TestProjectsKeysetPagination(t *testing.T) {
	t.Parallel()
	f := setup(t)
	catalog(t, f)
	var got []string
	path := "/api/v1/projects" // DefaultLimit is 2 in the fixture
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		var l listResp
		f.getJSON(t, path, &l)
		require.LessOrEqual(t, len(l.Projects), 2)
		for _, p := range l.Projects {
			got = append(got, p.Name)
		}
		if l.Next == "" {
			break
		}
		path = "/api/v1/projects?after=" + url.QueryEscape(l.Next)
	}
	require.Equal(t, []string{"bar", "baz", "foo", "qux"}, got)

	for _, q := range []string{"limit=101", "limit=0", "limit=x", "min_repos=-1"} {
		resp, body := f.get(t, "/api/v1/projects?"+q)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", q, body)
	}
}

func TestMaintainerRepositoryStatistics(t *testing.T) {
	t.Parallel()
	f := setup(t)
	catalog(t, f)

	var m struct{ Maintainer web.MaintainerInfo }
	f.getJSON(t, "/api/v1/maintainer/"+url.PathEscape("b@x.org"), &m)
	require.Equal(t, 2, m.Maintainer.NumProjects)
	require.Equal(t, []web.MaintainerRepoCount{{Repository: "deb", NumPackages: 2, NumProjects: 2, NumNewest: 2}}, m.Maintainer.Repositories)

	var r struct{ Repository web.Repository }
	f.getJSON(t, "/api/v1/repository/deb", &r)
	require.Equal(t, web.Repository{Name: "deb", NumPackages: 3, NumProjects: 3, NumMaintainers: 2, NumNewest: 2, NumOutdated: 1},
		web.Repository{Name: r.Repository.Name, NumPackages: r.Repository.NumPackages, NumProjects: r.Repository.NumProjects,
			NumMaintainers: r.Repository.NumMaintainers, NumNewest: r.Repository.NumNewest, NumOutdated: r.Repository.NumOutdated})

	var s struct{ Statistics web.Statistics }
	f.getJSON(t, "/api/v1/statistics", &s)
	require.Equal(t, web.Statistics{NumPackages: 5, NumProjects: 4, NumMaintainers: 3, NumRepos: 2, NumLinks: 4}, s.Statistics)

	var h struct {
		History []web.HistoryEntry
		Before  int64
	}
	f.update(t, "deb", pkg("foo", "1.2", "a@x.org"), pkg("bar", "2.0", "a@x.org", "b@x.org"), pkg("baz", "3.0", "b@x.org"))
	f.getJSON(t, "/api/v1/project/foo/history?limit=100", &h)
	kinds := []string{}
	for _, e := range h.History {
		kinds = append(kinds, e.Repository+":"+e.Kind)
	}
	// Newest first (kinds of one seq in name order): deb's update to
	// 1.2 made a new newest version.
	require.Equal(t, []string{"deb:new_newest", "deb:version_update", "reg:added", "reg:new_newest", "deb:added", "deb:new_newest"}, kinds)
	require.Zero(t, h.Before)
}

// TestETag: the same checkpoint gives the same tag and 304; a change
// gives a new tag. The 304 is answered without reading the catalog
// tables: with projects made unreadable, it still comes.
func TestETag(t *testing.T) {
	t.Parallel()
	f := setup(t)
	catalog(t, f)

	resp, body := f.get(t, "/api/v1/project/foo")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	etag := resp.Header.Get("ETag")
	require.Regexp(t, `^"\d+\.\d+\.\d+"$`, etag) // strong: no W/
	resp2, body2 := f.get(t, "/api/v1/project/foo")
	require.Equal(t, etag, resp2.Header.Get("ETag"))
	require.Equal(t, body, body2, "a strong tag promises the same bytes")

	resp, body = f.get(t, "/api/v1/project/foo", "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, resp.StatusCode)
	require.Empty(t, body)
	require.NotEmpty(t, resp.Header.Get("Deltalog-Checkpoint"))

	ctx := context.Background()
	_, err := f.admin.Exec(ctx, "REVOKE SELECT ON projects, packages FROM "+web.ReaderRole)
	require.NoError(t, err)
	resp, _ = f.get(t, "/api/v1/project/foo", "If-None-Match", `"0.0.0", `+etag)
	require.Equal(t, http.StatusNotModified, resp.StatusCode, "304 must not read the tables")
	resp, _ = f.get(t, "/api/v1/project/foo")
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode, "the full answer does read them")
	_, err = f.admin.Exec(ctx, "GRANT SELECT ON projects, packages TO "+web.ReaderRole)
	require.NoError(t, err)

	f.update(t, "reg", pkg("foo", "1.3"), pkg("qux", "0.1"))
	resp, _ = f.get(t, "/api/v1/project/foo", "If-None-Match", etag)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEqual(t, etag, resp.Header.Get("ETag"))
}

// TestReadOnlyRole: the read side's pool cannot write, whatever it is
// asked, and cannot read what it does not serve.
func TestReadOnlyRole(t *testing.T) {
	t.Parallel()
	f := setup(t)
	catalog(t, f)
	ctx := context.Background()
	for _, stmt := range []string{
		"INSERT INTO projects (name, num_repos, num_packages, newest_version, newest_key, num_updates) VALUES ('x', 1, 1, '1', '', 0)",
		"UPDATE projects SET num_repos = 0",
		"DELETE FROM packages",
		"SET default_transaction_read_only = off; UPDATE projects SET num_repos = 0",
		"SELECT count(*) FROM changelog",
		"SELECT count(*) FROM packagesets",
	} {
		_, err := f.reader.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, stmt)
		require.Contains(t, []string{"42501", "25006"}, pgErr.Code, "%s: %v", stmt, err) // insufficient privilege, read-only transaction
	}
	var role string
	require.NoError(t, f.reader.QueryRow(ctx, "SELECT current_user").Scan(&role))
	require.Equal(t, web.ReaderRole, role)
	require.Equal(t, int64(4), count(t, f, "SELECT count(*) FROM projects"))
}

// TestReaderKeepsItsGrantsAfterARebuild: a rebuild swaps new tables in
// under the read tables' names (reader_tables); the read side can still
// read every one of them.
func TestReaderKeepsItsGrantsAfterARebuild(t *testing.T) {
	t.Parallel()
	f := setup(t)
	catalog(t, f)
	ctx := context.Background()
	_, err := projections.Rebuild(ctx, f.admin, projections.RebuildOpts{})
	require.NoError(t, err)
	rows, err := f.admin.Query(ctx, "SELECT name FROM reader_tables ORDER BY name")
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "projects")
	for _, tb := range tables {
		_, err := f.reader.Exec(ctx, "SELECT 1 FROM "+pgx.Identifier{tb}.Sanitize()+" LIMIT 1")
		require.NoError(t, err, tb)
	}
	require.Equal(t, int64(4), count(t, f, "SELECT count(*) FROM projects"))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func count(t *testing.T, f *fixture, sql string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, f.admin.QueryRow(context.Background(), sql).Scan(&n))
	return n
}

// TestNamesRoundTrip: names with quotes, semicolons, unicode, percent
// signs and slashes go in as parameters and come back unchanged.
func TestNamesRoundTrip(t *testing.T) {
	t.Parallel()
	f := setup(t)
	names := []string{`o'brien`, `semi;colon`, `drop table projects;--`, `quote"d`, `ünïcødé-日本`, `100%_done`, `a/b`, `back\slash`, `sp ace`, `plus+sign`}
	emails := []string{`o'brien@x.org`, `semi;c@x.org`, `100%@x.org`}
	batch := make([]events.Package, 0, len(names))
	for i, n := range names {
		batch = append(batch, pkg(n, "1.0", emails[i%len(emails)]))
	}
	f.update(t, `repo 'x'; --`, batch...)

	for _, n := range names {
		var p projectResp
		f.getJSON(t, "/api/v1/project/"+url.PathEscape(n), &p)
		require.Equal(t, n, p.Project.Name)
		require.Equal(t, n, p.Packages[0].Name)
		require.Equal(t, `repo 'x'; --`, p.Packages[0].Repository)

		var l listResp
		f.getJSON(t, "/api/v1/projects?search="+url.QueryEscape(n), &l)
		require.Equal(t, []string{n}, projectNames(l.Projects), "search %q", n)
	}
	for _, e := range emails {
		var m struct{ Maintainer web.MaintainerInfo }
		f.getJSON(t, "/api/v1/maintainer/"+url.PathEscape(e), &m)
		require.Equal(t, e, m.Maintainer.Email)
		var l listResp
		f.getJSON(t, "/api/v1/projects?limit=100&maintainer="+url.QueryEscape(e), &l)
		require.NotEmpty(t, l.Projects)
	}
	var r struct{ Repository web.Repository }
	f.getJSON(t, "/api/v1/repository/"+url.PathEscape(`repo 'x'; --`), &r)
	require.Equal(t, len(names), r.Repository.NumProjects)
	require.Equal(t, int64(len(names)), count(t, f, "SELECT count(*) FROM projects"), "nothing was dropped")
}

func projectNames(ps []web.Project) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestRequestLimits(t *testing.T) {
	t.Parallel()
	f := setup(t)
	resp, _ := f.get(t, "/api/v1/projects?search="+strings.Repeat("a", 2000))
	require.Equal(t, http.StatusRequestURITooLong, resp.StatusCode)
	resp, _ = f.get(t, "/api/v1/statistics", "X-Big", strings.Repeat("b", 9000))
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	resp, _ = f.get(t, "/api/v1/statistics")
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
