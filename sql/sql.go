package sql

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

//go:embed queries/*.sql
var queryFS embed.FS

// versionTable is where tern records the applied migration version.
const versionTable = "deltalog_schema_version"

// Migrate brings the database schema up to date. It is safe to call from
// several processes at once: tern serializes migrators with an advisory lock.
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return err
	}
	if err := m.LoadMigrations(sub); err != nil {
		return fmt.Errorf("migrate: loading migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// MigrationsHash identifies the schema: a hex digest of every migration
// file. Test helpers name their template databases by it.
func MigrationsHash() string {
	h := sha256.New()
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	sort.Strings(names)
	for _, n := range names {
		b, _ := migrationFS.ReadFile(n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

var (
	queriesOnce sync.Once
	queries     map[string]string
)

// Query returns the SQL text of the named query from queries/*.sql.
func Query(name string) string {
	queriesOnce.Do(loadQueries)
	q, ok := queries[name]
	if !ok {
		panic("sql: no query named " + name)
	}
	return q
}

func loadQueries() {
	queries = map[string]string{}
	files, _ := fs.Glob(queryFS, "queries/*.sql")
	for _, f := range files {
		b, err := queryFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		for name, q := range SplitQueries(string(b)) {
			if _, dup := queries[name]; dup {
				panic(fmt.Sprintf("sql: query %s defined twice (%s)", name, path.Base(f)))
			}
			queries[name] = q
		}
	}
}

// SplitQueries splits a file on "-- name: X" header lines. Text before the
// first header (a file comment) is ignored; comments after a header stay
// part of its query.
func SplitQueries(src string) map[string]string {
	out := map[string]string{}
	var name string
	var body strings.Builder
	flush := func() {
		if name != "" {
			out[name] = strings.TrimSpace(body.String())
		}
		body.Reset()
	}
	for line := range strings.Lines(src) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			flush()
			name = strings.TrimSpace(rest)
			continue
		}
		body.WriteString(line)
	}
	flush()
	return out
}
