// Package projections keeps derived tables current from the changelog:
// the catalog (repositories, projects, maintainers, links, categories,
// their binding tables with reference counts, statistics, and package
// statuses; and, as history, snapshots of the repositories' counts and the
// statistics after each batch: snapshots.go) and the history of every
// project.
//
// # Delta and full are one definition
//
// Every catalog table has one SQL definition (the expect-* queries in
// sql/queries/catalog.sql) of the rows it should hold for a set of keys in
// scope. Applying a changelog page puts the keys it touched in temporary
// tables and runs those definitions limited to them, writing only rows that
// differ; the audit runs the same definitions with every key in scope and
// compares instead of writing. So the audit checks the very SQL the delta
// path runs.
//
// Tables are derived level by level: per (project, repository), per
// (project, maintainer, repository) and per (project, link) first — the
// finest grain, recomputed per touched project across all repositories,
// because a new version in one repository changes the status of the
// project's packages in every other; then maintainers' and links' totals
// from those bindings; finally repository totals and global statistics,
// which the delta path moves by the differences between old and new
// binding rows rather than re-aggregating (that would cost a repository's
// size, not the change's). Last come the problems of packages
// (sql/queries/problems.sql), which read every level below: their pairs in
// scope are the page's and those whose problems other projects' changes
// reach (a URL gaining or losing its second project, an https link to a
// host coming or going, a repository of the project gaining or losing the
// newest), found through indexes.
//
// # Every table named with its schema
//
// No query leaves a table's schema to the search_path. The .sql files mark
// each table whose schema depends on who runs the query —
// /* TEMPLATE: schema */projects — and dlsql.Render fills the marks in
// (see dlsql.Schemas); the statements built in Go from the table
// descriptions (statements.go) qualify every table. A projection value
// carries the schema it writes (the live tables by default; a rebuild's
// catalog and history write its shadow schema, the audit's history replay
// pg_temp) and passes it down to every query it runs: deltaSchemas for the
// delta path, fullSchemas for a recomputation. New projection code takes
// the schema the same way — from its projection, or a parameter — never
// from the session.
//
// # Exactly once
//
// A page is applied in one transaction together with the projection's
// checkpoint, after locking the checkpoint row, and always starts at the
// checkpoint: a crash, a redelivery or a second worker can neither apply an
// event twice nor skip one. Id caches are filled only after commit.
package projections
