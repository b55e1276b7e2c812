package projections_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/projections"
	dlsql "github.com/deltalog/deltalog/sql"
)

// tableRef finds the tables a statement reads or writes after a keyword,
// with their schema qualifier if any (markers are rewritten to a
// qualifier "TEMPLATE" first).
var tableRef = regexp.MustCompile(`(?i)\b(from|join|into|update|using|table|analyze)\s+(?:"?(\w+)"?\.)?"?(\w+)\b`)

// TestQueriesNameTheirTables is the static half of the proof that a rebuild
// never writes a live table: no query in sql/queries leaves the schema of a
// projection's table to the search_path — each is marked (dlsql.Render) or
// names public or pg_temp on purpose — and the queries the projections run
// on a target of their caller's choosing (catalog.sql) mark every one, and
// name their input (packages and the id lookups) explicitly too.
// TestRebuildWritesNoLiveTable is the other half.
func TestQueriesNameTheirTables(t *testing.T) {
	t.Parallel()
	var own []string
	for _, tables := range projections.Tables() {
		own = append(own, tables...)
	}
	input := []string{"packages", "maintainer_ids", "link_ids"}
	marker := regexp.MustCompile(`/\* TEMPLATE: \w+ \*/`)
	temp := regexp.MustCompile(`(?i)CREATE TEMP TABLE \w+`)
	cte := regexp.MustCompile(`(?i)(?:with|,)\s*(\w+)\s+AS\s+(?:MATERIALIZED\s+)?\(`)
	files, err := filepath.Glob("../sql/queries/*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	checked := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		projectionSQL := filepath.Base(f) == "catalog.sql"
		for name, q := range dlsql.SplitQueries(string(src)) {
			var lines []string
			for line := range strings.Lines(q) {
				code, _, _ := strings.Cut(line, "--")
				lines = append(lines, code)
			}
			text := temp.ReplaceAllString(marker.ReplaceAllString(strings.Join(lines, ""), "TEMPLATE."), "")
			var ctes []string
			for _, m := range cte.FindAllStringSubmatch(text, -1) {
				ctes = append(ctes, m[1])
			}
			for _, m := range tableRef.FindAllStringSubmatch(text, -1) {
				schema, table := m[2], m[3]
				if schema == "" && slices.Contains(ctes, table) {
					continue // a WITH query of that name
				}
				where := filepath.Base(f) + ": " + name + ": " + strings.TrimSpace(m[0])
				switch {
				case slices.Contains(own, table):
					checked++
					require.NotEmpty(t, schema, "%s: a projection's table left to the search_path", where)
					if projectionSQL {
						require.Equal(t, "TEMPLATE", schema, "%s: a projection's query names its own table without a marker", where)
					}
				case projectionSQL && slices.Contains(input, table):
					checked++
					require.NotEmpty(t, schema, "%s: the input left to the search_path", where)
				}
			}
		}
	}
	require.Greater(t, checked, 50, "the references were found")
}
