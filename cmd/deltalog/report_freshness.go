package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/deltalog/deltalog/web"
)

func newReportFreshnessCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "freshness",
		Short: "Print how long each repository takes to pick up a project's newest version",
		Long: `Print, per repository, the time it took to pick up the new newest versions whose first
appearance (in any repository) lies in the last --days days before the last batch the history
projection applied: the median and the 90th percentile (nearest rank) of the repositories that
caught up, and how many versions are still pending (counted apart, never as zero). The
repository that brought a version is no sample. Read from the history; the same figures as
/api/v1/repository/{name}/freshness.`,
		Example: `  deltalog report freshness
  deltalog report freshness --days 7 --json`,
		Args: cobra.NoArgs,
	}
	days := cmd.Flags().Int("days", web.DefaultFreshnessDays, "the window, in days")
	asJSON := cmd.Flags().Bool("json", false, "print as JSON")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		if *days < 1 {
			return usageError(fmt.Errorf("--days %d: want at least 1", *days))
		}
		pool, err := e.openExisting(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		f, err := web.ReadFreshness(ctx, pool, web.FreshnessParams{Days: *days})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, f)
		}
		printFreshness(e.stdout, f)
		return nil
	})
	return cmd
}

func printFreshness(w io.Writer, f web.Freshness) {
	if f.Until.IsZero() {
		fmt.Fprintln(w, "no history yet")
		return
	}
	fmt.Fprintf(w, "new newest versions first seen in the %d days to %s: %d\n", f.Days, f.Until.UTC().Format(time.DateTime), f.Targets)
	fmt.Fprintf(w, "%-24s %10s %10s %12s %12s\n", "repository", "caught up", "pending", "median", "p90")
	for _, r := range append(f.Repositories, f.Total) {
		name := r.Repository
		if name == "" {
			name = "all"
		}
		fmt.Fprintf(w, "%-24s %10d %10d %12s %12s\n", name, r.CaughtUp, r.Pending, seconds(r.MedianSeconds), seconds(r.P90Seconds))
	}
}

// seconds renders a duration in seconds to the second, "-" for none.
func seconds(s *float64) string {
	if s == nil {
		return "-"
	}
	return (time.Duration(*s * float64(time.Second))).Round(time.Second).String()
}
