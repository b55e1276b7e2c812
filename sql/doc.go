// Package sql holds deltalog's schema migrations and queries as .sql files,
// embedded into the binary, so that the SQL is read and reviewed as SQL.
//
// Migrations (migrations/NNN_name.sql, tern format) are applied by Migrate;
// every command applies them on start. Queries (queries/*.sql) are split on
// "-- name: X" headers and looked up with Query, which panics on an unknown
// name: a missing query is a programming error caught by any test that runs
// the code path.
package sql
