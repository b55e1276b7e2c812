package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	dlsql "github.com/deltalog/deltalog/sql"
)

// problemTables are the catalog's problems (sql/queries/problems.sql):
// one row per package and kind of problem, and the counts by kind per
// repository and per maintainer. They read every level of the catalog
// below them (links and their counts by project, projects' newest,
// repositories' newest counts, maintainers' ids), so they come last.
//
// The counts are tables of their own rather than columns of repositories
// and maintainers: they are counts by kind (a row per kind present, none
// for a kind at zero), and the catalog's own definitions and counters stay
// as they are.
var problemTables = []table{
	{name: "problems", keys: []string{"project", "repo_id", "name", "kind"}, values: []string{"data", "maintainers"},
		expected: "expect-problems", scope: "(t.project, t.repo_id) IN (SELECT project, repo_id FROM t_problem_pairs)"},
	{name: "repository_problems", keys: []string{"repo_id", "kind"}, values: []string{"num_problems"},
		expected: "expect-repository-problems", scope: "true"},
	{name: "maintainer_problems", keys: []string{"maintainer_id", "kind"}, values: []string{"num_problems"},
		expected: "expect-maintainer-problems", scope: "true"},
}

// ProblemKinds are the kinds of problems, in the order reports list them.
var ProblemKinds = []string{"no_homepage", "homepage_http", "homepage_shared", "version_unparsed", "outdated_alone"}

// applyProblems brings the problems up to date on the delta path, after
// every other level of the catalog: the pairs whose problems can change
// (problems-scope: the pairs in scope and those other projects' changes
// reach, found through indexes) are re-derived by the definition, and the
// counts move by the differences of their rows.
func applyProblems(ctx context.Context, tx pgx.Tx, sch dlsql.Schemas) error {
	if err := timedExec(ctx, tx, "problems", dlsql.Render("problems-scope", sch)); err != nil {
		return err
	}
	if err := problemTables[0].sync(ctx, tx, sch); err != nil {
		return err
	}
	if err := timedExec(ctx, tx, "problems", dlsql.Render("problems-counts-delta", sch)); err != nil {
		return err
	}
	// Every row of the differences moves a count: re-derived and changed
	// are the same rows.
	for _, tb := range problemTables[1:] {
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM d_"+tb.name).Scan(&n); err != nil {
			return fmt.Errorf("%s: %w", tb.name, err)
		}
		statsFrom(ctx).add(tb.name, n, n)
	}
	return nil
}
