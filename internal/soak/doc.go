// Package soak runs deltalog under faults for a bounded time and checks
// that nothing was lost, repeated or left stalled: what `deltalog soak` and
// `make soak` run, and a short version of which is a test.
//
// # What runs
//
// Everything that matters runs as a real OS process of the deltalog binary
// itself, so that a SIGKILL is a real one: `update` of several
// repositories with generated deltas (internal/bench/gen) arriving
// continuously, projection workers (`project --follow`; more than one, so
// that a second worker keeps trying to take over, as a service manager
// restarting it would), a replicator (`replicate`) to a NATS JetStream
// server embedded in the soak process, and a follower (`follow`) reading
// that stream into a second database. Each long-running process is kept
// running by a supervisor that starts it again whenever it ends. They all
// use a PostgreSQL cluster of the soak's own, under its home directory:
// it is restarted on purpose, so it is never the one that holds data.
//
// # Faults
//
// A chaos loop SIGKILLs a random one of those processes (an update
// included) every few seconds, and every few tens of seconds stops
// PostgreSQL the way a crash would (pg_ctl stop -m immediate), leaves it
// down for a random while, and starts it again (crash recovery).
//
// # Checks
//
// While it runs, a sampler looks at the leader's sessions several times a
// second: which worker process holds each projection's lock, and which is
// writing that projection's tables. A live worker writing without the lock,
// or two writing at once, break "one worker at a time". When the time is up
// the faults and the updates stop, and the soak requires, within a bound
// after the last fault, every projection caught up with the head (a live
// process with a dead projection never is), the stream and the follower at
// the head too; then every changelog seq exactly once and in order in the
// stream, the follower's state checksums equal to the leader's, and
// `deltalog audit --replay-history` consistent. A long-running process that
// ended by itself (rather than being killed, or refused because another
// worker holds the lock) fails the run as well: a lost database is a
// transient condition to wait out, not a reason to exit. The [Report]
// prints the figures and names each failed check.
package soak
