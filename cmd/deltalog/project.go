package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deltalog/deltalog/projections"
)

// projectFlags are the flags shared by `project` and `update --project`.
type projectFlags struct {
	only       string
	pageSize   int
	cacheSize  int
	rebuildLag int
}

func (f *projectFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.only, "only", "", "comma-separated projections to run (default all: "+strings.Join(projections.Names(), ",")+")")
	fs.IntVar(&f.pageSize, "page-size", 10000, "most events applied in one transaction")
	fs.IntVar(&f.cacheSize, "cache-size", 100000, "entries in each id cache (maintainers, links)")
	fs.IntVar(&f.rebuildLag, "rebuild-lag", 0, "a catalog more events than this behind catches up by a rebuild from state (0: automatic, over a fifth of its packagesets; -1: never)")
}

// check reports a bad flag value as a usage error, before anything
// connects to a database.
func (f *projectFlags) check() error {
	if _, err := f.selected(); err != nil {
		return err
	}
	if f.pageSize < 0 {
		return usageError(fmt.Errorf("--page-size %d: must not be negative", f.pageSize))
	}
	if f.rebuildLag < -1 {
		return usageError(fmt.Errorf("--rebuild-lag %d: want -1 (never), 0 (automatic) or a number of events", f.rebuildLag))
	}
	return nil
}

// selected returns the projections --only names (default all).
func (f *projectFlags) selected() ([]projections.Projection, error) {
	all, err := projections.Default(projections.CatalogConfig{CacheSize: f.cacheSize})
	if err != nil {
		return nil, err
	}
	var only []string
	if f.only != "" {
		only = strings.Split(f.only, ",")
	}
	ps, err := projections.Select(all, only)
	if err != nil {
		return nil, usageError(err)
	}
	return ps, nil
}

func (f *projectFlags) runner(e *env, pool *pgxpool.Pool) (*projections.Runner, error) {
	ps, err := f.selected()
	if err != nil {
		return nil, err
	}
	return projections.NewRunner(projections.Config{
		DB: pool, Projections: ps, PageSize: f.pageSize, RebuildLag: int64(f.rebuildLag), Logger: e.logger(),
	})
}

func newProjectCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project",
		Short: "Apply the changelog to the derived tables (the projections)",
		Long: `Apply the changelog's pending events to each projection's tables, page by page, each page in one
transaction with the projection's checkpoint. With --follow it keeps going, woken by notifications,
until interrupted.`,
		Example: `  deltalog project
  deltalog project --follow --only catalog --audit-every 1h`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	follow := fs.Bool("follow", false, "keep following the changelog (wakes on notifications) until interrupted")
	auditEvery := fs.Duration("audit-every", 0, "with --follow: audit the projections every DURATION between pages (recorded; see status)")
	var pf projectFlags
	pf.register(fs)
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		if err := pf.check(); err != nil {
			return err
		}
		if *auditEvery > 0 && !*follow {
			return usageError(errors.New("--audit-every needs --follow"))
		}
		e.longRunning = *follow
		pool, err := e.open(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		r, err := pf.runner(e, pool)
		if err != nil {
			return err
		}
		if *auditEvery > 0 {
			var only []string
			if pf.only != "" {
				only = strings.Split(pf.only, ",")
			}
			loopCtx, stop := context.WithCancel(ctx)
			defer startAuditLoop(loopCtx, e, pool, *auditEvery, only)() // runs after stop: waits for the loop to end
			defer stop()
		}
		start := time.Now()
		err = r.Run(ctx, *follow)
		if *follow && ctx.Err() != nil {
			err = nil // interrupted: a clean stop
		}
		if err != nil {
			return err
		}
		sts, err := projections.ReadStatus(context.WithoutCancel(ctx), pool)
		if err != nil {
			return err
		}
		for _, s := range sts {
			fmt.Fprintf(e.stdout, "%-8s checkpoint %d, lag %d, %s\n", s.Name, s.Checkpoint, s.Lag, s.State)
		}
		fmt.Fprintf(e.stdout, "projected in %.2fs\n", time.Since(start).Seconds())
		return nil
	})
	return cmd
}
