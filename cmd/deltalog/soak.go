package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deltalog/deltalog/internal/pg/pgcluster"
	"github.com/deltalog/deltalog/internal/soak"
)

func newSoakCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Run deltalog under SIGKILLs and PostgreSQL restarts, then check nothing was lost",
		Long: `For --duration, run updates of generated repositories, projection workers, a replicator to an
embedded NATS server and a follower as deltalog processes on a PostgreSQL cluster of the soak's own
(under --home), while a chaos loop SIGKILLs random ones of them and restarts PostgreSQL with
pg_ctl stop -m immediate. Then check: every changelog seq exactly once in the stream, the
follower's state checksums equal to the leader's, the audit consistent, every reader at the
head within --settle of the last fault, one worker at a time throughout, no long-running
process ended by itself. Prints the figures; exit status 1 names the checks that failed.

The cluster under --home is restarted and its soak databases recreated: never point --home at
one that holds data. It is stopped at the end; the processes' logs stay in HOME/logs.`,
		Example: `  deltalog soak
  deltalog soak --duration 2m --kill-every 2s --restart-every 15s
  deltalog soak --home /tmp/soak --seed 42 --json`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	var cfg soak.Config
	def := soak.Config{}.WithDefaults()
	fs.StringVar(&cfg.Home, "home", "", "home of the soak's own cluster, created if missing, restarted and wiped (default $DELTALOG_HOME/soak, else .deltalog/soak)")
	fs.DurationVar(&cfg.Duration, "duration", def.Duration, "how long updates arrive and faults are injected")
	fs.DurationVar(&cfg.KillEvery, "kill-every", def.KillEvery, "mean time between two SIGKILLs")
	fs.DurationVar(&cfg.RestartEvery, "restart-every", def.RestartEvery, "mean time between two PostgreSQL restarts")
	fs.DurationVar(&cfg.Settle, "settle", def.Settle, "bound on the time every reader takes to reach the head after the faults stop")
	fs.IntVar(&cfg.MinKills, "min-kills", 0, "SIGKILLs the run must reach (default 100 per 10 minutes of --duration)")
	fs.IntVar(&cfg.MinRestarts, "min-restarts", 0, "PostgreSQL restarts the run must reach (default 20 per 10 minutes of --duration)")
	fs.IntVar(&cfg.Packages, "packages", def.Packages, "packages of the generated catalog")
	fs.IntVar(&cfg.Repos, "repos", def.Repos, "repositories of the generated catalog")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the catalog and the fault schedule (default: from the clock; the report names it)")
	fs.BoolVar(&cfg.KeepCluster, "keep-cluster", false, "leave the soak's cluster running at the end")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		if e.dbURL != "" {
			return usageError(errors.New("soak runs on a cluster of its own (it restarts PostgreSQL): use --home, not --db"))
		}
		bin, err := os.Executable()
		if err != nil {
			return err
		}
		if cfg.Home == "" {
			cfg.Home = filepath.Join(pgcluster.DefaultHome(), "soak")
		}
		cfg.Binary, cfg.Progress, cfg.Logger = bin, e.stderr, e.logger()
		rep, err := soak.Run(ctx, cfg)
		if errors.Is(err, soak.ErrInvalid) {
			return usageError(err)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			err = writeJSON(e.stdout, rep)
		} else {
			err = rep.WriteText(e.stdout)
		}
		if err != nil {
			return err
		}
		if failed := rep.Failed(); len(failed) > 0 {
			return fmt.Errorf("soak failed: %s", strings.Join(failed, ", "))
		}
		return nil
	})
	return cmd
}
