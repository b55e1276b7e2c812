package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

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

func (f *genFlags) register(fs interface {
	Uint64Var(*uint64, string, uint64, string)
	IntVar(*int, string, int, string)
}) {
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the synthetic catalog")
	fs.IntVar(&f.repos, "repos", gen.DefaultRepos, "repositories")
	fs.IntVar(&f.packages, "packages", gen.DefaultPackages, "packages at generation 0")
}

func (f *genFlags) config() gen.Config {
	return gen.Config{Seed: f.seed, Repos: f.repos, Packages: f.packages}
}

func cmdGen(ctx context.Context, e *env, args []string) error {
	fs := e.flags("gen")
	var gf genFlags
	gf.register(fs)
	out := fs.String("out", "", "directory to write <repo>.jsonl files into (required)")
	generation := fs.Int("gen", 0, "generation to write (each differs from the one before by --rate)")
	rate := fs.Float64("rate", gen.DefaultRate, "share of packagesets changed from one generation to the next")
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("gen needs --out DIR and no arguments")}
	}
	cfg := gf.config()
	cfg.Rate = *rate
	g, err := gen.New(cfg)
	if err != nil {
		return &exitError{2, err}
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
}

func cmdBench(ctx context.Context, e *env, args []string) error {
	fs := e.flags("bench")
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
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("bench takes no arguments")}
	}
	cfg := bench.Config{
		Dir: *dir, Gen: gf.config(), Reps: *reps, FullReps: *fullReps,
		PageSize: *pageSize, CacheSize: *cacheSize, Progress: e.stderr, Logger: e.logger(),
	}
	for _, s := range strings.Split(*rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return &exitError{2, fmt.Errorf("--rates: %w", err)}
		}
		cfg.Rates = append(cfg.Rates, r)
	}
	if *cases != "" {
		cfg.Cases = strings.Split(*cases, ",")
	}
	for _, path := range []string{*debian, *pypi} {
		if _, err := os.Stat(path); path != "" && err != nil {
			return &exitError{2, err}
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
}
