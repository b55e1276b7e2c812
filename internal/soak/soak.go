package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/pg/database"
	"github.com/deltalog/deltalog/internal/pg/pgcluster"
)

// Databases the soak creates (afresh) in its cluster.
const (
	leaderDB   = "deltalog_soak"
	followerDB = "deltalog_soak_follower"
)

// ErrInvalid is returned (wrapped) for a Config that cannot run.
var ErrInvalid = errors.New("soak: invalid config")

// Config configures a soak run. Zero fields take their defaults.
type Config struct {
	// Binary is the deltalog executable every process runs (required).
	Binary string
	// Home is the home directory of the soak's own PostgreSQL cluster
	// (required), created if missing. The soak restarts that cluster and
	// recreates its databases: never point it at a home that holds data.
	// The soak's files are kept under it too: the generated snapshots
	// (gen/), the NATS store (nats/) and one log per kind of process
	// (logs/KIND.log).
	Home string
	// Duration is how long faults are injected and updates arrive.
	// Default 10 minutes.
	Duration time.Duration
	// KillEvery is the mean time between two SIGKILLs (each interval is
	// drawn uniformly from half to one and a half times it). Default 4s.
	KillEvery time.Duration
	// RestartEvery is the mean time between two PostgreSQL restarts (from
	// one start to the next crash). Default 15s: with the time a crash
	// recovery takes, about 25 restarts in 10 minutes.
	RestartEvery time.Duration
	// MaxDowntime bounds how long PostgreSQL is left down at each restart
	// before it is started again (drawn uniformly up to it; its start and
	// crash recovery add to it). Default 3s: some restarts are short, some
	// outlast a client's first reconnection attempts.
	MaxDowntime time.Duration
	// Settle bounds how long, once the faults and updates have stopped,
	// the projections, the stream and the follower may take to reach the
	// head before one is called stalled. Default 2 minutes.
	Settle time.Duration
	// MinKills and MinRestarts are the faults a run must have injected to
	// pass. Default 100 SIGKILLs and 20 restarts per 10 minutes of
	// Duration (at least 1 each).
	MinKills, MinRestarts int
	// Workers is how many `project --follow` processes run side by side:
	// one holds the projections, the others are refused and keep trying.
	// Default 2.
	Workers int
	// Writers is how many updates run at once. Default 2.
	Writers int
	// UpdatePause is the pause between two generations of the catalog
	// (each generation updates every repository). Default 1s.
	UpdatePause time.Duration
	// Packages, Repos and Rate shape the generated catalog (internal/bench/gen):
	// packages of generation 0, repositories, share of packagesets changed
	// per generation. Defaults 20000, 4, 0.01.
	Packages, Repos int
	Rate            float64
	// Seed draws the catalog and the fault schedule. 0: from the clock
	// (the report names the seed used).
	Seed uint64
	// SampleEvery is the interval of the worker sampler. Default 250ms.
	SampleEvery time.Duration
	// Progress receives a line every ProgressEvery (default 30s) and a
	// line per phase. Default: discard.
	Progress      io.Writer
	ProgressEvery time.Duration
	// KeepCluster leaves the cluster running at the end (it is stopped by
	// default).
	KeepCluster bool
	Logger      *slog.Logger
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Duration, 10*time.Minute)
	def(&c.KillEvery, 4*time.Second)
	def(&c.RestartEvery, 15*time.Second)
	def(&c.MaxDowntime, 3*time.Second)
	def(&c.Settle, 2*time.Minute)
	def(&c.UpdatePause, time.Second)
	def(&c.SampleEvery, 250*time.Millisecond)
	def(&c.ProgressEvery, 30*time.Second)
	per10 := func(n int) int { return max(1, int(int64(n)*int64(c.Duration)/int64(10*time.Minute))) }
	if c.MinKills == 0 {
		c.MinKills = per10(100)
	}
	if c.MinRestarts == 0 {
		c.MinRestarts = per10(20)
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.Writers == 0 {
		c.Writers = 2
	}
	if c.Packages == 0 {
		c.Packages = 20000
	}
	if c.Repos == 0 {
		c.Repos = 4
	}
	if c.Rate == 0 {
		c.Rate = 0.01
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if st, err := os.Stat(c.Binary); c.Binary == "" || err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		errs = append(errs, fmt.Errorf("Binary %q is not an executable file", c.Binary))
	}
	if c.Home == "" {
		errs = append(errs, errors.New("Home is required"))
	}
	for name, d := range map[string]time.Duration{"Duration": c.Duration, "KillEvery": c.KillEvery,
		"RestartEvery": c.RestartEvery, "MaxDowntime": c.MaxDowntime, "Settle": c.Settle,
		"UpdatePause": c.UpdatePause, "SampleEvery": c.SampleEvery, "ProgressEvery": c.ProgressEvery} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v must not be negative", name, d))
		}
	}
	if c.MinKills < 0 || c.MinRestarts < 0 || c.Workers < 1 || c.Writers < 1 || c.Packages < 1 || c.Repos < 1 {
		errs = append(errs, errors.New("MinKills and MinRestarts must not be negative; Workers, Writers, Packages and Repos must be positive"))
	}
	if !(c.Rate > 0 && c.Rate <= 1) {
		errs = append(errs, fmt.Errorf("Rate %v outside (0, 1]", c.Rate))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// soak is one run.
type soak struct {
	cfg     Config
	cluster *pgcluster.Cluster
	// leaderURL and followerURL are the databases' URLs, without an
	// application_name.
	leaderURL, followerURL string
	leader, follower       *pgxpool.Pool
	nats                   *natsServer
	procs                  *procs
	dir                    string // the home: gen/, nats/ and logs/ beside the cluster's files

	mu       sync.Mutex
	rng      *rand.Rand
	rep      *Report
	restarts []interval // PostgreSQL down from .from to .to (zero: still down)
	faultAt  time.Time  // the last fault injected
}

// interval is a span of time.
type interval struct{ from, to time.Time }

// Run soaks deltalog for cfg.Duration and returns the report, whose
// Failed lists the checks that failed. An error means the soak itself
// could not run (no cluster, no binary, interrupted).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &soak{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x50a4)),
		rep: &Report{Seed: cfg.Seed, Duration: cfg.Duration, Kills: map[string]int{}}}
	defer s.close()
	if err := s.setup(ctx); err != nil {
		return nil, err
	}
	if err := s.run(ctx); err != nil {
		return nil, err
	}
	s.rep.check(cfg)
	return s.rep, nil
}

// setup starts the cluster, creates both databases afresh and starts the
// NATS server.
func (s *soak) setup(ctx context.Context) error {
	var err error
	if s.cluster, err = pgcluster.New(pgcluster.Config{Home: s.cfg.Home, Logger: s.cfg.Logger}); err != nil {
		return err
	}
	s.rep.Home = s.cluster.Home()
	s.dir = s.cluster.Home()
	for _, sub := range []string{"gen", "nats", "logs"} {
		if err := os.RemoveAll(filepath.Join(s.dir, sub)); err != nil {
			return err
		}
	}
	if s.procs, err = newProcs(s.cfg.Binary, filepath.Join(s.dir, "logs")); err != nil {
		return err
	}
	if err := s.cluster.Start(ctx); err != nil {
		return err
	}
	admin, err := pgxpool.New(ctx, s.cluster.URL("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, db := range []string{leaderDB, followerDB} {
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("soak: dropping the last run's database: %w", err)
		}
		if err := s.cluster.EnsureDatabase(ctx, db); err != nil {
			return err
		}
	}
	s.leaderURL, s.followerURL = s.cluster.URL(leaderDB), s.cluster.URL(followerDB)
	// Open migrates: the processes then start on the current schema.
	if s.leader, err = database.Open(ctx, database.Options{URL: appURL(s.leaderURL, "soak"), MaxConns: 4}); err != nil {
		return err
	}
	if s.follower, err = database.Open(ctx, database.Options{URL: appURL(s.followerURL, "soak"), MaxConns: 2}); err != nil {
		return err
	}
	s.nats, err = startNATS(filepath.Join(s.dir, "nats"))
	return err
}

// close stops what setup started; the cluster unless KeepCluster.
func (s *soak) close() {
	if s.leader != nil {
		s.leader.Close()
	}
	if s.follower != nil {
		s.follower.Close()
	}
	if s.nats != nil {
		s.nats.shutdown()
	}
	if s.cluster != nil && !s.cfg.KeepCluster {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.cluster.Stop(ctx); err != nil {
			s.cfg.Logger.Error("soak: stopping the cluster", "error", err)
		}
	}
	if s.dir != "" {
		// The logs stay for a look after a failure; the rest is large.
		_ = os.RemoveAll(filepath.Join(s.dir, "gen"))
		_ = os.RemoveAll(filepath.Join(s.dir, "nats"))
	}
}

// run is the soak proper: processes, updates and faults for Duration, then
// the settling and the checks.
func (s *soak) run(ctx context.Context) error {
	cfg := s.cfg
	start := time.Now()
	fmt.Fprintf(cfg.Progress, "soak: %v on %s (seed %d): %d workers, a replicator to NATS, a follower, updates of %d repositories; a SIGKILL every ~%v, a PostgreSQL restart every ~%v\n",
		cfg.Duration, s.cluster.Home(), cfg.Seed, cfg.Workers, cfg.Repos, cfg.KillEvery, cfg.RestartEvery)

	leader := func(name string) string { return appURL(s.leaderURL, appPrefix+name) }
	var services []*service
	add := func(kind string, args func(name string) []string) {
		services = append(services, newService(s.procs, kind, args, s.restartedDuring))
	}
	for range cfg.Workers {
		add(kindProject, func(name string) []string { return []string{"project", "--follow", "--db", leader(name)} })
	}
	add(kindReplicate, func(name string) []string { return []string{"replicate", "--to", s.nats.url, "--db", leader(name)} })
	add(kindFollow, func(name string) []string {
		return []string{"follow", "--from", s.nats.url, "--db", appURL(s.followerURL, appPrefix+name)}
	})
	stopServices := func() {
		var wg sync.WaitGroup
		for _, sv := range services {
			wg.Go(sv.stop)
		}
		wg.Wait()
	}
	defer stopServices() // on an early return; stopping twice is fine

	runCtx, cancelRun := context.WithTimeout(ctx, cfg.Duration)
	defer cancelRun()
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	smp := newSampler(s)
	var sampling sync.WaitGroup
	sampling.Go(func() { smp.run(sampleCtx) })

	var wg sync.WaitGroup
	var updateErr error
	wg.Go(func() { updateErr = s.updates(runCtx) })
	wg.Go(func() { s.kills(runCtx) })
	wg.Go(func() { s.pgRestarts(runCtx) })
	wg.Go(func() { s.progress(runCtx, start, smp) })
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("soak: interrupted: %w", err)
	}
	if updateErr != nil && !errors.Is(updateErr, context.DeadlineExceeded) {
		return updateErr
	}
	for _, sv := range services {
		if sv.startErr != nil {
			return sv.startErr
		}
	}

	// The faults and updates have stopped: every reader must reach the head.
	if err := s.cluster.Start(ctx); err != nil { // a no-op unless a restart was cut short
		return err
	}
	s.mu.Lock()
	faultAt := s.faultAt
	s.mu.Unlock()
	fmt.Fprintf(cfg.Progress, "soak: faults and updates stopped after %v; waiting (at most %v) for the projections, the stream and the follower to reach the head\n",
		time.Since(start).Round(time.Second), cfg.Settle)
	s.rep.CatchUp = s.settle(ctx, faultAt)
	stopServices()
	stopSampling()
	sampling.Wait()
	s.rep.Workers = smp.report()
	for _, sv := range services {
		s.rep.Exits = append(s.rep.Exits, sv.exits...)
		s.rep.Refused += sv.refused
		s.rep.SlowStops += sv.slowStops
	}

	fmt.Fprintf(cfg.Progress, "soak: checking the stream, the follower and the audit\n")
	var err error
	if s.rep.HeadSeq, err = changelog.Head(ctx, s.leader); err != nil {
		return err
	}
	if s.rep.Stream, err = s.checkStream(ctx, s.rep.HeadSeq); err != nil {
		return err
	}
	if s.rep.Follower, err = s.checkFollower(ctx); err != nil {
		return err
	}
	s.rep.Audit = s.audit()
	s.rep.Elapsed = time.Since(start)
	return nil
}

// restartedDuring reports whether PostgreSQL was down at some point
// between from and to.
func (s *soak) restartedDuring(from, to time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.restarts {
		if r.from.Before(to) && (r.to.IsZero() || r.to.After(from)) {
			return true
		}
	}
	return false
}

// fault records a fault injected now.
func (s *soak) fault() {
	s.mu.Lock()
	s.faultAt = time.Now()
	s.mu.Unlock()
}

// uniform returns a random duration from half to one and a half times mean.
func (s *soak) uniform(mean time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return mean/2 + time.Duration(s.rng.Int64N(int64(mean)+1))
}

// appURL returns a database URL whose sessions carry application_name name.
func appURL(dbURL, name string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return dbURL // pgcluster's URLs parse
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// sleep waits for d or until ctx is done, reporting whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
