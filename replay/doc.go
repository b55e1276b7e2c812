// Package replay carries the changelog out of the leader's database and
// into other ones: tail (JSON lines), a read-only HTTP API with
// Server-Sent Events, replication into NATS JetStream, and a follower that
// applies the changelog into another PostgreSQL database.
//
// # Reading
//
// Every path reads the changelog the same way: [changelog.ReadPage] returns
// a [changelog.Page], the events in a seq range (after, upto] whose upper bound is a head read before, so a
// page is final — it never gains an event later — together with the batch
// records of its events. [Stream] loops over pages, prefetching the next one
// while the caller writes the current one, and with Follow waits for the
// head to move through a [changelog.Watcher] (LISTEN/NOTIFY), never polling.
// A reader resumes from any seq.
//
// # Wire formats
//
// Events are [events.Event] as JSON; batch records are [events.Batch] (with
// the version scheme the follower needs to compute version keys). Tail
// writes one event per line. The HTTP API serves [changelog.Page] objects (GET /changelog?after=SEQ&limit=N, keyset paged) and an SSE stream
// (GET /changelog/stream) whose "event" messages carry one event each, with
// the seq as SSE id (so Last-Event-ID resumes), preceded by a "batch"
// message holding the batch record whenever a new batch starts. NATS
// messages carry a [changelog.Page] of consecutive events of one batch (one
// repository): pages, not single events, so that a consumer applies them
// with set-based SQL. They are published through watermill-nats on a
// subject per repository ([Subject]) with the page's last seq as
// Nats-Msg-Id and the seq range in Deltalog-First-Seq/Deltalog-Last-Seq.
//
// # HTTP server
//
// [Server] serves GET /changelog, /changelog/stream, /batches/{id},
// /status and /metrics (Prometheus). Streams are bounded (MaxStreams, 503
// beyond), each write has a deadline so a client that stops reading is
// dropped instead of holding its slot, and a stream holds no database
// connection while it writes. Pages are final, so they are cached, and
// streams woken by the same append share one read.
//
// # Replication position
//
// The replicator keeps no position of its own: on start it reads the last
// message of its stream and continues after that message's last seq. Every
// publish names the message it expects to follow (Nats-Expected-Last-Msg-Id),
// so a publish that raced a killed predecessor is refused by the server
// rather than duplicated, and JetStream de-duplication (Nats-Msg-Id) covers
// retried publishes. Killed at any moment, it neither loses nor repeats.
//
// # Follower
//
// A [Follower] applies the changelog into another database batch by batch,
// each batch in one transaction together with the follower's changelog head,
// which is its position: restarted, it resumes after its head and skips what
// it has already applied. It recomputes every package key with the batch's
// hash seed, checks each event against its own current state (the old
// packageset checksum it holds, the new one it computes from its packages),
// keeps its state checksums incrementally like the leader, and at each batch
// end compares them with the leader's. A mismatch stops it with a
// [*DivergenceError] naming the repository. It writes its rows through
// [changelog.Store], the updater's own writer, so the follower's rows are
// the leader's by construction.
package replay
