package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/pg/database"
	"github.com/deltalog/deltalog/internal/pg/pgcluster"
	"github.com/deltalog/deltalog/projections"
	dlsql "github.com/deltalog/deltalog/sql"
)

func newStatusCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the head of the changelog, the repositories, the projections and the last audit",
		Long: `Show the changelog's head seq and state checksum, each repository's packages and checksum, each
projection's checkpoint and lag, the last audit and pending invalidations. Read-only: on a
$DELTALOG_HOME with no cluster it fails rather than create one.`,
		Example: `  deltalog status
  deltalog status --json`,
		Args: cobra.NoArgs,
	}
	asJSON := cmd.Flags().Bool("json", false, "print as JSON")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		pool, err := e.openExisting(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		st, err := changelog.ReadStatus(ctx, pool)
		if err != nil {
			return err
		}
		ps, err := projections.ReadStatus(ctx, pool)
		if err != nil {
			return err
		}
		as, err := readAuditStatus(ctx, pool)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, struct {
				*changelog.Status
				Projections []projections.Status `json:"projections"`
				*auditStatus
			}{st, ps, as})
		}
		fmt.Fprintf(e.stdout, "head seq %d, state checksum %s\n", st.HeadSeq, st.StateChecksum)
		for _, r := range st.Repositories {
			fmt.Fprintf(e.stdout, "  %-24s %9d packages %9d packagesets  %s  updated %s\n",
				r.Name, r.Packages, r.Packagesets, r.StateChecksum, r.UpdatedAt.Format("2006-01-02 15:04:05"))
		}
		for _, p := range ps {
			fmt.Fprintf(e.stdout, "projection %-8s checkpoint %d, lag %d, %s", p.Name, p.Checkpoint, p.Lag, p.State)
			if p.Error != "" {
				fmt.Fprintf(e.stdout, ": %s", p.Error)
			}
			if p.State == "stalled" {
				fmt.Fprintf(e.stdout, ": a worker holds it, but its checkpoint has not moved since %s while events wait",
					p.UpdatedAt.Format("2006-01-02 15:04:05"))
			}
			fmt.Fprintln(e.stdout)
		}
		printAuditStatus(e.stdout, as)
		return nil
	})
	return cmd
}

func newMigrateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "migrate",
		Short:   "Apply the schema migrations (every command does so before it starts)",
		Example: `  deltalog migrate --db postgres://deltalog@db.example/deltalog`,
		Args:    cobra.NoArgs,
	}
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		pool, err := e.open(ctx) // Open migrates.
		if err != nil {
			return err
		}
		pool.Close()
		fmt.Fprintf(e.stdout, "schema up to date (%s)\n", dlsql.MigrationsHash())
		return nil
	})
	return cmd
}

// newDBCmd is `db start|stop|status|url`, on the managed cluster.
func newDBCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db start|stop|status|url",
		Short: "Manage the private PostgreSQL cluster under $DELTALOG_HOME",
		Long: `Manage the private PostgreSQL cluster deltalog runs under $DELTALOG_HOME (default ./.deltalog),
listening on a Unix socket only.`,
		Example: `  deltalog db start
  psql "$(deltalog db url)"
  DELTALOG_HOME=/srv/deltalog deltalog db stop`,
	}
	sub := func(name, short string, body func(ctx context.Context, c *pgcluster.Cluster) error) {
		cmd.AddCommand(&cobra.Command{
			Use: name, Short: short, Args: cobra.NoArgs,
			RunE: e.runE(func(ctx context.Context, _ []string) error {
				c, err := database.Cluster(e.dbOptions())
				if err != nil {
					return err
				}
				return body(ctx, c)
			}),
		})
	}
	sub("start", "Create the cluster if there is none, start it, and print the URL of its database",
		func(ctx context.Context, c *pgcluster.Cluster) error {
			if err := c.Start(ctx); err != nil {
				return err
			}
			if err := c.EnsureDatabase(ctx, database.DefaultName); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, c.URL(database.DefaultName))
			return nil
		})
	sub("stop", "Stop the cluster (nothing to do when it is not running)",
		func(ctx context.Context, c *pgcluster.Cluster) error { return c.Stop(ctx) })
	sub("status", "Print the cluster's state as JSON", func(ctx context.Context, c *pgcluster.Cluster) error {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		return writeJSON(e.stdout, st)
	})
	sub("url", "Print the URL of the cluster's database (without starting it)", func(_ context.Context, c *pgcluster.Cluster) error {
		fmt.Fprintln(e.stdout, c.URL(database.DefaultName))
		return nil
	})
	return cmd
}
