-- Queries of the replay package: metrics of the feeds, and a follower's
-- locks and plans (pages and the writes are changelog's).

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
