package sql

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
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

// Query returns the SQL text of the named query from queries/*.sql. A
// query with template markers must be rendered (Render): Query panics on
// one, so that no marked table is ever left to the search_path.
func Query(name string) string {
	q := raw(name)
	if marker.MatchString(q) {
		panic("sql: query " + name + " has template markers: use Render")
	}
	return q
}

func raw(name string) string {
	queriesOnce.Do(loadQueries)
	q, ok := queries[name]
	if !ok {
		panic("sql: no query named " + name)
	}
	return q
}

// Schemas says which schema each template marker of a query stands for.
// A query marks every table whose schema depends on who runs it — a
// projection's own tables, which a rebuild builds in a schema of its own,
// the delta path's temporary copies — as /* TEMPLATE: schema */projects,
// and Render puts the schema-qualified name in its place: no query's
// target is left to the search_path. Tables of the current state (repos,
// batches, packages as stored) are always the live ones and carry no
// marker.
type Schemas struct {
	// Schema holds the projection's own tables (marker "schema"): "public"
	// for the live tables, a rebuild's shadow schema.
	Schema string
	// Levels holds the lower-level derived tables a definition reads
	// (marker "levels"): the projection's schema on the delta path,
	// "pg_temp" in a recomputation from scratch, where each level reads the
	// levels recomputed below it.
	Levels string
	// Input holds the packages and the maintainer and link id lookups the
	// catalog's definitions read (marker "input"): "pg_temp" on the delta
	// path (copies holding the touched projects' rows only), "public" on
	// the full path.
	Input string
	// InputPrefix is put before the name of each table read through the
	// input marker: "page_" on the delta path, whose copies live on in the
	// session (emptied at each commit) and so must not take the live
	// tables' names, which they would shadow for every later unqualified
	// statement of the connection.
	InputPrefix string
}

var (
	marker   = regexp.MustCompile(`/\* TEMPLATE: (\w+) \*/`)
	rendered sync.Map // renderKey -> string
)

type renderKey struct {
	name string
	s    Schemas
}

// Render returns the named query with each template marker replaced by its
// schema, quoted, and a dot (and, for the input marker, InputPrefix). It panics on a marker the query uses and s
// leaves empty, or one it does not know: a programming error any test of
// the code path finds. Rendered texts are cached.
func Render(name string, s Schemas) string {
	k := renderKey{name, s}
	if q, ok := rendered.Load(k); ok {
		return q.(string)
	}
	q := marker.ReplaceAllStringFunc(raw(name), func(m string) string {
		var schema, prefix string
		switch which := marker.FindStringSubmatch(m)[1]; which {
		case "schema":
			schema = s.Schema
		case "levels":
			schema = s.Levels
		case "input":
			schema, prefix = s.Input, s.InputPrefix
		default:
			panic(fmt.Sprintf("sql: query %s: unknown template marker %q", name, which))
		}
		if schema == "" {
			panic(fmt.Sprintf("sql: query %s: no schema for %s", name, m))
		}
		return pgx.Identifier{schema}.Sanitize() + "." + prefix
	})
	rendered.Store(k, q)
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
