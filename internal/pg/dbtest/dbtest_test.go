package dbtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNewIsolated(t *testing.T) {
	t.Parallel()

	ctx := t.Context()
	a, b := New(t), New(t)

	var nameA, nameB string
	require.NoError(t, a.QueryRow(ctx, "SELECT current_database()").Scan(&nameA))
	require.NoError(t, b.QueryRow(ctx, "SELECT current_database()").Scan(&nameB))
	require.NotEqual(t, nameA, nameB)
	require.True(t, strings.HasPrefix(nameA, testDBPrefix), nameA)

	// Both are migrated: same, non-empty schema.
	require.NotEmpty(t, tables(t, a))
	require.Equal(t, tables(t, a), tables(t, b))

	_, err := a.Exec(ctx, "CREATE TABLE only_in_a (x int); INSERT INTO only_in_a VALUES (1)")
	require.NoError(t, err)
	require.Contains(t, tables(t, a), "only_in_a")
	require.NotContains(t, tables(t, b), "only_in_a")
}

func TestNewURLDroppedAtCleanup(t *testing.T) {
	t.Parallel()

	var name string
	t.Run("Use", func(t *testing.T) {
		url := NewURL(t)
		conn, err := pgx.Connect(t.Context(), url)
		require.NoError(t, err)
		require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name))
		// Left open on purpose: the cleanup's DROP … WITH (FORCE) ends it.
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
	})

	var exists bool
	require.NoError(t, Admin(t).QueryRow(t.Context(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists))
	require.False(t, exists, name)
}

func TestTemplate(t *testing.T) {
	t.Parallel()

	s := getServer(t)
	var allowConn, isTemplate bool
	require.NoError(t, Admin(t).QueryRow(t.Context(),
		"SELECT datallowconn, datistemplate FROM pg_database WHERE datname = $1", s.template).Scan(&allowConn, &isTemplate))
	require.False(t, allowConn)
	require.True(t, isTemplate)
	require.Equal(t, templatePrefix+migrationsHashFunc(), s.template)
}

func TestDigest(t *testing.T) {
	t.Parallel()

	ctx := t.Context()
	a, b := New(t), New(t)
	require.Equal(t, Digest(t, a), Digest(t, b))

	_, err := a.Exec(ctx, "CREATE TABLE t (x int, y text); INSERT INTO t VALUES (1, 'one'), (2, 'two')")
	require.NoError(t, err)
	_, err = b.Exec(ctx, "CREATE TABLE t (x int, y text); INSERT INTO t VALUES (2, 'two'), (1, 'one')")
	require.NoError(t, err)
	require.Equal(t, Digest(t, a, "t"), Digest(t, b, "t"), "row order does not matter")
	require.Contains(t, Digest(t, a), "public.t: 2 rows ")

	_, err = b.Exec(ctx, "UPDATE t SET y = 'TWO' WHERE x = 2")
	require.NoError(t, err)
	require.NotEqual(t, Digest(t, a, "t"), Digest(t, b, "t"))
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()

	for base, want := range map[string]string{
		"postgres://postgres@/postgres?host=/x/run":     "postgres://postgres@/db1?host=/x/run",
		"postgresql://u:p@h:5433/main?sslmode=disable":  "postgresql://u:p@h:5433/db1?sslmode=disable",
		"postgres://u@h/?dbname=main&sslmode=disable":   "postgres://u@h/db1?sslmode=disable",
		"host=/var/run/postgresql user=me dbname=other": "host=/var/run/postgresql user=me dbname=other dbname=db1",
	} {
		require.Equal(t, want, withDatabase(base, "db1"), base)
	}
}

func BenchmarkNew(b *testing.B) {
	getServer(b) // cluster start and template build are not measured
	for b.Loop() {
		New(b)
	}
}

func tables(t *testing.T, db Querier) []string {
	t.Helper()
	rows, err := db.Query(t.Context(), "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

// TestServerCrashAndStart: a test's own cluster crashes (its sessions end,
// connections are refused) and starts again with its data; NewServer
// first removes the cluster homes of test processes that no longer run.
func TestServerCrashAndStart(t *testing.T) {
	t.Parallel()
	leaked := filepath.Join(os.TempDir(), "deltalog-server-999999999-leaked")
	require.NoError(t, os.MkdirAll(leaked, 0o755))
	s := NewServer(t)
	require.NoDirExists(t, leaked)

	ctx := context.Background()
	url := s.NewURL(t, "crash")
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE TABLE kept AS SELECT 1 AS one")
	require.NoError(t, err)
	s.Crash(t)
	_, err = conn.Exec(ctx, "SELECT 1")
	require.Error(t, err, "the session ended")
	_, err = pgx.Connect(ctx, url)
	require.Error(t, err, "no server")
	s.Start(t)
	again, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer again.Close(ctx)
	var one int
	require.NoError(t, again.QueryRow(ctx, "SELECT one FROM kept").Scan(&one))
	require.Equal(t, 1, one)
}
