package pgcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	dataDirName  = "pgdata"
	runDirName   = "run"
	logFileName  = "postgres.log"
	lockFileName = "cluster.lock"
	confFileName = "deltalog.conf"

	// defaultPort names the socket (.s.PGSQL.5432) when Config.Port is 0.
	defaultPort = 5432
	// maxSocketPath is the longest unix socket path accepted: sun_path holds
	// 104 bytes on macOS and the BSDs, 108 on Linux, including the NUL.
	maxSocketPath = 103

	startTimeout = 5 * time.Minute  // pg_ctl -t when ctx has no deadline
	readyTimeout = 60 * time.Second // for a server to accept connections
)

// DefaultHome returns $DELTALOG_HOME, or ".deltalog" when it is unset.
func DefaultHome() string {
	if home := os.Getenv("DELTALOG_HOME"); home != "" {
		return home
	}
	return ".deltalog"
}

// Config configures a [Cluster].
type Config struct {
	// Home is the directory holding the cluster, its socket directory and
	// log. Default: [DefaultHome]. New makes it absolute.
	Home string

	// Port, when > 0, makes the server listen on 127.0.0.1:Port as well as
	// on its unix socket (with trust authentication: any local user can
	// connect as superuser). 0, the default, means unix socket only.
	Port int

	// Fast turns off fsync, synchronous_commit and full_page_writes (and
	// makes initdb skip its final sync). Much faster, but an OS crash or
	// power loss can corrupt the cluster, and a server crash can lose the
	// last transactions committed: for tests and benchmarks only.
	Fast bool

	// NoCreate makes Start fail with [ErrNoCluster] when there is no
	// cluster under Home, instead of creating one: for read-only commands,
	// where a mistyped home must not turn into a new empty cluster.
	NoCreate bool

	// Logger receives what the cluster does (initdb, start, stop). Default:
	// discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Home == "" {
		c.Home = DefaultHome()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("Port %d out of range 0..65535", c.Port))
	}
	if strings.ContainsRune(c.Home, 0) {
		errs = append(errs, errors.New("Home contains a NUL byte"))
	}
	return errors.Join(errs...)
}

// Cluster is a PostgreSQL cluster under a home directory. Its methods are
// safe for concurrent use, and Start and Stop are serialized across
// processes.
type Cluster struct {
	cfg      Config
	logger   *slog.Logger
	home     string // absolute
	dataDir  string
	runDir   string // unix socket directory deltalog chooses
	logPath  string
	lockPath string

	mu        sync.Mutex
	bins      *Binaries // found on first need
	liveDir   string    // socket directory and port of the running server,
	livePort  int       // read from postmaster.pid, when known
	warnedCfg bool
}

// Status describes a cluster.
type Status struct {
	Initialized bool   // the data directory exists
	Running     bool   // a postmaster runs on it
	PID         int    // the postmaster's PID, when running
	Version     string // server_version when running, else the data directory's major version
	DataDir     string
	SocketDir   string
	URL         string // URL of the postgres database
}

// New returns the cluster under cfg.Home. It touches nothing on disk:
// [Cluster.Start] creates what is missing.
func New(cfg Config) (*Cluster, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("pgcluster: invalid config: %w", err)
	}
	home, err := filepath.Abs(cfg.Home)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: home %q: %w", cfg.Home, err)
	}
	return &Cluster{
		cfg:      cfg,
		logger:   cfg.Logger,
		home:     home,
		dataDir:  filepath.Join(home, dataDirName),
		runDir:   socketDirFor(home),
		logPath:  filepath.Join(home, logFileName),
		lockPath: filepath.Join(home, lockFileName),
	}, nil
}

// socketDirFor returns <home>/run, or when a socket path in it could exceed
// maxSocketPath, a directory under os.TempDir() named by a hash of home.
func socketDirFor(home string) string {
	const longestSocket = "/.s.PGSQL.65535"
	dir := filepath.Join(home, runDirName)
	if len(dir)+len(longestSocket) <= maxSocketPath {
		return dir
	}
	sum := sha256.Sum256([]byte(home))
	name := "deltalog-" + hex.EncodeToString(sum[:8])
	dir = filepath.Join(os.TempDir(), name)
	if len(dir)+len(longestSocket) > maxSocketPath {
		dir = filepath.Join("/tmp", name)
	}
	return dir
}

// Home returns the absolute home directory.
func (c *Cluster) Home() string { return c.home }

// Start makes the cluster run: it runs initdb when there is no cluster
// (unless Config.NoCreate), starts the server when it is not running, and
// returns once it accepts connections. It is idempotent and safe to call
// from several processes at once.
func (c *Cluster) Start(ctx context.Context) error {
	if err := supported(); err != nil {
		return err
	}
	if c.cfg.NoCreate {
		// Checked before anything is created, home included. initdb renames
		// a finished data directory into place, so one being made by
		// another process is either seen whole or not at all.
		if _, initialized, err := c.pgVersion(); err != nil {
			return err
		} else if !initialized {
			return fmt.Errorf("%w under %s", ErrNoCluster, c.home)
		}
	}
	if err := mkdirAll(c.home); err != nil {
		return fmt.Errorf("pgcluster: create home: %w", err)
	}
	unlock, err := lockFile(ctx, c.lockPath)
	if err != nil {
		return err
	}
	defer unlock()

	u, err := serverUser(c.dataDir)
	if err != nil {
		return err
	}
	if err := u.checkTraverse(c.home); err != nil {
		return err
	}

	major, initialized, err := c.pgVersion()
	if err != nil {
		return err
	}
	if !initialized {
		bins, err := c.binaries(0)
		if err != nil {
			return err
		}
		if err := c.initdb(ctx, bins, u); err != nil {
			return err
		}
		major = bins.Major
	}

	if c.livePID() == 0 {
		bins, err := c.binaries(major)
		if err != nil {
			return err
		}
		if err := c.start(ctx, bins, u); err != nil {
			return err
		}
	}
	c.readLive()
	return c.waitReady(ctx)
}

// Stop stops the server (pg_ctl stop -m fast: sessions are disconnected,
// transactions rolled back). It returns nil when the server is not running.
func (c *Cluster) Stop(ctx context.Context) error { return c.stop(ctx, "fast") }

// Crash stops the server as a crash would (pg_ctl stop -m immediate: every
// process quits at once, without a shutdown checkpoint; the next Start
// recovers from the WAL). For tests of what survives a lost database. It
// returns nil when the server is not running.
func (c *Cluster) Crash(ctx context.Context) error { return c.stop(ctx, "immediate") }

func (c *Cluster) stop(ctx context.Context, mode string) error {
	if err := supported(); err != nil {
		return err
	}
	major, initialized, err := c.pgVersion()
	if err != nil || !initialized {
		return err
	}
	unlock, err := lockFile(ctx, c.lockPath)
	if err != nil {
		return err
	}
	defer unlock()

	if c.livePID() == 0 {
		return nil
	}
	u, err := serverUser(c.dataDir)
	if err != nil {
		return err
	}
	bins, err := c.binaries(major)
	if err != nil {
		return err
	}
	c.logger.InfoContext(ctx, "pgcluster: stopping PostgreSQL", "data_dir", c.dataDir, "mode", mode)
	out, err := c.command(ctx, u, bins.PgCtl, "stop", "-D", c.dataDir, "-m", mode, "-w", "-t", c.waitSeconds(ctx), "-s").CombinedOutput()
	if err != nil && c.livePID() != 0 {
		return fmt.Errorf("pgcluster: pg_ctl stop -m %s -D %s: %w: %s", mode, c.dataDir, err, strings.TrimSpace(string(out)))
	}
	c.mu.Lock()
	c.liveDir, c.livePort = "", 0 // the next start applies the configuration
	c.mu.Unlock()
	return nil
}

// Status reports whether the cluster exists and runs, without changing it.
func (c *Cluster) Status(ctx context.Context) (Status, error) {
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	major, initialized, err := c.pgVersion()
	if err != nil {
		return Status{}, err
	}
	s := Status{Initialized: initialized, DataDir: c.dataDir}
	if initialized {
		s.Version = strconv.Itoa(major)
	}
	if pid := c.livePID(); pid != 0 {
		s.Running, s.PID = true, pid
		c.readLive()
		if v, err := c.serverVersion(ctx); err == nil {
			s.Version = v
		}
	}
	s.SocketDir, _ = c.socket()
	s.URL = c.URL("postgres")
	return s, nil
}

// URL returns the connection URL of database on this cluster, through its
// unix socket: postgres://postgres@/DATABASE?host=/abs/socketdir, with
// &port=N when the socket is not the default .s.PGSQL.5432.
func (c *Cluster) URL(database string) string {
	dir, port := c.socket()
	// libpq URI decoding (which pgx follows) knows %XX but not + for space.
	q := "host=" + strings.NewReplacer("+", "%20", "%2F", "/").Replace(url.QueryEscape(dir))
	if port != defaultPort {
		q += "&port=" + strconv.Itoa(port)
	}
	return "postgres://postgres@/" + url.PathEscape(database) + "?" + q
}

// EnsureDatabase creates database name unless it exists. Several processes
// may race to create the same database: all succeed. The cluster must be
// running.
func (c *Cluster) EnsureDatabase(ctx context.Context, name string) error {
	if name == "" {
		return errors.New("pgcluster: EnsureDatabase: empty database name")
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		// duplicate_database, or the unique index on pg_database when two
		// CREATE DATABASE race: another process created it first.
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgcluster: create database %q: %w", name, err)
	}
	c.logger.InfoContext(ctx, "pgcluster: created database", "database", name)
	return nil
}

// socket returns the socket directory and port clients use: those of the
// running server when known (it may have been started with other settings),
// else the configured ones.
func (c *Cluster) socket() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.liveDir != "" {
		return c.liveDir, c.livePort
	}
	return c.runDir, c.port()
}

func (c *Cluster) port() int {
	if c.cfg.Port > 0 {
		return c.cfg.Port
	}
	return defaultPort
}

// pgVersion reads the major version from the data directory's PG_VERSION;
// initialized is false when there is none.
func (c *Cluster) pgVersion() (major int, initialized bool, err error) {
	b, err := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("pgcluster: read data directory: %w", err)
	}
	major, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false, fmt.Errorf("pgcluster: %s/PG_VERSION: %q is not a version", c.dataDir, strings.TrimSpace(string(b)))
	}
	return major, true, nil
}

// binaries finds (once) the binaries to use; with major > 0, ones of that
// major version, which an existing data directory needs.
func (c *Cluster) binaries(major int) (Binaries, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bins != nil && (major == 0 || c.bins.Major == major) {
		return *c.bins, nil
	}
	if major > 0 && major < MinMajorVersion {
		return Binaries{}, fmt.Errorf("pgcluster: data directory %s was created by PostgreSQL %d; deltalog needs %d or newer: remove %s (this deletes its data) to create a new cluster",
			c.dataDir, major, MinMajorVersion, c.home)
	}
	f := defaultFinder()
	b, err := f.find(0)
	if err == nil && major > 0 && b.Major != major {
		b, err = f.find(major)
		if err != nil {
			err = fmt.Errorf("%w; or remove %s (this deletes its data) to create a new cluster", err, c.dataDir)
		}
	}
	if err != nil {
		return Binaries{}, err
	}
	c.bins = &b
	return b, nil
}

// initdb creates the cluster in a scratch directory and renames it into
// place, so an interrupted initdb never leaves a half-made pgdata.
func (c *Cluster) initdb(ctx context.Context, bins Binaries, u *osUser) error {
	if entries, err := os.ReadDir(c.dataDir); err == nil {
		if len(entries) > 0 {
			return fmt.Errorf("pgcluster: %s exists and is not empty, but is not a PostgreSQL data directory (no PG_VERSION): move it away", c.dataDir)
		}
		if err := os.Remove(c.dataDir); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	tmp := c.dataDir + ".init"
	if err := os.RemoveAll(tmp); err != nil { // left by an interrupted initdb
		return fmt.Errorf("pgcluster: remove %s: %w", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if err := u.chown(tmp); err != nil {
		return err
	}

	args := []string{"-D", tmp, "--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "--no-instructions"}
	if c.cfg.Fast {
		args = append(args, "--no-sync")
	}
	c.logger.InfoContext(ctx, "pgcluster: creating cluster", "data_dir", c.dataDir, "version", bins.Version, "initdb", bins.Initdb)
	start := time.Now()
	if out, err := c.command(ctx, u, bins.Initdb, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: initdb -D %s: %w\n%s", tmp, err, lastLines(string(out), 30))
	}

	f, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	_, err = io.WriteString(f, "\n# Settings chosen by deltalog, rewritten at every start; they override the above.\n"+
		"include_if_exists = '"+confFileName+"'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgcluster: edit postgresql.conf: %w", err)
	}
	if err := os.Rename(tmp, c.dataDir); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	c.logger.InfoContext(ctx, "pgcluster: created cluster", "data_dir", c.dataDir, "elapsed", time.Since(start))
	return nil
}

// start starts the server with pg_ctl and waits for it (pg_ctl -w).
func (c *Cluster) start(ctx context.Context, bins Binaries, u *osUser) error {
	c.removeStale(ctx)
	if err := c.prepareRunDir(u); err != nil {
		return err
	}
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("pgcluster: open log: %w", err)
	}
	_ = logFile.Close()
	if err := u.chown(c.logPath); err != nil {
		return err
	}
	if err := c.writeConf(u); err != nil {
		return err
	}

	c.logger.InfoContext(ctx, "pgcluster: starting PostgreSQL", "data_dir", c.dataDir, "socket_dir", c.runDir, "port", c.cfg.Port, "fast", c.cfg.Fast)
	for attempt := 1; ; attempt++ {
		offset := fileSize(c.logPath)
		out, err := c.command(ctx, u, bins.PgCtl, "start", "-D", c.dataDir, "-l", c.logPath, "-w", "-t", c.waitSeconds(ctx), "-s").CombinedOutput()
		if err == nil {
			return nil
		}
		logText := readFrom(c.logPath, offset)
		// Right after a crash, children of the killed postmaster may still
		// hold its shared memory for a moment.
		transient := strings.Contains(logText, "pre-existing shared memory block") ||
			(strings.Contains(logText, "lock file") && strings.Contains(logText, "already exists"))
		if transient && attempt < 20 && ctx.Err() == nil {
			c.logger.WarnContext(ctx, "pgcluster: start failed, retrying", "attempt", attempt, "log", lastLines(logText, 3))
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			c.removeStale(ctx)
			continue
		}
		return fmt.Errorf("pgcluster: start PostgreSQL (pg_ctl start -D %s): %w: %s\n--- tail of %s ---\n%s",
			c.dataDir, err, strings.TrimSpace(string(out)), c.logPath, lastLines(logText, 30))
	}
}

// prepareRunDir creates the socket directory, private to the server user.
func (c *Cluster) prepareRunDir(u *osUser) error {
	if err := os.MkdirAll(c.runDir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: create socket directory: %w", err)
	}
	if err := u.chown(c.runDir); err != nil {
		return err
	}
	if !strings.HasPrefix(c.runDir, c.home+string(filepath.Separator)) {
		// A shared temporary directory: make sure nobody else made it.
		want := uint32(os.Geteuid())
		if u != nil {
			want = u.uid
		}
		if uid, ok := ownerUID(c.runDir); ok && uid != want {
			return fmt.Errorf("pgcluster: socket directory %s belongs to uid %d, not %d: remove it", c.runDir, uid, want)
		}
		if err := os.Chmod(c.runDir, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

// writeConf writes the settings deltalog chooses to pgdata/deltalog.conf.
func (c *Cluster) writeConf(u *osUser) error {
	onOff := func(on bool) string {
		if on {
			return "on"
		}
		return "off"
	}
	listen := ""
	if c.cfg.Port > 0 {
		listen = "127.0.0.1"
	}
	conf := fmt.Sprintf(`# Written by deltalog at every start: edits are lost. Override with ALTER SYSTEM.
listen_addresses = %s
port = %d
unix_socket_directories = %s
unix_socket_permissions = 0700
max_connections = 100
shared_buffers = '1GB'
work_mem = '64MB'
maintenance_work_mem = '256MB'
effective_cache_size = '4GB'
# The catalog's working set lives in shared_buffers and the page cache (or
# on SSD): a random page costs about what a sequential one does. With the
# default 4, small delta pages seq-scan whole derived tables.
random_page_cost = 1.1
max_wal_size = '2GB'
fsync = %s
synchronous_commit = %s
full_page_writes = %s
`, quoteConf(listen), c.port(), quoteConf(c.runDir), onOff(!c.cfg.Fast), onOff(!c.cfg.Fast), onOff(!c.cfg.Fast))

	path := filepath.Join(c.dataDir, confFileName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("pgcluster: write %s: %w", confFileName, err)
	}
	if err := u.chown(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pgcluster: write %s: %w", confFileName, err)
	}
	return nil
}

func quoteConf(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// livePID returns the PID of the postmaster running on the data directory,
// or 0.
func (c *Cluster) livePID() int {
	lines := readLines(filepath.Join(c.dataDir, "postmaster.pid"))
	if len(lines) == 0 {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || !isPostgresProcess(pid) {
		return 0
	}
	return pid
}

// removeStale removes lock files left by a server that no longer runs:
// postmaster.pid, and socket lock files and sockets in the socket directory.
// PostgreSQL removes most itself, but not when the PID they name has been
// reused by another process or is a zombie. The caller holds the lock.
func (c *Cluster) removeStale(ctx context.Context) {
	pidFile := filepath.Join(c.dataDir, "postmaster.pid")
	if _, err := os.Stat(pidFile); err == nil && c.livePID() == 0 {
		c.logger.WarnContext(ctx, "pgcluster: removing stale postmaster.pid", "path", pidFile)
		_ = os.Remove(pidFile)
	}
	locks, _ := filepath.Glob(filepath.Join(c.runDir, ".s.PGSQL.*.lock"))
	for _, lock := range locks {
		lines := readLines(lock)
		if len(lines) > 0 {
			if pid, err := strconv.Atoi(strings.TrimSpace(lines[0])); err == nil && isPostgresProcess(pid) {
				continue
			}
		}
		c.logger.WarnContext(ctx, "pgcluster: removing stale socket lock", "path", lock)
		_ = os.Remove(strings.TrimSuffix(lock, ".lock"))
		_ = os.Remove(lock)
	}
}

// readLive records the socket directory and port of the running server
// from postmaster.pid (line 4: port, line 5: first socket directory).
func (c *Cluster) readLive() {
	lines := readLines(filepath.Join(c.dataDir, "postmaster.pid"))
	if len(lines) < 5 {
		return
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	dir := strings.TrimSpace(lines[4])
	if err != nil || dir == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.liveDir, c.livePort = dir, port
	if (dir != c.runDir || port != c.port()) && !c.warnedCfg {
		c.warnedCfg = true
		c.logger.Warn("pgcluster: the running server uses another socket than configured; restart it (Stop, Start) to apply the configuration",
			"socket_dir", dir, "port", port, "configured_socket_dir", c.runDir, "configured_port", c.port())
	}
}

// waitReady waits until the server accepts a connection and runs a query.
func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		v, err := c.serverVersion(ctx)
		if err == nil {
			c.logger.DebugContext(ctx, "pgcluster: PostgreSQL ready", "version", v, "url", c.URL("postgres"))
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("pgcluster: PostgreSQL (data directory %s) does not accept connections at %s: %w\n--- tail of %s ---\n%s",
				c.dataDir, c.URL("postgres"), err, c.logPath, lastLines(readFrom(c.logPath, fileSize(c.logPath)-8192), 30))
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) serverVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", err
	}
	return v, nil
}

// command prepares a PostgreSQL program to run as u (nil: as ourselves),
// in the home directory, without PG* variables from our environment.
func (c *Cluster) command(ctx context.Context, u *osUser, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.home
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	u.apply(cmd)
	// pg_ctl start leaves the server running; never wait on pipes it
	// might hold.
	cmd.WaitDelay = 5 * time.Second
	c.logger.DebugContext(ctx, "pgcluster: run", "cmd", cmd.String())
	return cmd
}

// waitSeconds is pg_ctl's -t: the time left on ctx, or startTimeout.
func (c *Cluster) waitSeconds(ctx context.Context) string {
	d := startTimeout
	if deadline, ok := ctx.Deadline(); ok {
		d = max(time.Until(deadline), time.Second)
	}
	return strconv.Itoa(int(d.Seconds()))
}

// mkdirAll is os.MkdirAll with mode 0755 whatever the umask, so that the
// server user can traverse the directories it creates when running as root.
func mkdirAll(dir string) error {
	var missing []string
	for d := dir; !dirExists(d); d = filepath.Dir(d) {
		missing = append(missing, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range missing {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\n")
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// readFrom returns the file's content from offset (at most its last 64 KiB).
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	offset = max(offset, fileSize(path)-64<<10, 0)
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func dirExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
