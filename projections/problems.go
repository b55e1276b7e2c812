package projections

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/changelog"
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

// analyzeLevelsPairs is the page size, in pairs, from which a page
// analyzes the levels before the problems' definition runs
// (problems-analyze-levels) — when the statistics know fewer than
// analyzeLevelsShare times as many pairs (problems-levels-known): a fresh
// catalog's first pages, not a 1 % delta of 1M packages, whose statistics
// are at most a fraction off after the page. A 1 % delta of 100k packages
// stays below the size.
const (
	analyzeLevelsPairs = 5000
	analyzeLevelsShare = 4
)

// analyzeLevels tells whether a page of pairs pairs, on levels whose
// statistics count known pairs (-1: never analyzed), analyzes them first.
func analyzeLevels(pairs, known int64) bool {
	return pairs >= analyzeLevelsPairs && known < analyzeLevelsShare*pairs
}

// applyProblems brings the problems up to date on the delta path, after
// every other level of the catalog: the pairs whose problems can change
// (problems-scope: the pairs in scope and those other projects' changes
// reach, found through indexes) are re-derived by the definition, and the
// counts move by the differences of their rows.
func applyProblems(ctx context.Context, s *script, sch dlsql.Schemas, pairs, known int64) {
	if analyzeLevels(pairs, known) {
		s.exec("problems", dlsql.Render("problems-analyze-levels", sch))
	}
	s.exec("problems", dlsql.Render("problems-scope", sch))
	problemTables[0].sync(ctx, s, sch)
	s.exec("problems", dlsql.Render("problems-counts-delta", sch))
	for _, tb := range problemTables[1:] {
		countDifferences(ctx, s, tb.name)
	}
}

// ProblemReportOpts selects a problems report.
type ProblemReportOpts struct {
	// Repo limits the report to one repository (empty: all).
	Repo string
	// TopMaintainers is how many maintainers to list, most problems
	// first. Default 10.
	TopMaintainers int
}

// ProblemReport is the counts of each kind of problem per repository and
// the maintainers with the most problems.
type ProblemReport struct {
	Repositories []ProblemCounts `json:"repositories"`
	Maintainers  []ProblemCounts `json:"maintainers"`
}

// ProblemCounts is what one repository or maintainer (Name) has: the
// count of each kind (every kind present, zeros included) and their sum.
type ProblemCounts struct {
	Name   string         `json:"name"`
	Total  int            `json:"total"`
	Counts map[string]int `json:"counts"`
}

// ErrNoRepository is returned for a report of a repository the catalog
// does not hold.
var ErrNoRepository = errors.New("projections: no such repository")

// ReadProblemReport reads the report from the counts the catalog keeps
// (a repository's maintainers from its problems rows).
func ReadProblemReport(ctx context.Context, q changelog.Querier, opts ProblemReportOpts) (ProblemReport, error) {
	if opts.TopMaintainers <= 0 {
		opts.TopMaintainers = 10
	}
	rep := ProblemReport{Repositories: []ProblemCounts{}, Maintainers: []ProblemCounts{}}
	rows, err := q.Query(ctx, dlsql.Query("report-problems-repositories"), opts.Repo)
	if err != nil {
		return rep, fmt.Errorf("problems report: %w", err)
	}
	var c ProblemCounts
	var kind string
	var num int
	if _, err := pgx.ForEachRow(rows, []any{&c.Name, &kind, &num}, func() error {
		if n := len(rep.Repositories); n == 0 || rep.Repositories[n-1].Name != c.Name {
			rep.Repositories = append(rep.Repositories, newProblemCounts(c.Name))
		}
		if kind != "" {
			r := &rep.Repositories[len(rep.Repositories)-1]
			r.Counts[kind] += num
			r.Total += num
		}
		return nil
	}); err != nil {
		return rep, fmt.Errorf("problems report: %w", err)
	}
	if opts.Repo != "" && len(rep.Repositories) == 0 {
		return rep, fmt.Errorf("%w: %q", ErrNoRepository, opts.Repo)
	}
	rows, err = q.Query(ctx, dlsql.Query("report-problems-maintainers"), opts.Repo, opts.TopMaintainers)
	if err != nil {
		return rep, fmt.Errorf("problems report: %w", err)
	}
	var counts map[string]int
	if _, err := pgx.ForEachRow(rows, []any{&c.Name, &c.Total, &counts}, func() error {
		m := newProblemCounts(c.Name)
		m.Total = c.Total
		maps.Copy(m.Counts, counts)
		rep.Maintainers = append(rep.Maintainers, m)
		return nil
	}); err != nil {
		return rep, fmt.Errorf("problems report: %w", err)
	}
	return rep, nil
}

func newProblemCounts(name string) ProblemCounts {
	c := ProblemCounts{Name: name, Counts: map[string]int{}}
	for _, k := range ProblemKinds {
		c.Counts[k] = 0
	}
	return c
}
