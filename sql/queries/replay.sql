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

-- name: replay-head-lock
-- The follower's position is its own changelog head; the row lock keeps a
-- concurrent writer out for the batch's transaction.
SELECT seq FROM changelog_head FOR UPDATE;

-- name: replay-head-set
UPDATE changelog_head SET seq = $1;

-- name: replay-old-packagesets
-- The packagesets of the given projects. Probed one by one through the
-- primary key (OFFSET 0 keeps the subquery from being flattened into a
-- join the planner could turn into a scan of a table it has no statistics
-- for yet: the follower's tables grow inside the batch's transaction).
SELECT p.project, p.checksum
FROM unnest($2::text[]) AS u (project)
CROSS JOIN LATERAL (SELECT project, checksum FROM packagesets s
                    WHERE s.repo_id = $1 AND s.project = u.project OFFSET 0) p;

-- name: replay-old-keys
-- The package keys of the given projects, probed like replay-old-packagesets.
SELECT p.project, p.checksum
FROM unnest($2::text[]) AS u (project)
CROSS JOIN LATERAL (SELECT project, checksum FROM packages k
                    WHERE k.repo_id = $1 AND k.project = u.project OFFSET 0) p;

-- name: replay-old-packages
-- Full records of the given projects' packages, for a batch that re-derives
-- every key.
SELECT p.project, p.checksum, p.name, p.version, p.summary, p.category, p.maintainers, p.links, p.extra
FROM unnest($2::text[]) AS u (project)
CROSS JOIN LATERAL (SELECT * FROM packages k WHERE k.repo_id = $1 AND k.project = u.project OFFSET 0) p;

-- name: replay-packagesets-insert
-- Packagesets the leader added: a row already there is a divergence, which
-- the primary key reports.
INSERT INTO packagesets (repo_id, project, checksum, num_packages)
SELECT $1, u.project, u.checksum, u.num_packages
FROM unnest($2::text[], $3::bigint[], $4::integer[]) AS u (project, checksum, num_packages);

-- name: replay-packagesets-upsert
INSERT INTO packagesets AS p (repo_id, project, checksum, num_packages)
SELECT $1, u.project, u.checksum, u.num_packages
FROM unnest($2::text[], $3::bigint[], $4::integer[]) AS u (project, checksum, num_packages)
ON CONFLICT (repo_id, project) DO UPDATE
SET checksum = excluded.checksum, num_packages = excluded.num_packages, invalid = false
WHERE (p.checksum, p.num_packages, p.invalid) IS DISTINCT FROM (excluded.checksum, excluded.num_packages, false);
