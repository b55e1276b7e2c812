package projections

import (
	"context"

	dlsql "github.com/deltalog/deltalog/sql"
)

// The catalog's categories: the repositories' classification of their
// packages (packages.category, Debian's Section; the empty category is
// none). project_categories is a level-1 table, kept per (project,
// repository) pair in scope like the others; category_projects (a
// project's packages per category across repositories) and
// repository_categories (per repository and category: projects and
// packages) are defined over it for the audit and rebuilds, and move by its
// counter differences on the delta path (applyCategories).
var (
	projectCategories = table{name: "project_categories", keys: []string{"project", "repo_id", "category"},
		values: []string{"num_packages"}, expected: "expect-project-categories", scope: byPair}
	categoryProjects = table{name: "category_projects", keys: []string{"category", "project"},
		values: []string{"refcount"}, expected: "expect-category-projects", scope: "true"}
	repositoryCategories = table{name: "repository_categories", keys: []string{"repo_id", "category"},
		values: []string{"num_projects", "num_packages"}, expected: "expect-repository-categories", scope: "true"}
)

// applyCategories moves category_projects and repository_categories by the
// differences of the page's project_categories rows (categories-delta),
// after the level-1 sync: a page reads only the rows of the categories its
// pairs moved, by key.
func applyCategories(ctx context.Context, s *script, sch dlsql.Schemas) {
	s.exec("categories", dlsql.Render("categories-delta", sch))
	for _, tb := range []table{categoryProjects, repositoryCategories} {
		tb.write(ctx, s, sch.Schema)
	}
}
