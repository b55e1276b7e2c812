package dbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/internal/pg/pgcluster"
	dlsql "github.com/deltalog/deltalog/sql"
)

// EnvURL names the environment variable holding the URL of the server to
// test against instead of the managed test cluster.
const EnvURL = "DELTALOG_TEST_DATABASE_URL"

const (
	maxConns       = 4
	templatePrefix = "deltalog_tmpl_"
	testDBPrefix   = "deltalog_test_"
	// templateLockKey is the advisory lock (taken in the maintenance
	// database) under which a template is built: "deltalog" in ASCII.
	templateLockKey int64 = 0x64656c74616c6f67
	setupTimeout          = 3 * time.Minute
	cleanupTimeout        = 30 * time.Second
)

// Migrate and MigrationsHash are the schema's; tests of this package may
// replace them.
var (
	migrateFunc        = dlsql.Migrate
	migrationsHashFunc = dlsql.MigrationsHash
)

// New returns a pool (at most 4 connections) to a fresh database with the
// current schema, private to the test. At cleanup the pool is closed and the
// database dropped.
func New(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	return newPool(tb, maxConns)
}

// NewSingle is [New] with a pool of one connection: every statement runs
// in the same backend, so a test can flush that backend's table statistics
// (pg_stat_force_next_flush) and read what its statements wrote and read.
func NewSingle(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	return newPool(tb, 1)
}

func newPool(tb testing.TB, conns int32) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(NewURL(tb))
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	cfg.MaxConns = conns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	// Registered after NewURL's cleanup, so it runs before the drop.
	tb.Cleanup(func() { closePool(tb, pool) })
	return pool
}

// NewURL is [New] for tests that open their own connections or run the CLI:
// it returns the URL of a fresh migrated database, dropped at cleanup
// (WITH (FORCE): connections still open are terminated).
func NewURL(tb testing.TB) string {
	tb.Helper()
	s := getServer(tb)
	admin := acquireAdmin(tb, s)
	name := fmt.Sprintf("%s%d_%s_%d", testDBPrefix, os.Getpid(), runID, dbSeq.Add(1))
	tb.Cleanup(func() {
		defer releaseAdmin()
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			tb.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(s.template)+s.strategy); err != nil {
		tb.Fatalf("dbtest: create database %s from template %s: %v", name, s.template, err)
	}
	return withDatabase(s.baseURL, name)
}

// Admin returns a pool to the maintenance database (postgres on the managed
// cluster), shared by the tests of the process. Do not close it: it is
// closed when the last test using it cleans up.
func Admin(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool := acquireAdmin(tb, getServer(tb))
	tb.Cleanup(releaseAdmin)
	return pool
}

// server is the PostgreSQL server the tests of this process use.
type server struct {
	baseURL  string // URL of the maintenance database
	template string // name of the migrated template database
	strategy string // CREATE DATABASE option choosing the copy strategy
}

var (
	serverOnce sync.Once
	theServer  *server
	serverErr  error

	runID = strconv.FormatUint(rand.Uint64()&0xffffff, 36) // tells apart hosts sharing a server
	dbSeq atomic.Int64
)

// getServer sets up the server and template once per process.
func getServer(tb testing.TB) *server {
	tb.Helper()
	serverOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		theServer, serverErr = setup(ctx, tb)
	})
	if serverErr != nil {
		tb.Fatalf("dbtest: %v", serverErr)
	}
	return theServer
}

func setup(ctx context.Context, tb testing.TB) (*server, error) {
	s := &server{baseURL: os.Getenv(EnvURL)}
	managed := s.baseURL == ""
	if managed {
		c, err := testCluster()
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if err := c.Start(ctx); err != nil {
			return nil, fmt.Errorf("%w\n(or set %s to test against an existing server)", err, EnvURL)
		}
		if d := time.Since(start); d > time.Second {
			tb.Logf("dbtest: started test cluster in %s (%s) in %v", c.Home(), c.URL("postgres"), d.Round(time.Millisecond))
		}
		s.baseURL = c.URL("postgres")
	}

	conn, err := pgx.Connect(ctx, s.baseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(s.baseURL), err)
	}
	defer conn.Close(context.Background())

	var versionNum int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&versionNum); err != nil {
		return nil, fmt.Errorf("server version: %w", err)
	}
	if versionNum >= 150000 {
		// Copy the template's files rather than WAL-logging every block
		// (the PostgreSQL 15 default): faster for small databases.
		s.strategy = " STRATEGY = FILE_COPY"
	}

	s.template = templatePrefix + truncate(migrationsHashFunc(), 40)
	if err := ensureTemplate(ctx, tb, conn, s); err != nil {
		return nil, err
	}
	if managed {
		dropLeaked(ctx, tb, conn)
	}
	return s, nil
}

// testCluster is the managed cluster shared by all test processes.
func testCluster() (*pgcluster.Cluster, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	home := filepath.Join(root, ".deltalog", "test-cluster")
	if os.Geteuid() == 0 && !othersCanTraverse(root) {
		// As root the server runs as the postgres user, which cannot reach
		// a checkout under a private directory (/root, a 0700 temp dir):
		// keep the cluster under the temp directory instead, one per
		// checkout.
		sum := sha256.Sum256([]byte(root))
		home = filepath.Join(os.TempDir(), "deltalog-test-"+hex.EncodeToString(sum[:6]))
	}
	return pgcluster.New(pgcluster.Config{Home: home, Fast: true})
}

// othersCanTraverse reports whether every directory from / down to dir is
// searchable by other users.
func othersCanTraverse(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// repoRoot is the nearest directory at or above the working directory (a
// test's package directory) holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no go.mod at or above %s to place the test cluster in; set %s", dir, EnvURL)
		}
	}
}

// ensureTemplate builds the template database unless it exists: under an
// advisory lock, into a scratch database that is migrated, then marked as a
// template closed to connections and renamed into place.
func ensureTemplate(ctx context.Context, tb testing.TB, conn *pgx.Conn, s *server) error {
	if ok, err := databaseExists(ctx, conn, s.template); err != nil || ok {
		return err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return fmt.Errorf("lock for building template: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", templateLockKey) //nolint:errcheck // the session ends soon anyway

	if ok, err := databaseExists(ctx, conn, s.template); err != nil || ok {
		return err // another process built it while we waited
	}
	start := time.Now()
	scratch := s.template + "_build"
	for _, q := range []string{
		"DROP DATABASE IF EXISTS " + ident(scratch) + " WITH (FORCE)", // left by a killed process
		"CREATE DATABASE " + ident(scratch) + " TEMPLATE template0",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("build template: %w", err)
		}
	}
	mconn, err := pgx.Connect(ctx, withDatabase(s.baseURL, scratch))
	if err != nil {
		return fmt.Errorf("build template: %w", err)
	}
	err = migrateFunc(ctx, mconn)
	cerr := mconn.Close(ctx)
	if err := errors.Join(err, cerr); err != nil {
		return fmt.Errorf("build template: %w", err)
	}
	for _, q := range []string{
		"ALTER DATABASE " + ident(scratch) + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
		// Waits (up to 5 s) for the migration session's backend to exit.
		"ALTER DATABASE " + ident(scratch) + " RENAME TO " + ident(s.template),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("build template: %w", err)
		}
	}
	tb.Logf("dbtest: built template database %s in %v", s.template, time.Since(start).Round(time.Millisecond))

	// Drop templates of other migration versions (best effort: one may be
	// in use by a process still running older code).
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname NOT IN ($2, $3)",
		templatePrefix+"%", s.template, scratch)
	if err != nil {
		return nil
	}
	old, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, name := range old {
		_, err := conn.Exec(ctx, "ALTER DATABASE "+ident(name)+" WITH IS_TEMPLATE false")
		if err == nil {
			_, err = conn.Exec(ctx, "DROP DATABASE "+ident(name))
		}
		if err != nil {
			tb.Logf("dbtest: drop old template %s: %v", name, err)
		}
	}
	return nil
}

// dropLeaked drops test databases of processes that no longer run (killed
// before their cleanups), on the managed cluster only: there every test
// process runs on this host, so the PID in a database's name means something.
func dropLeaked(ctx context.Context, tb testing.TB, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1", testDBPrefix+"%")
	if err != nil {
		return
	}
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, name := range names {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, testDBPrefix), "_", 2)[0])
		if err != nil || processAlive(pid) {
			continue
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			tb.Logf("dbtest: drop leaked database %s: %v", name, err)
		}
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

var (
	adminMu   sync.Mutex
	adminPool *pgxpool.Pool
	adminRefs int
)

// acquireAdmin returns the shared maintenance pool, creating it if needed;
// each call must be matched by releaseAdmin. The pool is closed when the
// last user releases it, so no goroutine outlives the tests (goleak).
func acquireAdmin(tb testing.TB, s *server) *pgxpool.Pool {
	tb.Helper()
	adminMu.Lock()
	defer adminMu.Unlock()
	if adminPool == nil {
		cfg, err := pgxpool.ParseConfig(s.baseURL)
		if err != nil {
			tb.Fatalf("dbtest: %v", err)
		}
		cfg.MaxConns = maxConns
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			tb.Fatalf("dbtest: %v", err)
		}
		adminPool = pool
	}
	adminRefs++
	return adminPool
}

func releaseAdmin() {
	adminMu.Lock()
	defer adminMu.Unlock()
	adminRefs--
	if adminRefs == 0 && adminPool != nil {
		adminPool.Close()
		adminPool = nil
	}
}

// closePool closes a test's pool. pgxpool.Close waits for every acquired
// connection to be released; a test that leaks one (rows not closed) would
// hang here, so give up after a while and let the drop terminate it.
func closePool(tb testing.TB, pool *pgxpool.Pool) {
	done := make(chan struct{})
	go func() {
		pool.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tb.Errorf("dbtest: pool not closed after 10s: a connection was never released (rows not closed? conn not released?)")
	}
}

func databaseExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look up database %s: %w", name, err)
	}
	return ok, nil
}

// withDatabase returns base (a URL or a key=value connection string) with
// its database replaced by name.
func withDatabase(base, name string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		if u, err := url.Parse(base); err == nil {
			u.Path, u.RawPath = "/"+name, ""
			if q := u.Query(); q.Has("dbname") { // would override the path
				q.Del("dbname")
				u.RawQuery = q.Encode()
			}
			return u.String()
		}
	}
	return base + " dbname=" + name
}

// redact hides the password in a URL for error messages.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return s
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
