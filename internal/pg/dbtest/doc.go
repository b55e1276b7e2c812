// Package dbtest gives each test its own real, migrated PostgreSQL database.
//
// The server is the one named by DELTALOG_TEST_DATABASE_URL (its database is
// used as the maintenance database; the role needs CREATEDB) or, when that is
// unset, a cluster managed by [pgcluster] at <repo root>/.deltalog/test-cluster
// (with fsync off). That cluster is shared by every test process and left
// running after `go test`, so re-runs start instantly; `make test` stops it
// when it ends (`make test-db-stop` alone). [Digest] summarizes table contents for before/after comparisons.
//
// Databases come from a template (the pattern of river's riverdbtest and
// sqlc's sqltest): the migrations run once into a template database named
// by a hash of the migration files, and each [New] or [NewURL] clones it with
// CREATE DATABASE … TEMPLATE, which takes milliseconds. The template is
// built under a PostgreSQL advisory lock, so parallel test processes never
// both build it, and renamed into place once migrated, so a half-built
// template is never used. Templates of other migration versions are dropped
// when a new one is built. Each test's database is dropped (WITH (FORCE)) in
// its cleanup; on the managed cluster, databases left by killed test
// processes are dropped by the next test process.
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		pool := dbtest.New(t) // fresh, migrated, private to this test
//		...
//	}
package dbtest
