package bench

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
	dlsql "github.com/deltalog/deltalog/sql"
)

// Case names, as printed and as keys of Report.Case.
const (
	CaseParseHash = "parse + hash"
	CaseCopy      = "COPY floor"
	CaseFull      = "full ingest"
	CaseNoChange  = "no-change update"
	CaseRecompute = "full recompute"
	CaseViews     = "materialized views"
	CaseTail      = "tail"
	// CaseSingle is the delta of one packageset in one repository: the
	// everyday case, one security update.
	CaseSingle = "delta: 1 packageset"
	CaseReplay = "replay (rebuild --from changelog)"
)

// caseRank orders the cases in the report.
func caseRank(name string) int {
	for i, prefix := range []string{CaseParseHash, CaseCopy, CaseFull, CaseNoChange, "delta", CaseRecompute, CaseViews, CaseTail} {
		if strings.HasPrefix(name, prefix) {
			return i
		}
	}
	return 99
}

// DeltaCase is the name of the delta case of a rate: "delta 1%".
func DeltaCase(rate float64) string {
	return "delta " + strconv.FormatFloat(rate*100, 'f', -1, 64) + "%"
}

// Groups are the names Config.Cases selects cases by.
var Groups = []string{"parse", "copy", "full", "nochange", "delta", "recompute", "views", "tail", "replay", "api"}

// defaultGroups are the groups run when Config.Cases is empty: all but
// the API load (api.go), which is asked for by name.
var defaultGroups = slices.DeleteFunc(slices.Clone(Groups), func(g string) bool { return g == "api" })

// Config configures Run. Zero fields take their defaults.
type Config struct {
	// URL of the database to run in. Run wipes it: see the package doc.
	URL string
	// Dir holds the generated snapshots; default a temporary directory,
	// removed at the end.
	Dir string
	// Gen is the synthetic catalog (default: gen's defaults, seed 1). Its
	// Rate is ignored: Rates gives the deltas.
	Gen gen.Config
	// Rates are the change rates of the delta cases. Default 0.001, 0.01,
	// 0.1.
	Rates []float64
	// Reps is how many times each repeatable case runs. Default 3.
	Reps int
	// FullReps is how many full ingests run, each into a wiped database.
	// Default 1.
	FullReps int
	// Cases selects case groups (see Groups); default all. The full ingest
	// runs whenever a case needs a loaded database.
	Cases []string
	// PageSize and CacheSize configure the projection runner (defaults
	// 10000 and 100000, as `deltalog project`).
	PageSize, CacheSize int
	// DebianDir, when set, adds the real Debian workload from the archive
	// indexes there (bookworm → overlays → trixie).
	DebianDir string
	// PyPIFile, when set, adds the PyPI list (TSV, possibly compressed) as
	// a workload.
	PyPIFile string
	// PeerDebian adds Repology's workload on the Debian data of DebianDir
	// (which it requires), next to the peer's published figures: bookworm
	// and trixie Sources as one repository each, initial, no-change and the
	// bookworm overlays as the delta.
	PeerDebian bool
	// Exe is the deltalog binary the API load case runs as `deltalog
	// serve`, `update` and `project` processes (required by that case).
	Exe string
	// APIRates and APIStep are the API load case's rates and how long each
	// is held (defaults APIRates and APIStep); APIServeArgs are extra
	// flags of its `deltalog serve`.
	APIRates     []int
	APIStep      time.Duration
	APIServeArgs []string
	// Progress, when set, receives a line per step.
	Progress io.Writer
	Logger   *slog.Logger
}

func (c *Config) withDefaults() error {
	if c.Gen.Seed == 0 {
		c.Gen.Seed = 1
	}
	c.Gen.Rate = 0
	c.Gen = c.Gen.WithDefaults()
	if c.Rates == nil {
		c.Rates = []float64{0.001, 0.01, 0.1}
	}
	if c.Reps == 0 {
		c.Reps = 3
	}
	if c.FullReps == 0 {
		c.FullReps = 1
	}
	if c.Cases == nil {
		c.Cases = defaultGroups
	}
	if c.PageSize == 0 {
		c.PageSize = 10000
	}
	if c.CacheSize == 0 {
		c.CacheSize = 100000
	}
	if c.APIRates == nil {
		c.APIRates = APIRates
	}
	if c.APIStep == 0 {
		c.APIStep = APIStep
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("URL is required"))
	}
	if c.Reps < 1 || c.FullReps < 1 {
		errs = append(errs, errors.New("Reps and FullReps must be positive"))
	}
	for _, r := range c.Rates {
		if !(r > 0 && r <= 1) {
			errs = append(errs, fmt.Errorf("rate %v outside (0, 1]", r))
		}
	}
	if c.want("api") && c.Exe == "" {
		errs = append(errs, errors.New("the api case runs deltalog serve, update and project as processes of their own: "+
			"it needs the deltalog binary (Exe)"))
	}
	if c.APIStep < 0 {
		errs = append(errs, fmt.Errorf("API step %s is negative", c.APIStep))
	}
	for _, r := range c.APIRates {
		if r <= 0 {
			errs = append(errs, fmt.Errorf("API rate %d is not positive", r))
		}
	}
	if c.PeerDebian && c.DebianDir == "" {
		errs = append(errs, errors.New("PeerDebian needs DebianDir"))
	}
	for _, cs := range c.Cases {
		if !slices.Contains(Groups, cs) {
			errs = append(errs, fmt.Errorf("unknown case %q (known: %s)", cs, strings.Join(Groups, ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

func (c *Config) want(group string) bool { return slices.Contains(c.Cases, group) }

// Report is the outcome of Run.
type Report struct {
	Scale   Scale   `json:"scale"`
	Machine Machine `json:"machine"`
	// Cases are the synthetic catalog's cases: parse + hash, COPY floor,
	// full ingest, no-change update, the deltas, full recompute,
	// materialized views, tail.
	Cases []Case `json:"cases"`
	// Targets are the goals of issues 6 and 12, checked against the cases.
	Targets []Target `json:"targets"`
	// API is the read side's load case (api.go).
	API []APIRun `json:"api,omitempty"`
	// Workloads are the real data sets.
	Workloads []Workload `json:"workloads,omitempty"`
	// Audits are the audits run after each family of cases.
	Audits []AuditResult `json:"audits"`
	// HashBytesPerSecond is the canonical encoding and hashing rate on one
	// core, in bytes of canonical encoding per second.
	HashBytesPerSecond float64 `json:"hash_bytes_per_second"`
	// ParseBytesPerSecond is the input bytes parsed (and hashed) per
	// second; ReadBytesPerSecond is reading (and decompressing) alone.
	ParseBytesPerSecond float64 `json:"parse_bytes_per_second"`
	ReadBytesPerSecond  float64 `json:"read_bytes_per_second"`
	// PeakRSS is the peak resident set size of the process over the run;
	// PerCaseRSS tells whether it could be reset between cases (Linux).
	PeakRSS    int64   `json:"peak_rss_bytes"`
	PerCaseRSS bool    `json:"per_case_rss"`
	Seconds    float64 `json:"seconds"`
}

// Case looks a case up by name.
func (r *Report) Case(name string) *Case {
	for i := range r.Cases {
		if r.Cases[i].Name == name {
			return &r.Cases[i]
		}
	}
	return nil
}

// Scale is what the synthetic catalog held.
type Scale struct {
	Seed        uint64    `json:"seed"`
	Repos       int       `json:"repos"`
	Packages    int       `json:"packages"`
	Packagesets int       `json:"packagesets"`
	Projects    int       `json:"projects"`
	InputBytes  int64     `json:"input_bytes"`
	Rates       []float64 `json:"rates"`
	Reps        int       `json:"reps"`
	PageSize    int       `json:"page_size"`
}

// Case is one measured case: medians over its runs.
type Case struct {
	Name string `json:"name"`
	What string `json:"what"`
	Runs int    `json:"runs"`
	// Seconds is the median time end to end.
	Seconds float64 `json:"seconds"`
	// DBSeconds is the median database work, where the case has any:
	// everything after parse + hash (diff, changelog append, current
	// state, commit, statistics) plus the projections.
	DBSeconds *float64 `json:"db_seconds,omitempty"`
	// ParseSeconds (parse + hash) and ProjectSeconds (projections) are
	// medians of the parts of an update.
	ParseSeconds   *float64 `json:"parse_seconds,omitempty"`
	ProjectSeconds *float64 `json:"project_seconds,omitempty"`
	// ReadSeconds is reading (and decompressing) the input alone, of
	// InputBytes decompressed bytes; HashBytesPerSecond the canonical
	// encoding and hashing rate on one core (parse + hash cases).
	ReadSeconds        *float64  `json:"read_seconds,omitempty"`
	InputBytes         int64     `json:"input_bytes,omitempty"`
	HashBytesPerSecond float64   `json:"hash_bytes_per_second,omitempty"`
	Samples            []float64 `json:"samples"`
	DBSamples          []float64 `json:"db_samples,omitempty"`
	// Events is the number of changelog events one run appended (or, for
	// tail, read).
	Events int `json:"events,omitempty"`
	// Rows counts the rows or packages one run handled.
	Rows    int64 `json:"rows,omitempty"`
	PeakRSS int64 `json:"peak_rss_bytes,omitempty"`
	// WALBytes is the median of the WAL one run wrote (update cases).
	WALBytes int64 `json:"wal_bytes,omitempty"`
	// Floor is the ideal-delta floor and amplification of a delta case.
	Floor *Floor `json:"floor,omitempty"`
	// PeerSeconds is the peer's published time for the same case.
	PeerSeconds *float64 `json:"peer_seconds,omitempty"`
	Note        string   `json:"note,omitempty"`
}

// Workload is a real data set's sequence of cases.
type Workload struct {
	Name  string `json:"name"`
	Note  string `json:"note,omitempty"`
	Cases []Case `json:"cases"`
}

// Run runs the benchmark.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	started := time.Now()
	h := &harness{cfg: cfg, rep: &Report{}}
	h.rep.PerCaseRSS = resetPeakRSS()

	pool, err := openPool(ctx, cfg.URL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	h.pool = pool
	if err := h.checkDisposable(ctx); err != nil {
		return nil, err
	}
	h.rep.Machine = machine(ctx, pool)

	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "deltalog-bench-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	h.dir = dir

	if err := h.synthetic(ctx); err != nil {
		return nil, err
	}
	slices.SortStableFunc(h.rep.Cases, func(a, b Case) int { return caseRank(a.Name) - caseRank(b.Name) })
	if cfg.DebianDir != "" {
		if err := h.debian(ctx); err != nil {
			return nil, fmt.Errorf("bench: Debian workload: %w", err)
		}
	}
	if cfg.PyPIFile != "" {
		if err := h.pypi(ctx); err != nil {
			return nil, fmt.Errorf("bench: PyPI workload: %w", err)
		}
	}
	if cfg.PeerDebian {
		if err := h.peerDebian(ctx); err != nil {
			return nil, fmt.Errorf("bench: Repology workload: %w", err)
		}
	}
	h.rep.PeakRSS = max(h.rep.PeakRSS, peakRSS())
	h.rep.Targets = targets(h.rep, cfg.Gen.Packages)
	h.rep.Seconds = time.Since(started).Seconds()
	return h.rep, nil
}

// harness holds the state of one run.
type harness struct {
	cfg     Config
	rep     *Report
	pool    *pgxpool.Pool
	dir     string
	updater *changelog.Updater
	runner  *projections.Runner
	// pages collects what each projection page did (Config.PageFunc),
	// for the pass that runs them.
	pages projections.StatsSum
	// cache is the updates' parse cache, as `deltalog update` keeps one;
	// last holds each repository's files of its last update.
	cache *formats.ParseCache
	last  map[string][]string
	// childCPU is the CPU time, in ns, of the processes the api case ran
	// to completion (updates and projections).
	childCPU atomic.Int64
}

func (h *harness) progress(format string, args ...any) {
	fmt.Fprintf(h.cfg.Progress, "bench: "+format+"\n", args...)
}

func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("bench: database URL: %w", err)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("bench: %w", err)
	}
	return pool, nil
}

// checkDisposable refuses a database that holds a catalog, unless its name
// says it is a benchmark's.
func (h *harness) checkDisposable(ctx context.Context) error {
	var name string
	var repos int64
	err := h.pool.QueryRow(ctx, `SELECT current_database(),
	    CASE WHEN to_regclass('public.repos') IS NULL THEN 0 ELSE 1 END`).Scan(&name, &repos)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if repos > 0 && !strings.Contains(name, "bench") {
		if err := h.pool.QueryRow(ctx, "SELECT count(*) FROM public.repos").Scan(&repos); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if repos > 0 {
			return fmt.Errorf("bench: database %q holds %d repositories and the benchmark wipes its database: "+
				"give it an empty one (or one whose name contains \"bench\")", name, repos)
		}
	}
	return nil
}

// wipe drops everything in the database and migrates it again, with a
// fresh updater and projection runner (whose id caches must not outlive
// the ids).
func (h *harness) wipe(ctx context.Context) error {
	if _, err := h.pool.Exec(ctx, query("views-drop")+";"+query("copy-floor-drop")+";"+query("floor-drop")+
		"; DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		return fmt.Errorf("wiping the database: %w", err)
	}
	h.pool.Reset() // cached statements name dropped relations
	// A new database has seen no file: nor has the parse cache.
	h.last = map[string][]string{}
	if h.dir != "" {
		h.cache = &formats.ParseCache{Dir: filepath.Join(h.dir, "parse-cache")}
		if err := os.RemoveAll(h.cache.Dir); err != nil {
			return err
		}
	}
	conn, err := h.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	err = dlsql.Migrate(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		return err
	}
	return h.newWriters()
}

// newWriters gives the harness a new updater and projection runner, with
// empty id caches.
func (h *harness) newWriters() error {
	var err error
	if h.updater, err = changelog.NewUpdater(h.pool, changelog.Config{Logger: h.cfg.Logger}); err != nil {
		return err
	}
	ps, err := projections.Default(projections.CatalogConfig{CacheSize: h.cfg.CacheSize})
	if err != nil {
		return err
	}
	h.runner, err = projections.NewRunner(projections.Config{
		DB: h.pool, Projections: ps, PageSize: h.cfg.PageSize, Logger: h.cfg.Logger, PageFunc: h.pages.Add,
	})
	return err
}

// snapshot is one repository's input of an update.
type snapshot struct {
	repo   string
	format formats.Format
	scheme version.Scheme
	files  []string
}

// pass is the outcome of updating a set of repositories and catching the
// projections up.
type pass struct {
	e2e, db, parse, project time.Duration
	events, packages        int
	// wal is the bytes of WAL the pass wrote (the server's, so another
	// database's writes would count too: the benchmark's server is its own).
	wal int64
	// tables is what the projections' pages did, per derived table.
	tables map[string]projections.TableStats
}

// keepUnchanged leaves in the parse cache, of s's repository, only the
// entries of the files its last update read too: the cases alternate
// between two states, so the cache would otherwise hold both states'
// files, where a real sequence of updates finds only the unchanged ones
// (a suite, not its new overlays) parsed before.
func (h *harness) keepUnchanged(ctx context.Context, s snapshot) error {
	if h.cache == nil || len(s.files) < 2 {
		return nil // a snapshot of one file is not cached
	}
	var same []string
	for _, f := range s.files {
		if slices.Contains(h.last[s.repo], f) {
			same = append(same, f)
		}
	}
	files, err := formats.HashFiles(ctx, same)
	if err != nil {
		return err
	}
	return h.cache.Retain(s.repo, s.format, files)
}

// update applies the snapshots one after the other, then runs the
// projections until they have caught up.
func (h *harness) update(ctx context.Context, snaps []snapshot) (pass, error) {
	var p pass
	var lsn string
	if err := h.pool.QueryRow(ctx, query("wal-position")).Scan(&lsn); err != nil {
		return p, err
	}
	for _, s := range snaps {
		if err := h.keepUnchanged(ctx, s); err != nil {
			return p, err
		}
		sum, err := ingest.Run(ctx, h.updater, ingest.Params{
			Repo: s.repo, Format: s.format, Files: s.files, Force: true, VersionScheme: s.scheme, ParseCache: h.cache,
		})
		if err != nil {
			return p, err
		}
		h.last[s.repo] = s.files
		total, parse := secs(sum.Seconds), secs(sum.ParseSeconds)
		p.e2e += total
		p.parse += parse
		p.db += total - parse
		p.events += sum.Events
		p.packages += sum.Packages
	}
	start := time.Now()
	h.pages.Take()
	if err := h.runner.Run(ctx, false); err != nil {
		return p, fmt.Errorf("projections: %w", err)
	}
	p.project = time.Since(start)
	p.tables = h.pages.Take()
	p.e2e += p.project
	p.db += p.project
	if err := h.pool.QueryRow(ctx, query("wal-since"), lsn).Scan(&p.wal); err != nil {
		return p, err
	}
	return p, nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// recorder collects the runs of one case.
type recorder struct {
	c                  Case
	db, parse, project []float64
	events             []int
	rows, wal          []int64
}

func newCase(name, what string) *recorder {
	resetPeakRSS()
	return &recorder{c: Case{Name: name, What: what}}
}

func (r *recorder) addPass(p pass) {
	r.c.Samples = append(r.c.Samples, p.e2e.Seconds())
	r.db = append(r.db, p.db.Seconds())
	r.parse = append(r.parse, p.parse.Seconds())
	r.project = append(r.project, p.project.Seconds())
	r.events = append(r.events, p.events)
	r.rows = append(r.rows, int64(p.packages))
	r.wal = append(r.wal, p.wal)
}

// addDB records a run that is all database work.
func (r *recorder) addDB(d time.Duration, rows int64) {
	r.c.Samples = append(r.c.Samples, d.Seconds())
	r.db = append(r.db, d.Seconds())
	r.rows = append(r.rows, rows)
}

func (r *recorder) done(rep *Report) Case {
	c := r.c
	c.Runs = len(c.Samples)
	c.Seconds = median(c.Samples)
	if len(r.db) > 0 {
		c.DBSamples = r.db
		c.DBSeconds = ptr(median(r.db))
	}
	if len(r.parse) > 0 {
		c.ParseSeconds = ptr(median(r.parse))
		c.ProjectSeconds = ptr(median(r.project))
	}
	if len(r.events) > 0 {
		c.Events = int(median(ints(r.events)))
	}
	if len(r.rows) > 0 {
		c.Rows = int64(median(ints(r.rows)))
	}
	if len(r.wal) > 0 {
		c.WALBytes = int64(median(ints(r.wal)))
	}
	c.PeakRSS = peakRSS()
	rep.PeakRSS = max(rep.PeakRSS, c.PeakRSS)
	return c
}

func ptr(v float64) *float64 { return &v }

func ints[T int | int64](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// recompute times projections.Recompute in a repeatable-read transaction
// that is rolled back.
func (h *harness) recompute(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	tx, err := h.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if err := projections.Recompute(ctx, tx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// createViews creates the materialized views (empty).
func (h *harness) createViews(ctx context.Context) error {
	_, err := h.pool.Exec(ctx, query("views-drop")+";"+query("views-create"))
	return err
}

// refreshViews refreshes every materialized view, in dependency order.
func (h *harness) refreshViews(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	for _, v := range names("views-list") {
		if _, err := h.pool.Exec(ctx, "REFRESH MATERIALIZED VIEW "+v); err != nil {
			return 0, fmt.Errorf("refreshing %s: %w", v, err)
		}
	}
	return time.Since(start), nil
}

// tail reads the whole changelog page by page, as `deltalog tail` does.
func (h *harness) tail(ctx context.Context) (time.Duration, int, error) {
	start := time.Now()
	n := 0
	for after := int64(0); ; {
		page, err := changelog.ReadPage(ctx, h.pool, changelog.PageParams{After: after})
		if err != nil {
			return 0, 0, err
		}
		if len(page.Events) == 0 {
			break
		}
		n += len(page.Events)
		after = page.Next
	}
	return time.Since(start), n, nil
}

// vacuum brings the statistics and visibility map up to date after a bulk
// load, as autovacuum would soon after, and writes the dirty buffers out:
// later cases measure steady state, not the bulk load's aftermath.
func (h *harness) vacuum(ctx context.Context) error {
	if _, err := h.pool.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return err
	}
	if _, err := h.pool.Exec(ctx, "CHECKPOINT"); err != nil {
		// Needs superuser or pg_checkpoint: without it, the server's own
		// checkpoints will do.
		h.cfg.Logger.WarnContext(ctx, "bench: CHECKPOINT failed", "error", err)
	}
	return nil
}

// repoFiles lists the snapshots of a generation's files.
func snapshots(names, files []string) []snapshot {
	out := make([]snapshot, len(files))
	for i, f := range files {
		out[i] = snapshot{repo: names[i], format: formats.JSONL, files: []string{f}}
	}
	return out
}

func globOne(dir, pattern string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, err
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("%d files match %s in %s, want 1", len(m), pattern, dir)
	}
	return m, nil
}
