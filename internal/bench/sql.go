package bench

import (
	_ "embed"
	"strings"
	"sync"
)

// views.sql holds the naive peer (materialized views) and the COPY floor's
// table, with "-- name:" headers as the queries under sql/queries.
//
//go:embed views.sql
var viewsSQL string

var queries = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	var name string
	var body strings.Builder
	flush := func() {
		if name != "" {
			out[name] = strings.TrimSpace(body.String())
		}
		body.Reset()
	}
	for line := range strings.Lines(viewsSQL) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			flush()
			name = strings.TrimSpace(rest)
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		body.WriteString(line)
	}
	flush()
	return out
})

// query returns the named query of views.sql.
func query(name string) string {
	q, ok := queries()[name]
	if !ok {
		panic("bench: no query named " + name)
	}
	return q
}
