// Package bench measures deltalog side by side with its naive peers and
// the physical floor, in one run, against one database, on the same data:
// synthetic Repology-scale catalogs from internal/bench/gen and, when present,
// the real Debian sequence and the PyPI list.
//
// Run generates the snapshots, then runs each case several times and keeps
// the median:
//
//   - parse + hash: reading, parsing, hashing and grouping every snapshot,
//     no database — the floor every update pays, delta or not;
//   - COPY floor: the same package rows COPYed into a table without index;
//   - full ingest: every repository updated into an empty database, then
//     the projections caught up;
//   - no-change update: the same snapshots again;
//   - delta: 1 packageset: one package of one repository with a new
//     version, that repository updated (the everyday case, one security
//     update);
//   - delta R%: a generation that changed R% of the packagesets — update
//     plus projections (alternating with the generation before it, so each
//     run is a delta of that size);
//   - full recompute: every derived table rebuilt from the current state
//     (projections.Recompute, the audit's queries);
//   - materialized views: the same derived data as plain SQL materialized
//     views over the packages (views.sql), REFRESHed — what a user without
//     deltalog would run after each load;
//   - tail: events per second read out of the changelog;
//   - api (asked for by name, api.go): the read side under open-loop load,
//     idle and during updates, with the server, the updates and the
//     projections as deltalog processes of their own (Config.Exe).
//
// Every delta case (here and in the real workloads) also measures its
// ideal-delta floor and amplification (floor.go): the exact differences of
// every derived table and of the current state between the two states,
// written as bulk DELETE/UPDATE/INSERT from temporary tables; and derived
// rows re-derived by the delta path (as its projections count them,
// projections.PageStats) ÷ derived rows that changed. After each
// family of cases (synthetic, Debian, PyPI, Repology's workload) the audit
// runs, and the run fails with ErrInconsistent unless it finds the database
// consistent.
//
// With Config.PeerDebian, Repology's workload (peer.go) runs on the Debian
// data beside the peer's published figures.
//
// Updates report their time end to end and the database work alone
// (everything after parse + hash: diff, changelog append, current state,
// then the projections), so that the two sides can be judged separately.
// Each case also records the peak RSS of the process while it ran
// (/proc/self/status VmHWM, reset between cases).
//
// Run wipes the database it is given (the public schema is dropped and
// migrated again between full ingests): give it a database of its own —
// NewDatabase creates one.
package bench
