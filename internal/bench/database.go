package bench

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultDatabase is the database NewDatabase creates for `deltalog bench`.
const DefaultDatabase = "deltalog_bench"

// NewDatabase creates a fresh, empty database name on the server of
// baseURL (dropping an earlier one of that name) and returns its URL and a
// function that drops it. The role of baseURL needs CREATEDB.
func NewDatabase(ctx context.Context, baseURL, name string) (string, func(context.Context) error, error) {
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	id := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)"); err != nil {
		return "", nil, fmt.Errorf("bench: dropping database %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+id); err != nil {
		return "", nil, fmt.Errorf("bench: creating database %s: %w", name, err)
	}
	drop := func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, baseURL)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)")
		return err
	}
	return withDatabase(baseURL, name), drop, nil
}

// withDatabase returns baseURL naming database name instead.
func withDatabase(base, name string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		if u, err := url.Parse(base); err == nil {
			u.Path, u.RawPath = "/"+name, ""
			if q := u.Query(); q.Has("dbname") {
				q.Del("dbname")
				u.RawQuery = q.Encode()
			}
			return u.String()
		}
	}
	return base + " dbname=" + name
}
