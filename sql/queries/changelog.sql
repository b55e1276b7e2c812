-- Queries of the changelog package: the update transaction and readers.

-- name: repo-lock
-- Serializes updates of one repository (held until the transaction ends).
-- The first key namespaces deltalog's advisory locks.
SELECT pg_advisory_xact_lock(1684368500, hashtext($1));

-- name: repo-get
SELECT r.id, r.state_checksum, r.num_packages, r.num_packagesets, r.hash_seed, r.hash_version, r.version_scheme,
       r.version_order, EXISTS (SELECT 1 FROM packagesets p WHERE p.repo_id = r.id AND p.invalid) AS has_invalid,
       EXISTS (SELECT 1 FROM invalidations i WHERE i.repo_id = r.id AND i.batch_id IS NULL) AS has_pending,
       r.bucket_states
FROM repos r WHERE r.name = $1;

-- name: repo-create
INSERT INTO repos (name, hash_seed, hash_version, version_scheme) VALUES ($1, $2, $3, $4) RETURNING id;

-- name: repo-set-state
UPDATE repos
SET state_checksum = $2, num_packages = $3, num_packagesets = $4,
    hash_seed = $5, hash_version = $6, version_scheme = $7, version_order = $8, bucket_states = $9, updated_at = now()
WHERE id = $1;

-- name: packagesets-of-repo
SELECT project, checksum, invalid FROM packagesets WHERE repo_id = $1;

-- name: packagesets-of-buckets
-- The stored packagesets of the bucket ranges [lo, hi) whose states differ
-- from the snapshot's (index packagesets_bucket: one range scan each).
SELECT p.project, p.checksum, p.invalid
FROM unnest($2::integer[], $3::integer[]) AS r (lo, hi)
JOIN packagesets p ON p.repo_id = $1 AND p.bucket >= r.lo AND p.bucket < r.hi;

-- name: packagesets-invalid-buckets
-- The buckets holding invalidated packagesets (index packagesets_invalid).
SELECT DISTINCT bucket FROM packagesets WHERE repo_id = $1 AND invalid;

-- name: packagesets-of-projects
-- The packagesets of the given projects. Probed one by one through the
-- primary key (OFFSET 0 keeps the subquery from being flattened into a
-- join the planner could turn into a scan of a table it has no statistics
-- for yet: a follower's tables grow inside its batch's transaction).
SELECT p.project, p.checksum, p.invalid
FROM unnest($2::text[]) AS u (project)
CROSS JOIN LATERAL (SELECT project, checksum, invalid FROM packagesets s
                    WHERE s.repo_id = $1 AND s.project = u.project OFFSET 0) p;

-- name: package-keys-of-projects
-- The package keys of the given projects, probed like
-- packagesets-of-projects.
SELECT p.project, p.checksum
FROM unnest($2::text[]) AS u (project)
CROSS JOIN LATERAL (SELECT project, checksum FROM packages k
                    WHERE k.repo_id = $1 AND k.project = u.project OFFSET 0) p;

-- name: packages-of-projects
-- Full records of the given projects' packages (the removed side of
-- events, a re-derivation), probed like packagesets-of-projects.
SELECT p.project, p.checksum, p.name, p.version, p.summary, p.category, p.maintainers, p.links, p.extra
FROM unnest($2::text[]) AS u (project)
CROSS JOIN LATERAL (SELECT * FROM packages k WHERE k.repo_id = $1 AND k.project = u.project OFFSET 0) p;

-- name: packages-delete
DELETE FROM packages p
USING unnest($2::text[], $3::bigint[]) AS d (project, checksum)
WHERE p.repo_id = $1 AND p.project = d.project AND p.checksum = d.checksum;

-- name: packages-insert
-- A few packages rows, as arrays in the statement (in the same round trip
-- as the update's other writes); many go by COPY of the same columns.
INSERT INTO packages (repo_id, project, checksum, name, version, version_key, summary, category,
                      maintainers, links, extra)
SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[],
                         $9::jsonb[], $10::jsonb[], $11::jsonb[]);

-- name: packagesets-insert
-- As packages-insert.
INSERT INTO packagesets (repo_id, project, checksum, num_packages)
SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::integer[]);

-- name: packagesets-delete
DELETE FROM packagesets WHERE repo_id = $1 AND project = ANY ($2::text[]);

-- name: packagesets-update
-- IS DISTINCT FROM keeps a re-stated but identical row (an invalidated
-- packageset whose content did not change) from being rewritten.
UPDATE packagesets p
SET checksum = u.checksum, num_packages = u.num_packages, invalid = false
FROM unnest($2::text[], $3::bigint[], $4::integer[]) AS u (project, checksum, num_packages)
WHERE p.repo_id = $1 AND p.project = u.project
  AND (p.checksum, p.num_packages, p.invalid) IS DISTINCT FROM (u.checksum, u.num_packages, false);

-- name: changelog-insert
-- As packages-insert. The caller holds the append lock.
INSERT INTO changelog (repo_id, seq, batch_id, project, kind, old_checksum, new_checksum, removed, added)
SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                         $8::jsonb[], $9::jsonb[]);

-- name: head-advance
-- Takes the changelog's append lock (the row lock, held until commit) and
-- allocates seq values: the new range is (returned - $1, returned].
UPDATE changelog_head SET seq = seq + $1 RETURNING seq;

-- name: head
SELECT seq FROM changelog_head;

-- name: head-lock
-- The append lock without allocating: a follower's head is its leader's,
-- set with head-set before commit.
SELECT seq FROM changelog_head FOR UPDATE;

-- name: head-set
UPDATE changelog_head SET seq = $1;

-- name: batch-next-id
SELECT nextval(pg_get_serial_sequence('batches', 'id'));

-- name: batch-insert
INSERT INTO batches (id, repo_id, kind, files, started_at, finished_at, hash_seed, hash_version, version_scheme,
                     first_seq, last_seq, counts, reason, actor, repo_state_checksum, global_state_checksum,
                     parse_seconds, diff_seconds, write_seconds)
OVERRIDING SYSTEM VALUE
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19);

-- name: global-state
SELECT coalesce(array_agg(state_checksum), '{}') FROM repos;

-- name: global-state-others
-- Every other repository's state checksum (read under the append lock).
SELECT coalesce(array_agg(state_checksum), '{}') FROM repos WHERE id <> $1;

-- name: notify
SELECT pg_notify('deltalog_changelog', $1::bigint::text);

-- name: page
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

-- name: repo-id
-- A repository's id by name (no row: no such repository).
SELECT id FROM repos WHERE name = $1;

-- name: page-repo
-- page limited to one repository: a range of the index on (repo_id, seq)
-- (migration 011), read in seq order and stopped at the limit, so a page
-- costs its own events however rare the repository's are. The repository
-- ($5, its name $4) is resolved before (repo-id) and planned as a value,
-- not a subquery: a subquery's id is a parameter the planner knows nothing
-- about, and with the average selectivity of a repository the primary key
-- filtered by repository could look as cheap as the range (one plan in
-- four, by the ANALYZE sample).
SELECT c.seq, c.batch_id, $4::text, c.project, c.kind, c.old_checksum, c.new_checksum,
       c.removed, c.added, b.repo_state_checksum, b.global_state_checksum
FROM changelog c
LEFT JOIN batches b ON b.id = c.batch_id AND b.last_seq = c.seq
WHERE c.repo_id = $5 AND c.seq > $1 AND c.seq <= $2
ORDER BY c.seq
LIMIT $3;

-- name: batches
-- Batch records by id.
SELECT b.id, r.name, b.kind, b.files, b.started_at, b.finished_at, b.hash_seed, b.hash_version,
       b.version_scheme, b.first_seq, b.last_seq, b.counts, coalesce(b.reason, ''), coalesce(b.actor, ''),
       b.repo_state_checksum, b.global_state_checksum, b.parse_seconds, b.diff_seconds, b.write_seconds
FROM batches b
JOIN repos r ON r.id = b.repo_id
WHERE b.id = ANY ($1::bigint[])
ORDER BY b.id;

-- name: repos-status
SELECT name, num_packages, num_packagesets, state_checksum, updated_at FROM repos ORDER BY name;

-- name: tx-delta-settings
-- Delta transactions run many short statements whose cost estimates, on a
-- large catalog, pass jit_above_cost: compiling them takes longer than
-- running them. Audits keep the server's setting; rebuilds from state turn
-- it off too (rebuild-settings).
-- (The statistics of the temporary tables they ANALYZE need the default
-- sample: with a tenth of it, a 60k-row anti-join was planned as a nested
-- loop and took two minutes instead of 0.1 s.)
SET LOCAL jit = off;

-- name: repo-last-input
-- The repository, its last batch (what it was read from, and the state it
-- left), whether anything of it is invalidated or waits for an invalidation
-- to be claimed, and the head and state checksums: one snapshot, so that an
-- update from the same bytes can be answered without reading them.
SELECT r.num_packages, r.num_packagesets, r.state_checksum, r.hash_seed, r.hash_version, r.version_scheme,
       r.version_order, b.id, b.files, b.counts, b.repo_state_checksum, b.hash_seed, b.hash_version, b.version_scheme,
       EXISTS (SELECT 1 FROM packagesets p WHERE p.repo_id = r.id AND p.invalid)
           OR EXISTS (SELECT 1 FROM invalidations i WHERE i.repo_id = r.id AND i.batch_id IS NULL),
       (SELECT seq FROM changelog_head),
       (SELECT coalesce(array_agg(state_checksum), '{}') FROM repos)
FROM repos r
CROSS JOIN LATERAL (SELECT * FROM batches b WHERE b.repo_id = r.id ORDER BY b.id DESC LIMIT 1) b
WHERE r.name = $1;
