package bench

import (
	_ "embed"
	"strings"
	"sync"

	dlsql "github.com/deltalog/deltalog/sql"
)

// views.sql holds the naive peer (materialized views) and the COPY floor's
// table, with "-- name:" headers as the queries under sql/queries.
//
//go:embed views.sql
var viewsSQL string

var queries = sync.OnceValue(func() map[string]string { return dlsql.SplitQueries(viewsSQL) })

// query returns the named query of views.sql.
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
