package dbtest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/internal/pg/pgcluster"
)

// Server is a PostgreSQL cluster of one test's own, which the test may
// crash and start again (what a worker must survive) without disturbing
// the tests that share the test cluster.
type Server struct {
	c *pgcluster.Cluster
}

// NewServer creates and starts a cluster under a temporary home; it is
// stopped and removed at cleanup. It costs an initdb (a few seconds): for
// tests of restarts only. Such tests are skipped when the tests run
// against a server of their own (DELTALOG_TEST_DATABASE_URL).
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	if os.Getenv(EnvURL) != "" {
		tb.Skipf("dbtest: restart tests need a managed cluster (%s is set)", EnvURL)
	}
	removeLeakedServers(tb)
	home, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", serverPrefix, os.Getpid()))
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	// As root, the server runs as the postgres user, which must reach it.
	if err := os.Chmod(home, 0o755); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	c, err := pgcluster.New(pgcluster.Config{Home: home, Fast: true})
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	s := &Server{c: c}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			tb.Errorf("dbtest: %v", err)
		}
		if err := os.RemoveAll(home); err != nil {
			tb.Errorf("dbtest: %v", err)
		}
	})
	s.Start(tb)
	return s
}

// serverPrefix starts the name of a Server's home, followed by the PID of
// the test process.
const serverPrefix = "deltalog-server-"

// removeLeakedServers stops and removes the clusters of test processes
// that no longer run (killed before their cleanups), told by the PID in
// their homes' names.
func removeLeakedServers(tb testing.TB) {
	homes, _ := filepath.Glob(filepath.Join(os.TempDir(), serverPrefix+"*"))
	for _, home := range homes {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(home), serverPrefix), "-", 2)[0])
		if err != nil || processAlive(pid) {
			continue
		}
		if c, err := pgcluster.New(pgcluster.Config{Home: home}); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
			_ = c.Crash(ctx) // thrown away: no need to shut down cleanly
			cancel()
		}
		if err := os.RemoveAll(home); err != nil {
			tb.Logf("dbtest: remove leaked cluster %s: %v", home, err)
		}
	}
}

// NewURL creates a database with the current schema on s and returns its
// URL. Unlike the test cluster's, its commits are synchronous: a crash
// loses none.
func (s *Server) NewURL(tb testing.TB, name string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := s.c.EnsureDatabase(ctx, name); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	url := s.c.URL(name)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	defer conn.Close(context.Background())
	// A crash must not lose what committed, as on a real server: Fast
	// turns synchronous_commit off, which would lose the last commits.
	// (fsync stays off: the OS does not crash, so what PostgreSQL wrote
	// survives.)
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(name)+" SET synchronous_commit = on"); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	if err := migrateFunc(ctx, conn); err != nil {
		tb.Fatalf("dbtest: migrate %s: %v", name, err)
	}
	return url
}

// Crash stops the server as a crash would (pg_ctl stop -m immediate):
// every session ends at once, mid-transaction.
func (s *Server) Crash(tb testing.TB) {
	tb.Helper()
	if err := s.c.Crash(context.Background()); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
}

// Start starts the server again (recovering from a crash).
func (s *Server) Start(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := s.c.Start(ctx); err != nil {
		tb.Fatalf("dbtest: start %s: %v", s.c.Home(), err)
	}
}

// Logs collects a logger's lines, for tests that check what a process
// said about its database ("waiting for the database"). They are printed
// when the test fails.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// NewLogs returns an empty collection.
func NewLogs(tb testing.TB) *Logs {
	l := &Logs{}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Log(l.String())
		}
	})
	return l
}

// Logger returns a logger writing to l (level Info).
func (l *Logs) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// Write implements io.Writer.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns what was logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
