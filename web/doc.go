// Package web is deltalog's read side: the catalog API (/api/v1, modelled on
// Repology's), Atom feeds built from project_history, and the operator
// dashboard (/), all served by one http.Handler that `deltalog serve`
// mounts beside the replication endpoints of package replay.
//
// It only reads. Its store runs the queries of sql/queries/web.sql (and
// the one dynamic list query built in list.go, and the freshness and
// snapshot reads of sql/queries/extras.sql) on a pool opened with
// [OpenReadOnly], under the deltalog_reader role of migration 007, which
// may SELECT the read tables and nothing else: a bug here cannot write.
//
// # Polling
//
// Every response is a function of the changelog head and the projection
// checkpoints, so they name it: the Deltalog-Checkpoint header (and the
// "checkpoint" field of JSON bodies) is the seq up to which every derived
// table is applied, and the strong ETag is built from the head and each
// checkpoint. A request whose If-None-Match matches is answered 304 after
// reading those three numbers, without touching the catalog tables.
//
// # Feeds
//
// Feed entries are history rows, and a history row is named by the
// changelog seq that caused it and its kind: the same change has the same
// entry id on every poll, after every rebuild and on every follower.
//
// # Freshness
//
// How long repositories take to pick up a project's newest version is
// computed at read time from project_history (freshness.go: the
// definition, the window, what counts as pending), for the API and for
// `deltalog report freshness`.
package web
