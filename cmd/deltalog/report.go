package main

import (
	"github.com/spf13/cobra"
)

// newReportCmd groups the reports of what the catalog derives beyond its
// counts (problems, related projects, freshness): read-only, from the
// derived tables, the same queries the API serves.
func newReportCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Print what the catalog derives: problems, related projects, freshness",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newReportProblemsCmd(e), newReportRelatedCmd(e), newReportFreshnessCmd(e))
	return cmd
}
