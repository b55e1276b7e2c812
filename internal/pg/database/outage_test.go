package database_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/pg/database"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// TestUnreachable classifies real errors: those of a server that cannot be
// reached or that ended the session are transient, those of a statement
// that failed on a server that answered are not.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)

	_, err = conn.Exec(ctx, "SELEKT 1")
	require.Error(t, err)
	require.False(t, database.Unreachable(err), "a syntax error: %v", err)
	_, err = conn.Exec(ctx, "SELECT 1/0")
	require.False(t, database.Unreachable(err), "division by zero: %v", err)
	require.False(t, database.Unreachable(context.Canceled))
	require.False(t, database.Unreachable(nil))

	// A session the server ends (as a restart does): the statement that
	// ran in it, and the next one on the closed connection.
	victim, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer victim.Close(ctx)
	_, err = conn.Exec(ctx, "SELECT pg_terminate_backend($1)", victim.PgConn().PID())
	require.NoError(t, err)
	_, err = victim.Exec(ctx, "SELECT 1")
	require.True(t, database.Unreachable(err), "terminated: %v", err)
	_, err = victim.Exec(ctx, "SELECT 1")
	require.True(t, database.Unreachable(err), "closed: %v", err)
	require.True(t, database.Unreachable(fmt.Errorf("reading checkpoint: %w", err)), "wrapped")

	// No server where the URL points.
	_, err = pgx.Connect(ctx, "postgres://postgres@/deltalog?host=/nonexistent&connect_timeout=5")
	require.True(t, database.Unreachable(err), "no server: %v", err)
	// A server that answers, refusing the database, is not an outage.
	missing := conn.Config().Copy()
	missing.Database = "deltalog_missing"
	_, err = pgx.ConnectConfig(ctx, missing)
	require.Error(t, err)
	require.False(t, database.Unreachable(err), "no such database: %v", err)

	require.True(t, database.Unreachable(fmt.Errorf("%w: ping failed", database.ErrUnreachable)))
}

// TestRetry: Retry calls again after an unreachable database, waiting
// with the backoff, which reports the outage until Reset; any other error
// ends it.
func TestRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := &database.Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond}
	lost := fmt.Errorf("page: %w", database.ErrUnreachable)
	calls := 0
	err := database.Retry(ctx, b, func(context.Context) error {
		calls++
		if calls < 4 {
			return lost
		}
		waiting, since := b.Waiting()
		require.True(t, waiting)
		require.False(t, since.IsZero())
		b.Reset(ctx)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 4, calls)
	waiting, _ := b.Waiting()
	require.False(t, waiting)

	failing := errors.New("cannot derive")
	calls = 0
	err = database.Retry(ctx, b, func(context.Context) error { calls++; return failing })
	require.ErrorIs(t, err, failing)
	require.Equal(t, 1, calls)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = database.Retry(cctx, &database.Backoff{}, func(context.Context) error { return lost })
	require.ErrorIs(t, err, lost, "ctx over: the last error, not another wait")
}
