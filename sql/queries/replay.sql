-- Queries of the replay package: reading changelog pages and batch records
-- for tail, HTTP and NATS, and applying them on a follower.

-- name: replay-page
-- Events with after < seq <= upto, in seq order. upto is a head read before:
-- everything at or below it has committed, so the page is final (it never
-- gains an event later) and can be cached. batch_end is set on the last
-- event of each batch.
SELECT c.seq, c.batch_id, r.name, c.project, c.kind, c.old_checksum, c.new_checksum,
       c.removed, c.added, b.repo_state_checksum, b.global_state_checksum
FROM changelog c
JOIN repos r ON r.id = c.repo_id
LEFT JOIN batches b ON b.id = c.batch_id AND b.last_seq = c.seq
WHERE c.seq > $1 AND c.seq <= $2
ORDER BY c.seq
LIMIT $3;

-- name: replay-page-repo
-- replay-page limited to one repository. A batch is one repository's
-- contiguous seq range, so the batches of the repository select the ranges
-- to read through the changelog's primary key.
SELECT c.seq, c.batch_id, r.name, c.project, c.kind, c.old_checksum, c.new_checksum,
       c.removed, c.added, b.repo_state_checksum, b.global_state_checksum
FROM repos r
JOIN batches rb ON rb.repo_id = r.id AND rb.last_seq > $1 AND rb.first_seq <= $2
JOIN changelog c ON c.seq BETWEEN rb.first_seq AND rb.last_seq
LEFT JOIN batches b ON b.id = c.batch_id AND b.last_seq = c.seq
WHERE r.name = $4 AND c.seq > $1 AND c.seq <= $2
ORDER BY c.seq
LIMIT $3;

-- name: replay-batches
-- Batch records by id.
SELECT b.id, r.name, b.kind, b.files, b.started_at, b.finished_at, b.hash_seed, b.hash_version,
       b.version_scheme, b.first_seq, b.last_seq, b.counts, coalesce(b.reason, ''), coalesce(b.actor, ''),
       b.repo_state_checksum, b.global_state_checksum
FROM batches b
JOIN repos r ON r.id = b.repo_id
WHERE b.id = ANY ($1::bigint[])
ORDER BY b.id;

-- name: replay-last-batches
-- The last batch of each repository, for the update-duration metrics.
SELECT DISTINCT ON (b.repo_id) r.name, extract(epoch FROM b.finished_at - b.started_at)::float8,
       b.last_seq - b.first_seq + 1
FROM batches b
JOIN repos r ON r.id = b.repo_id
ORDER BY b.repo_id, b.id DESC;

-- name: replay-follower-lock
-- One follower per database: a session lock, released when the follower's
-- connection ends (also when the process is killed).
SELECT pg_try_advisory_lock(1684368500, 1936484449);

-- name: replay-custom-plans
-- A follower's statements run in a loop over a batch whose tables grow
-- within its transaction: plan each execution for the tables as they are.
SET LOCAL plan_cache_mode = force_custom_plan;
