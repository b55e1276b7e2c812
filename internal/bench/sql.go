package bench

import (
	_ "embed"
	"maps"
	"strings"
	"sync"

	dlsql "github.com/deltalog/deltalog/sql"
)

// views.sql holds the naive peer (materialized views) and the COPY floor's
// table, floor.sql the ideal-delta floor's catalog queries, with "-- name:"
// headers as the queries under sql/queries.
var (
	//go:embed views.sql
	viewsSQL string
	//go:embed floor.sql
	floorSQL string
)

var queries = sync.OnceValue(func() map[string]string {
	q := dlsql.SplitQueries(viewsSQL)
	maps.Copy(q, dlsql.SplitQueries(floorSQL))
	return q
})

// query returns the named query of views.sql or floor.sql.
func query(name string) string {
	q, ok := queries()[name]
	if !ok {
		panic("bench: no query named " + name)
	}
	return q
}

// names returns the named list of views.sql: one name a line, comments
// skipped.
func names(name string) []string {
	var out []string
	for line := range strings.Lines(query(name)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "--") {
			out = append(out, line)
		}
	}
	return out
}
