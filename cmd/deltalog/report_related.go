package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deltalog/deltalog/projections"
)

func newReportRelatedCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "related",
		Short: "Print the most related projects (sharing homepage or repository URLs) and the redirects",
		Long: `Print how many projects are related (they share a normalized homepage or repository URL: scheme,
"www.", trailing slashes and ".git" dropped, host lower-cased), through how many URLs, how many
URLs are carried by more projects than the cap (they relate nobody), how many redirects (packages
that moved to another project) were recorded, and the most related projects: by number of related
projects, then by the sum of the weights (the URLs shared with each).`,
		Example: `  deltalog report related
  deltalog report related --limit 5 --json`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	limit := fs.Int("limit", 10, "most related projects to list")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		if *limit < 0 {
			return usageError(fmt.Errorf("--limit %d: must not be negative", *limit))
		}
		pool, err := e.openExisting(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		rep, err := projections.ReportRelated(ctx, pool, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, rep)
		}
		fmt.Fprintf(e.stdout, "%d projects related in %d pairs through %d shared URLs; %d URLs of more than %d projects relate nobody\n",
			rep.Projects, rep.Relations, rep.SharedURLs, rep.OverCap, rep.Cap)
		fmt.Fprintf(e.stdout, "%d redirects (packages moved to another project)\n", rep.Redirects)
		if len(rep.Top) > 0 {
			fmt.Fprintf(e.stdout, "%-32s %8s %7s  %s\n", "project", "related", "weight", "most related")
		}
		for _, p := range rep.Top {
			fmt.Fprintf(e.stdout, "%-32s %8d %7d  %s\n", p.Project, p.NumRelated, p.Weight, strings.Join(p.Related, ", "))
		}
		return nil
	})
	return cmd
}
