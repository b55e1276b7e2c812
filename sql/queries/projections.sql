-- Projection checkpoints, dead letters and status.

-- name: checkpoint-ensure
INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING;

-- name: checkpoint-lock
SELECT seq FROM projection_checkpoints WHERE name = $1 FOR UPDATE;

-- name: checkpoint-get
SELECT seq FROM projection_checkpoints WHERE name = $1;

-- name: checkpoint-advance
UPDATE projection_checkpoints
SET seq = $2, updated_at = now(), failed_at = NULL, error = NULL, cache_stats = $3
WHERE name = $1;

-- name: projection-dead-letter
WITH dl AS (
    INSERT INTO projection_dead_letters (projection, from_seq, to_seq, error, attempts)
    VALUES ($1, $2 + 1, $3, $4, $5)
)
INSERT INTO projection_checkpoints AS c (name, failed_at, error) VALUES ($1, now(), $4)
ON CONFLICT (name) DO UPDATE SET failed_at = now(), error = $4;

-- name: projection-try-lock
SELECT pg_try_advisory_lock(1684368501, hashtext($1));

-- name: projection-lock-held
-- Whether the session with backend PID $2 holds the projection's lock: a
-- worker's page checks it in its transaction, so that a lock lost with its
-- session (a restarted server) does not let the worker's pages go on.
SELECT EXISTS (SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.classid = 1684368501 AND l.objid = hashtext($1)::oid
                 AND l.objsubid = 2 AND l.granted AND l.pid = $2
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()));

-- name: projection-status
-- Checkpoint, state and whether a worker holds the projection's lock; for
-- the watchdog, the server's time and when the first event the projection
-- has not applied was appended (its batch's end; NULL when caught up).
SELECT c.name, c.seq, c.updated_at, c.failed_at, c.error, c.cache_stats,
       EXISTS (SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.classid = 1684368501 AND l.objid = hashtext(c.name)::oid
                 AND l.objsubid = 2 AND l.granted
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS running,
       now(),
       (SELECT b.finished_at FROM batches b WHERE b.last_seq > c.seq ORDER BY b.last_seq LIMIT 1) AS pending_since
FROM projection_checkpoints c
ORDER BY c.name;

-- name: table-size
-- The largest planner row estimate among tables $1 (0 for tables never
-- analyzed, whose estimate is -1): internal/pg/autoanalyze's measure of size.
SELECT coalesce(max(greatest(reltuples, 0)), 0)::float8
FROM pg_class
WHERE oid = ANY ($1::text[]::regclass[]);

-- name: catalog-size
-- Packagesets in the catalog: what a runner weighs a lag against.
SELECT coalesce(sum(num_packagesets), 0)::bigint FROM repos;

-- name: projection-repos
-- What projections need to know of every repository to interpret a page.
SELECT id, name, version_scheme FROM repos;
