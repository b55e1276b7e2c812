package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/changelog"
	dlsql "github.com/deltalog/deltalog/sql"
)

// relatedTables are the catalog's related projects, derived after the
// links (sql/queries/related.sql): related_urls counts the projects of
// each normalized URL (links.normalized_url, by normalize_url: migration
// 015), project_related
// relates the projects that share URLs, both ways, weighted by how many
// normalized URLs they share. A URL of more than related_url_cap()
// projects relates nobody. Whether a project has related projects is not
// a column of projects: projects is derived before them, and one probe of
// project_related's primary key answers it (the read side's
// web-project-related).
var relatedTables = []table{
	{name: "related_urls", keys: []string{"url"}, values: []string{"num_projects"},
		expected: "expect-related-urls", scope: "t.url IN (SELECT url FROM t_related_urls)"},
	{name: "project_related", keys: []string{"project", "related"}, values: []string{"weight"},
		expected: "expect-project-related", scope: "t.project IN (SELECT project FROM t_related)"},
}

// applyRelated brings the related projects up to date on the delta path,
// after project_links and links moved: only the normalized URLs a project
// gained or lost are recounted, and only the projects carrying them (while
// under the cap) re-derive their relations. A page that moves no link's
// set of projects reads nothing here but its own temporary tables.
func applyRelated(ctx context.Context, s *script, sch dlsql.Schemas) {
	urls, projects := relatedTables[0], relatedTables[1]
	s.exec(urls.name, dlsql.Render("related-scope-urls", sch))
	urls.sync(ctx, s, sch)
	s.exec(projects.name, dlsql.Render("related-scope-projects", sch))
	projects.sync(ctx, s, sch)
}

// RelatedReport summarizes the related projects (deltalog report
// related).
type RelatedReport struct {
	// Projects have related projects; Relations counts the related pairs
	// (once each).
	Projects  int64 `json:"projects"`
	Relations int64 `json:"relations"`
	// SharedURLs are the normalized URLs that relate projects (of 2 to Cap
	// projects); OverCap those of more than Cap projects, which relate
	// nobody.
	SharedURLs int64 `json:"shared_urls"`
	OverCap    int64 `json:"over_cap"`
	Cap        int   `json:"cap"`
	// Redirects are the moves of packages between projects recorded.
	Redirects int64 `json:"redirects"`
	// Top are the most related projects.
	Top []RelatedProject `json:"top"`
}

// RelatedProject is one project of the report: how many projects it is
// related to, the sum of the weights, and its most related ones.
type RelatedProject struct {
	Project    string   `json:"project"`
	NumRelated int      `json:"num_related"`
	Weight     int      `json:"weight"`
	Related    []string `json:"related"`
}

// ReportRelated reads the related projects' summary and the limit most
// related projects.
func ReportRelated(ctx context.Context, q changelog.Querier, limit int) (*RelatedReport, error) {
	r := &RelatedReport{}
	if err := q.QueryRow(ctx, dlsql.Query("report-related-totals")).
		Scan(&r.Projects, &r.Relations, &r.SharedURLs, &r.OverCap, &r.Cap, &r.Redirects); err != nil {
		return nil, fmt.Errorf("related report: %w", err)
	}
	rows, err := q.Query(ctx, dlsql.Query("report-related-top"), limit)
	if err != nil {
		return nil, fmt.Errorf("related report: %w", err)
	}
	r.Top, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (RelatedProject, error) {
		var p RelatedProject
		return p, row.Scan(&p.Project, &p.NumRelated, &p.Weight, &p.Related)
	})
	if err != nil {
		return nil, fmt.Errorf("related report: %w", err)
	}
	return r, nil
}
