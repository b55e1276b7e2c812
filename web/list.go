package web

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
)

// ProjectsParams selects a page of /api/v1/projects. Filters combine (AND);
// zero values do not filter.
type ProjectsParams struct {
	// After is the keyset cursor: the page starts after this name.
	After string
	Limit int
	// Search keeps the projects whose name contains it, ignoring case.
	Search string
	// Maintainer keeps the projects with a package maintained by this
	// email.
	Maintainer string
	// InRepo and NotInRepo keep the projects present in (absent from) a
	// repository.
	InRepo, NotInRepo string
	// Outdated keeps the projects whose packages in that repository are
	// all outdated; Newest those with a newest package there.
	Outdated, Newest string
	// MinRepos and MaxRepos bound the number of repositories (0: none).
	MinRepos, MaxRepos int
}

// parseProjectsParams reads the query parameters, or returns a
// *badRequest naming the one that is wrong.
func parseProjectsParams(q url.Values, defaultLimit, maxLimit int) (ProjectsParams, error) {
	p := ProjectsParams{
		After: q.Get("after"), Search: q.Get("search"), Maintainer: q.Get("maintainer"),
		InRepo: q.Get("inrepo"), NotInRepo: q.Get("notinrepo"), Outdated: q.Get("outdated"), Newest: q.Get("newest"),
	}
	var err error
	if p.Limit, err = intParam(q, "limit", defaultLimit, 1, maxLimit); err != nil {
		return p, err
	}
	if p.MinRepos, err = intParam(q, "min_repos", 0, 0, 1<<30); err != nil {
		return p, err
	}
	if p.MaxRepos, err = intParam(q, "max_repos", 0, 0, 1<<30); err != nil {
		return p, err
	}
	return p, nil
}

// badRequest is an invalid parameter: 400 with its message.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// intParam parses q's name as an integer in [lo, hi], def when absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, &badRequest{fmt.Sprintf("parameter %s: %q is not an integer in [%d, %d]", name, s, lo, hi)}
	}
	return n, nil
}

// psql builds with PostgreSQL's $n placeholders.
var psql = sq.StatementBuilder.PlaceholderFormat(sq.Dollar)

// inRepo is the semi-join of a project and its row in project_repositories
// for the repository named by the parameter; extra narrows the row.
func inRepo(extra string) string {
	return `EXISTS (SELECT 1 FROM project_repositories x JOIN repositories r ON r.id = x.repo_id
	        WHERE r.name = ? AND x.project = p.name` + extra + `)`
}

// projectsQuery is the one builder of the list query: every input is a
// placeholder argument, never SQL text. Each filter is served by an index
// (migration 007; TestProjectsPlansUseIndexes checks the plans).
func projectsQuery(p ProjectsParams) (string, []any, error) {
	b := psql.Select("p.name", "p.num_repos", "p.num_packages", "p.newest_version", "p.num_updates").
		From("projects p").
		Where("NOT p.orphaned")
	if p.After != "" {
		b = b.Where(sq.Gt{"p.name": p.After})
	}
	if p.Search != "" {
		// lower(name): the expression of the trigram index (migration
		// 012), which an equality on name cannot use.
		b = b.Where("lower(p.name) LIKE lower(?)", "%"+escapeLike(p.Search)+"%")
	}
	if p.Maintainer != "" {
		b = b.Where(`EXISTS (SELECT 1 FROM project_maintainers pm JOIN maintainers m ON m.id = pm.maintainer_id
		             WHERE m.email = ? AND pm.project = p.name)`, p.Maintainer)
	}
	if p.InRepo != "" {
		b = b.Where(inRepo(""), p.InRepo)
	}
	if p.NotInRepo != "" {
		b = b.Where("NOT "+inRepo(""), p.NotInRepo)
	}
	if p.Outdated != "" {
		b = b.Where(inRepo(" AND x.num_newest = 0"), p.Outdated)
	}
	if p.Newest != "" {
		b = b.Where(inRepo(" AND x.num_newest > 0"), p.Newest)
	}
	if p.MinRepos > 0 {
		b = b.Where(sq.GtOrEq{"p.num_repos": p.MinRepos})
	}
	if p.MaxRepos > 0 {
		b = b.Where(sq.LtOrEq{"p.num_repos": p.MaxRepos})
	}
	// One more than the page: whether there is a next page.
	return b.OrderBy("p.name").Limit(uint64(p.Limit) + 1).ToSql()
}

// escapeLike makes s match literally inside a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ProjectsPage is a page of projects and the cursor of the next one.
type ProjectsPage struct {
	Projects []Project `json:"projects"`
	// Next is the After of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

func (s *store) projects(ctx context.Context, p ProjectsParams) (ProjectsPage, error) {
	page := ProjectsPage{Projects: []Project{}}
	sql, args, err := projectsQuery(p)
	if err != nil {
		return page, fmt.Errorf("web: building the projects query: %w", err)
	}
	page.Projects, err = collect(ctx, s.db, "projects", func(row pgx.CollectableRow) (Project, error) {
		var pr Project
		return pr, row.Scan(&pr.Name, &pr.NumRepos, &pr.NumPackages, &pr.NewestVersion, &pr.NumUpdates)
	}, sql, args...)
	if err != nil {
		return page, err
	}
	if len(page.Projects) > p.Limit {
		page.Projects = page.Projects[:p.Limit]
		page.Next = page.Projects[p.Limit-1].Name
	}
	return page, nil
}
