//go:build unix

package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestClusterLifecycle(t *testing.T) {
	t.Parallel()

	ctx := t.Context()
	c := setup(t, Config{})

	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, Status{
		DataDir:   filepath.Join(c.Home(), "pgdata"),
		SocketDir: filepath.Join(c.Home(), "run"),
		URL:       "postgres://postgres@/postgres?host=" + filepath.Join(c.Home(), "run"),
	}, st)
	require.NoError(t, c.Stop(ctx), "stop before the cluster exists")

	require.NoError(t, c.Start(ctx))
	st, err = c.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.Initialized)
	require.True(t, st.Running)
	require.Positive(t, st.PID)
	bins := requireBinaries(t)
	require.True(t, strings.HasPrefix(st.Version, strconv.Itoa(bins.Major)), st.Version)
	firstPID := st.PID
	if os.Geteuid() == 0 {
		// PostgreSQL runs as the postgres user, which owns its files.
		u, err := serverUser("")
		require.NoError(t, err)
		for _, p := range []string{st.DataDir, st.SocketDir, filepath.Join(c.Home(), "postgres.log")} {
			uid, ok := ownerUID(p)
			require.True(t, ok, p)
			require.Equal(t, u.uid, uid, p)
		}
	}

	conn := connect(t, c.URL("postgres"))
	for setting, want := range map[string]string{
		"fsync":                   "on", // Config.Fast is off
		"synchronous_commit":      "on",
		"max_connections":         "100",
		"shared_buffers":          "1GB",
		"max_wal_size":            "2GB",
		"listen_addresses":        "",
		"unix_socket_directories": filepath.Join(c.Home(), "run"),
		"server_encoding":         "UTF8",
		"lc_collate":              "C",
	} {
		var got string
		require.NoError(t, conn.QueryRow(ctx, "SHOW "+setting).Scan(&got))
		require.Equal(t, want, got, setting)
	}
	require.NoError(t, conn.Close(ctx))

	require.NoError(t, c.Start(ctx), "Start is idempotent")
	st, err = c.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, firstPID, st.PID)

	require.NoError(t, c.EnsureDatabase(ctx, "app db"))
	require.NoError(t, c.EnsureDatabase(ctx, "app db"), "EnsureDatabase is idempotent")
	conn = connect(t, c.URL("app db"))
	var db string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&db))
	require.Equal(t, "app db", db)
	require.NoError(t, conn.Close(ctx))

	require.NoError(t, c.Stop(ctx))
	st, err = c.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.Initialized)
	require.False(t, st.Running)
	require.Zero(t, st.PID)
	require.NoError(t, c.Stop(ctx), "stop when not running")

	require.NoError(t, c.Start(ctx), "start again")
	st, err = c.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.Running)
	require.NotEqual(t, firstPID, st.PID)
	conn = connect(t, c.URL("app db"))
	require.NoError(t, conn.Ping(ctx))

	// Crash stops it as a crash would: the next start recovers from the
	// WAL, and what was committed is there.
	for _, sql := range []string{"CREATE TABLE t (x int)", "INSERT INTO t VALUES (1)"} {
		_, err = conn.Exec(ctx, sql)
		require.NoError(t, err)
	}
	require.NoError(t, c.Crash(ctx))
	require.Error(t, conn.Ping(ctx), "the session is gone")
	_ = conn.Close(ctx)
	st, err = c.Status(ctx)
	require.NoError(t, err)
	require.False(t, st.Running)
	require.NoError(t, c.Crash(ctx), "crash when not running")
	require.NoError(t, c.Start(ctx))
	conn = connect(t, c.URL("app db"))
	var x int
	require.NoError(t, conn.QueryRow(ctx, "SELECT x FROM t").Scan(&x))
	require.Equal(t, 1, x)
	require.NoError(t, conn.Close(ctx))
	log, err := os.ReadFile(filepath.Join(c.Home(), "postgres.log"))
	require.NoError(t, err)
	require.Contains(t, string(log), "not properly shut down; automatic recovery in progress")
}

func TestStartRecoversAfterKill(t *testing.T) {
	t.Parallel()

	ctx := t.Context()
	c := setup(t, Config{Fast: true})
	require.NoError(t, c.Start(ctx))
	st, err := c.Status(ctx)
	require.NoError(t, err)

	conn := connect(t, c.URL("postgres"))
	// Fast sets synchronous_commit=off: a crash may lose the last commits,
	// so force this one to disk (the OS cache) first.
	for _, sql := range []string{"CREATE TABLE t (x int)", "INSERT INTO t VALUES (1)", "CHECKPOINT"} {
		_, err = conn.Exec(ctx, sql)
		require.NoError(t, err)
	}

	// kill -9 the postmaster while a session is open: postmaster.pid, the
	// socket lock and possibly the shared memory of its children remain.
	require.NoError(t, syscall.Kill(st.PID, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !isPostgresProcess(st.PID) }, 10*time.Second, 20*time.Millisecond)
	require.FileExists(t, filepath.Join(c.Home(), "pgdata", "postmaster.pid"))
	_ = conn.Close(ctx)

	require.NoError(t, c.Start(ctx))
	after, err := c.Status(ctx)
	require.NoError(t, err)
	require.True(t, after.Running)
	require.NotEqual(t, st.PID, after.PID)
	conn = connect(t, c.URL("postgres"))
	var x int
	require.NoError(t, conn.QueryRow(ctx, "SELECT x FROM t").Scan(&x))
	require.Equal(t, 1, x)
	require.NoError(t, conn.Close(ctx))

	// A postmaster.pid naming a live process that is not PostgreSQL (the
	// PID was reused after a reboot) is stale too.
	pidFile := filepath.Join(c.Home(), "pgdata", "postmaster.pid")
	content, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	require.NoError(t, c.Stop(ctx))
	lines := strings.Split(string(content), "\n")
	lines[0] = strconv.Itoa(os.Getpid())
	require.NoError(t, os.WriteFile(pidFile, []byte(strings.Join(lines, "\n")), 0o600))
	require.NoError(t, c.Start(ctx))
	conn = connect(t, c.URL("postgres"))
	require.NoError(t, conn.Ping(ctx))
	require.NoError(t, conn.Close(ctx))
}

// TestStartConcurrent starts one fresh cluster from two goroutines and a
// second process at once.
func TestStartConcurrent(t *testing.T) {
	t.Parallel()

	ctx := t.Context()
	c := setup(t, Config{Fast: true})

	var (
		wg   sync.WaitGroup
		errs = make([]error, 3)
	)
	for i := range 2 {
		wg.Go(func() {
			other, err := New(Config{Home: c.Home(), Fast: true})
			if err == nil {
				err = other.Start(ctx)
			}
			errs[i] = err
		})
	}
	wg.Go(func() {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperStart$", "-test.v")
		cmd.Env = append(os.Environ(), "PGCLUSTER_HELPER_HOME="+c.Home())
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("helper process: %w\n%s", err, out)
		}
		errs[2] = err
	})
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.Running)

	errs = make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = c.EnsureDatabase(ctx, "raced") })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	conn := connect(t, c.URL("raced"))
	require.NoError(t, conn.Close(ctx))
}

// TestHelperStart is the second process of TestStartConcurrent.
func TestHelperStart(t *testing.T) {
	home := os.Getenv("PGCLUSTER_HELPER_HOME")
	if home == "" {
		t.Skip("helper process for TestStartConcurrent")
	}
	c, err := New(Config{Home: home, Fast: true})
	require.NoError(t, err)
	require.NoError(t, c.Start(t.Context()))
}

// TestLongHomeAndPort: a home too deep for a unix socket path gets its socket
// directory under os.TempDir(); with a Port, the server also listens on TCP.
func TestLongHomeAndPort(t *testing.T) {
	t.Parallel()

	ctx := t.Context()
	home := filepath.Join(testHome(t), strings.Repeat("a-long-directory-name/", 5))
	port := freePort(t)
	sum := socketDirFor(home)
	t.Cleanup(func() { _ = os.RemoveAll(sum) }) // after Stop
	c := setup(t, Config{Home: home, Port: port, Fast: true})

	require.Equal(t, os.TempDir(), filepath.Dir(sum))
	require.True(t, strings.HasPrefix(filepath.Base(sum), "deltalog-"))
	require.Equal(t, "postgres://postgres@/postgres?host="+sum+"&port="+strconv.Itoa(port), c.URL("postgres"))

	require.NoError(t, c.Start(ctx))
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, sum, st.SocketDir)
	info, err := os.Stat(sum)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm())

	conn := connect(t, c.URL("postgres"))
	var fsync string
	require.NoError(t, conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync))
	require.Equal(t, "off", fsync)
	require.NoError(t, conn.Close(ctx))

	conn = connect(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port))
	require.NoError(t, conn.Ping(ctx))
	require.NoError(t, conn.Close(ctx))

}

func TestRootHomeNotTraversable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only as root")
	}
	if _, err := serverUser(""); errors.Is(err, ErrNoPostgresUser) {
		t.Skip("no postgres user")
	}

	private := t.TempDir() // its parent, /tmp/TestRootHomeNotTraversable…, is 0700
	c, err := New(Config{Home: filepath.Join(private, "home")})
	require.NoError(t, err)
	err = c.Start(t.Context())
	require.ErrorIs(t, err, ErrNotTraversable)
	require.Contains(t, err.Error(), "cannot enter "+filepath.Dir(private)+" (mode 0700")
	require.Contains(t, err.Error(), "chmod o+x")
}

func TestURL(t *testing.T) {
	t.Parallel()

	c, err := New(Config{Home: "/srv/deltalog"})
	require.NoError(t, err)
	require.Equal(t, "postgres://postgres@/deltalog?host=/srv/deltalog/run", c.URL("deltalog"))

	c, err = New(Config{Home: "/srv/my deltalog", Port: 5499})
	require.NoError(t, err)
	u := c.URL("a/b")
	require.Equal(t, "postgres://postgres@/a%2Fb?host=/srv/my%20deltalog/run&port=5499", u)
	cfg, err := pgconn.ParseConfig(u)
	require.NoError(t, err)
	require.Equal(t, "/srv/my deltalog/run", cfg.Host)
	require.EqualValues(t, 5499, cfg.Port)
	require.Equal(t, "a/b", cfg.Database)
	require.Equal(t, "postgres", cfg.User)
}

func TestConfig(t *testing.T) {
	t.Parallel()

	_, err := New(Config{Port: -1})
	require.ErrorContains(t, err, "Port -1 out of range")

	c, err := New(Config{})
	require.NoError(t, err)
	require.True(t, filepath.IsAbs(c.Home()))
}

// setup returns a cluster in a fresh home, stopped at the end of the test.
func setup(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	requireBinaries(t)
	if cfg.Home == "" {
		cfg.Home = testHome(t)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, c.Stop(ctx))
	})
	return c
}

// testHome returns a home directory path for a test cluster. As root the
// server runs as the postgres user, which must traverse to it, but the
// parent of t.TempDir() is private (0700), and with umask 077 so is
// t.TempDir(): open both for traversal.
func testHome(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
		require.NoError(t, os.Chmod(dir, 0o711))
	}
	return filepath.Join(dir, "home")
}

// requireBinaries returns the PostgreSQL binaries, or skips the test when
// there are none and DELTALOG_TEST_DATABASE_URL says to use a server.
func requireBinaries(t *testing.T) Binaries {
	t.Helper()
	bins, err := FindBinaries()
	if errors.Is(err, ErrNoBinaries) && os.Getenv("DELTALOG_TEST_DATABASE_URL") != "" {
		t.Skip(err)
	}
	require.NoError(t, err)
	return bins
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	return conn
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// BenchmarkColdStart measures initdb plus start of a fresh cluster.
func BenchmarkColdStart(b *testing.B) {
	for _, fast := range []bool{true, false} {
		b.Run(fmt.Sprintf("Fast=%v", fast), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				c, err := New(Config{Home: testHome(b), Fast: fast})
				require.NoError(b, err)
				b.StartTimer()
				require.NoError(b, c.Start(ctx))
				b.StopTimer()
				require.NoError(b, c.Stop(ctx))
				b.StartTimer()
			}
		})
	}
}

// BenchmarkStartRunning measures Start on a running cluster: what every test
// process pays to find the shared test cluster.
func BenchmarkStartRunning(b *testing.B) {
	ctx := context.Background()
	c, err := New(Config{Home: testHome(b), Fast: true})
	require.NoError(b, err)
	require.NoError(b, c.Start(ctx))
	b.Cleanup(func() { require.NoError(b, c.Stop(ctx)) })
	for b.Loop() {
		require.NoError(b, c.Start(ctx))
	}
}

// TestNoCreate: with NoCreate, Start refuses a home with no cluster and
// leaves nothing behind, and starts one that exists.
func TestNoCreate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	home := filepath.Join(testHome(t), "mistyped")
	open, err := New(Config{Home: home, NoCreate: true})
	require.NoError(t, err)
	err = open.Start(ctx)
	require.ErrorIs(t, err, ErrNoCluster)
	require.ErrorContains(t, err, home)
	require.NoDirExists(t, home, "nothing is created")

	c := setup(t, Config{Home: home})
	require.NoError(t, c.Start(ctx))
	require.NoError(t, c.Stop(ctx))
	require.NoError(t, open.Start(ctx), "an existing cluster is started")
	st, err := open.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.Running)
}
