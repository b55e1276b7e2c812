package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deltalog/deltalog/internal/bench"
	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/internal/pg/database"
)

// genFlags are the synthetic catalog's flags, shared by gen and bench.
type genFlags struct {
	seed     uint64
	repos    int
	packages int
}

func (f *genFlags) register(fs *pflag.FlagSet) {
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the synthetic catalog")
	fs.IntVar(&f.repos, "repos", gen.DefaultRepos, "repositories")
	fs.IntVar(&f.packages, "packages", gen.DefaultPackages, "packages at generation 0")
}

func (f *genFlags) config() gen.Config {
	return gen.Config{Seed: f.seed, Repos: f.repos, Packages: f.packages}
}

func newGenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gen --out DIR",
		Short: "Write a synthetic catalog, one JSONL snapshot per repository",
		Long: `Write a synthetic catalog as one JSONL snapshot per repository (<repo>.jsonl in --out), the same
for the same seed; each generation differs from the one before by --rate of its packagesets.`,
		Example: `  deltalog gen --out /tmp/catalog --packages 100000 --repos 4
  deltalog gen --out /tmp/catalog --gen 1 --rate 0.01`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	var gf genFlags
	gf.register(fs)
	out := fs.String("out", "", "directory to write <repo>.jsonl files into (required)")
	generation := fs.Int("gen", 0, "generation to write (each differs from the one before by --rate)")
	rate := fs.Float64("rate", gen.DefaultRate, "share of packagesets changed from one generation to the next")
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		if *out == "" {
			return usageError(errors.New("gen needs --out DIR"))
		}
		cfg := gf.config()
		cfg.Rate = *rate
		g, err := gen.New(cfg)
		if err != nil {
			return usageError(err)
		}
		_, st, err := g.WriteFiles(ctx, *generation, *out)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, st)
		}
		fmt.Fprintf(e.stdout, "generation %d: %d packages (%d packagesets, %d projects) in %d repositories, %.0f MiB of JSONL in %s\n",
			st.Generation, st.Packages, st.Packagesets, st.Projects, g.Config().Repos, float64(st.Bytes)/(1<<20), *out)
		return nil
	})
	return cmd
}

func newBenchCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Compare deltalog with full recomputes, materialized views and COPY on a synthetic catalog",
		Long: `Run the benchmark: on a synthetic catalog (and optionally the real Debian and PyPI data), time the
full ingest, unchanged and delta updates, the projections, and the alternatives (full recompute,
materialized views, COPY), each case in a database the benchmark creates and drops on the server.`,
		Example: `  deltalog bench --packages 100000 --debian ../shared/data/debian
  deltalog bench --packages 20000 --rates 0.01 --cases full,delta,recompute --json`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	var gf genFlags
	gf.register(fs)
	rates := fs.String("rates", "0.001,0.01,0.1", "change rates of the delta cases")
	reps := fs.Int("reps", 3, "runs of each repeatable case (the median is reported)")
	fullReps := fs.Int("full-reps", 1, "runs of the full ingest, each into a wiped database")
	cases := fs.String("cases", "", "comma-separated case groups to run (default all: "+strings.Join(bench.Groups, ",")+")")
	debian := fs.String("debian", "", "add the real Debian workload from the archive indexes in this directory (bookworm → overlays → trixie)")
	pypi := fs.String("pypi", "", "add the PyPI list (TSV, possibly compressed) in this file as a workload")
	peer := fs.Bool("peer-debian", false, "add Repology's workload on the --debian data, next to the peer's published figures")
	dir := fs.String("dir", "", "keep the generated snapshots in this directory (default: a temporary one, removed)")
	keep := fs.Bool("keep", false, "keep the benchmark database afterwards")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	pageSize := fs.Int("page-size", 10000, "most events a projection applies in one transaction")
	cacheSize := fs.Int("cache-size", 100000, "entries in each projection id cache (maintainers, links)")
	dbName := fs.String("db-name", bench.DefaultDatabase, "database the benchmark creates (and wipes) on the server")
	apiRates := fs.IntSlice("api-rates", bench.APIRates, "request rates per second of the api case")
	apiStep := fs.Duration("api-step", bench.APIStep, "how long the api case holds each rate")
	apiServe := fs.String("api-serve-args", "", "extra flags of the api case's deltalog serve, e.g. \"--read-conns 16\"")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		cfg := bench.Config{
			Dir: *dir, Gen: gf.config(), Reps: *reps, FullReps: *fullReps,
			PageSize: *pageSize, CacheSize: *cacheSize, Progress: e.stderr, Logger: e.logger(),
			APIRates: *apiRates, APIStep: *apiStep, APIServeArgs: strings.Fields(*apiServe),
		}
		// The api case runs this binary as the server and the updates.
		if exe, err := os.Executable(); err == nil {
			cfg.Exe = exe
		}
		for _, s := range strings.Split(*rates, ",") {
			r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return usageError(fmt.Errorf("--rates: %w", err))
			}
			cfg.Rates = append(cfg.Rates, r)
		}
		if *cases != "" {
			cfg.Cases = strings.Split(*cases, ",")
		}
		for _, path := range []string{*debian, *pypi} {
			if _, err := os.Stat(path); path != "" && err != nil {
				return usageError(err)
			}
		}
		cfg.DebianDir, cfg.PyPIFile, cfg.PeerDebian = *debian, *pypi, *peer

		base, err := database.URL(ctx, e.dbOptions())
		if err != nil {
			return err
		}
		url, drop, err := bench.NewDatabase(ctx, base, *dbName)
		if err != nil {
			return err
		}
		if !*keep {
			defer drop(context.WithoutCancel(ctx)) //nolint:errcheck // best effort
		}
		cfg.URL = url

		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		rep, err := bench.Run(ctx, cfg)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, rep)
		}
		return rep.WriteTable(e.stdout)
	})
	return cmd
}
