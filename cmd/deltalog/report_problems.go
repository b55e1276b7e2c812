package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deltalog/deltalog/projections"
)

func newReportProblemsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "problems",
		Short: "Print the count of each kind of problem per repository, and the maintainers with the most",
		Long: `Print, per repository, how many packages have each kind of problem the catalog checks:
no_homepage (no homepage link), homepage_http (a homepage over http on a host some link
reaches over https), homepage_shared (a homepage URL another project carries too),
version_unparsed (a version the repository's scheme does not parse), outdated_alone
(outdated while every other repository with the project has the newest); then the
ten maintainers with the most problems. Read-only: the catalog's counts, as the API serves them.`,
		Example: `  deltalog report problems
  deltalog report problems --repo debian_12 --json`,
		Args: cobra.NoArgs,
	}
	repo := cmd.Flags().String("repo", "", "only this repository")
	asJSON := cmd.Flags().Bool("json", false, "print as JSON")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		pool, err := e.openExisting(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		rep, err := projections.ReadProblemReport(ctx, pool, projections.ProblemReportOpts{Repo: *repo})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, rep)
		}
		printProblemCounts(e, "repository", rep.Repositories)
		fmt.Fprintln(e.stdout)
		printProblemCounts(e, "maintainer", rep.Maintainers)
		return nil
	})
	return cmd
}

// printProblemCounts prints one row per repository or maintainer, one
// column per kind.
func printProblemCounts(e *env, what string, rows []projections.ProblemCounts) {
	width := len(what)
	for _, r := range rows {
		width = max(width, len(r.Name))
	}
	fmt.Fprintf(e.stdout, "%-*s", width, what)
	for _, k := range projections.ProblemKinds {
		fmt.Fprintf(e.stdout, " %*s", len(k), k)
	}
	fmt.Fprintf(e.stdout, " %8s\n", "total")
	for _, r := range rows {
		fmt.Fprintf(e.stdout, "%-*s", width, r.Name)
		for _, k := range projections.ProblemKinds {
			fmt.Fprintf(e.stdout, " %*d", len(k), r.Counts[k])
		}
		fmt.Fprintf(e.stdout, " %8d\n", r.Total)
	}
	if len(rows) == 0 {
		fmt.Fprintf(e.stdout, "%s\n", strings.Repeat("-", width)+" (none)")
	}
}
