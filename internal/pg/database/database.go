// Package database opens deltalog's database: the server named by a URL
// when one is given, otherwise the private cluster deltalog manages under
// its home directory, started on demand. Either way the schema is migrated
// before the pool is handed out, so every command sees the current schema.
package database

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/internal/pg/pgcluster"
	dlsql "github.com/deltalog/deltalog/sql"
)

// DefaultName is the database deltalog creates in its managed cluster.
const DefaultName = "deltalog"

// Options says which database to open.
type Options struct {
	// URL of an existing server; empty means $DATABASE_URL, and if that is
	// empty too, the managed cluster.
	URL string
	// Home of the managed cluster; empty means $DELTALOG_HOME or ./.deltalog.
	Home string
	// MustExist makes opening the managed cluster fail with
	// pgcluster.ErrNoCluster when its home holds none, rather than create
	// one: for read-only commands.
	MustExist bool
	// Wait makes Open wait out an unreachable server, with backoff, for
	// as long as ctx lasts, rather than fail: for the long-running
	// commands, which may start while the database restarts.
	Wait     bool
	MaxConns int32
	Logger   *slog.Logger
}

// ErrBadURL is returned (wrapped) for a database URL that does not parse.
var ErrBadURL = errors.New("malformed database URL")

// Validate checks what can be checked without connecting: that the URL,
// when one is given, parses.
func (o Options) Validate() error {
	if u := o.url(); u != "" {
		if _, err := pgxpool.ParseConfig(u); err != nil {
			return fmt.Errorf("%w: %w", ErrBadURL, err)
		}
	}
	return nil
}

// url is the URL of the server to use; empty means the managed cluster.
func (o Options) url() string { return cmp.Or(o.URL, os.Getenv("DATABASE_URL")) }

// Home returns the managed cluster's home directory for o.
func (o Options) home() string {
	return cmp.Or(o.Home, os.Getenv("DELTALOG_HOME"), ".deltalog")
}

// Cluster returns the managed cluster for o (not started).
func Cluster(o Options) (*pgcluster.Cluster, error) {
	return pgcluster.New(pgcluster.Config{Home: o.home(), NoCreate: o.MustExist, Logger: o.Logger})
}

// URL resolves the connection URL, starting the managed cluster if it is
// the one to use.
func URL(ctx context.Context, o Options) (string, error) {
	if u := o.url(); u != "" {
		return u, nil
	}
	c, err := Cluster(o)
	if err != nil {
		return "", err
	}
	if err := c.Start(ctx); err != nil {
		return "", err
	}
	if err := c.EnsureDatabase(ctx, DefaultName); err != nil {
		return "", err
	}
	return c.URL(DefaultName), nil
}

// Open returns a pool to the migrated database.
func Open(ctx context.Context, o Options) (*pgxpool.Pool, error) {
	if !o.Wait {
		return open(ctx, o)
	}
	var pool *pgxpool.Pool
	err := Retry(ctx, &Backoff{Who: "open", Logger: o.Logger}, func(ctx context.Context) error {
		var err error
		pool, err = open(ctx, o)
		return err
	})
	return pool, err
}

func open(ctx context.Context, o Options) (*pgxpool.Pool, error) {
	url, err := URL(ctx, o)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", redact(cfg), err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to %s: %w", redact(cfg), err)
	}
	err = dlsql.Migrate(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// redact names a server without its password, for error messages.
func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("database %q on %s:%d as %s", c.Database, c.Host, c.Port, c.User)
}
