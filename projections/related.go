package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	dlsql "github.com/deltalog/deltalog/sql"
)

// relatedTables are the catalog's related projects, derived after the
// links (sql/queries/related.sql): related_urls counts the projects of
// each normalized URL (normalize_url, migration 015), project_related
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
func applyRelated(ctx context.Context, tx pgx.Tx, sch dlsql.Schemas) error {
	urls, projects := relatedTables[0], relatedTables[1]
	if err := timedExec(ctx, tx, urls.name, dlsql.Render("related-scope-urls", sch)); err != nil {
		return err
	}
	if err := urls.sync(ctx, tx, sch); err != nil {
		return err
	}
	if err := timedExec(ctx, tx, projects.name, dlsql.Render("related-scope-projects", sch)); err != nil {
		return err
	}
	return projects.sync(ctx, tx, sch)
}
