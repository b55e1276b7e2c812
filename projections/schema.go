package projections

import (
	"cmp"

	"github.com/jackc/pgx/v5"

	dlsql "github.com/deltalog/deltalog/sql"
)

// Every query of a projection names the schema of each table it touches:
// the .sql files mark them (see dlsql.Schemas) and Render fills them in;
// the statements built in Go qualify them with qualified. A projection
// writes where its value says (the catalog's and history's schema field:
// the live tables by default, a rebuild's shadow schema), and nothing is
// left to the search_path.

// liveSchema holds the live tables of every projection.
const liveSchema = "public"

// tempSchema holds a session's temporary tables.
const tempSchema = "pg_temp"

// inputPrefix names the delta path's copies of its input: pg_temp.page_packages
// and so on (see catalog-scope-packages).
const inputPrefix = "page_"

// deltaSchemas are the schemas of the delta path writing into schema: the
// projection's tables and the levels its definitions read are there, its
// input is the page's temporary copies.
func deltaSchemas(schema string) dlsql.Schemas {
	schema = cmp.Or(schema, liveSchema)
	return dlsql.Schemas{Schema: schema, Levels: schema, Input: tempSchema, InputPrefix: inputPrefix}
}

// fullSchemas are the schemas of a recomputation from scratch (recompute):
// each level into pg_temp from the levels recomputed below it, over the
// live state and identity rows.
func fullSchemas() dlsql.Schemas {
	return dlsql.Schemas{Schema: liveSchema, Levels: tempSchema, Input: liveSchema}
}

// qualified is schema.table, quoted.
func qualified(schema, table string) string { return pgx.Identifier{schema, table}.Sanitize() }
