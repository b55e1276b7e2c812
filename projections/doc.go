// Package projections keeps derived tables current from the changelog:
// the catalog (repositories, projects, maintainers, links, their binding
// tables with reference counts, statistics, and package statuses) and the
// history of every project.
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
// size, not the change's).
//
// # Exactly once
//
// A page is applied in one transaction together with the projection's
// checkpoint, after locking the checkpoint row, and always starts at the
// checkpoint: a crash, a redelivery or a second worker can neither apply an
// event twice nor skip one. Id caches are filled only after commit.
package projections
