-- Queries of the consistency audit (changelog/audit.go, projections/audit.go)
-- and of checksum invalidation (changelog/invalidate.go).

-- ---- invalidation ----

-- name: invalidate-repos
-- The repositories in scope: one by name, or all ($1 NULL), in name order
-- (the order their update locks are taken in).
SELECT id, name FROM repos WHERE $1::text IS NULL OR name = $1 ORDER BY name;

-- name: invalidate-mark
-- Forgets the stored checksums in scope; returns the packagesets in scope and
-- how many were not invalid already.
WITH scope AS (
    SELECT project, invalid FROM packagesets
    WHERE repo_id = $1 AND ($2::text IS NULL OR project = $2)
), marked AS (
    UPDATE packagesets s SET invalid = true
    WHERE s.repo_id = $1 AND ($2::text IS NULL OR s.project = $2) AND NOT s.invalid
    RETURNING 1
)
SELECT (SELECT count(*) FROM scope), (SELECT count(*) FROM marked);

-- name: invalidate-record
INSERT INTO invalidations (repo_id, scope, project, reason, actor, packagesets)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id;

-- name: invalidations-claim
-- The update that re-states a repository's invalid packagesets claims its
-- pending invalidations for its batch.
UPDATE invalidations SET batch_id = $2
WHERE repo_id = $1 AND batch_id IS NULL
RETURNING id, scope, coalesce(project, ''), reason, actor, created_at;

-- name: invalidations-pending
SELECT r.name, count(*), sum(i.packagesets)::bigint, min(i.created_at)
FROM invalidations i JOIN repos r ON r.id = i.repo_id
WHERE i.batch_id IS NULL
GROUP BY r.name ORDER BY r.name;

-- ---- current state ----

-- name: audit-repos
SELECT id, name, state_checksum, num_packages, num_packagesets, hash_seed, hash_version, version_scheme, bucket_states
FROM repos ORDER BY id;

-- name: audit-invalid
SELECT repo_id, project FROM packagesets WHERE invalid;

-- name: audit-packages
-- Every stored package, to be re-hashed from its content.
SELECT repo_id, project, checksum, name, version, version_key, summary, category, maintainers, links, extra
FROM packages;

-- name: audit-packagesets
-- Every packageset as stored, next to the package checksums it holds.
SELECT coalesce(s.repo_id, g.repo_id), coalesce(s.project, g.project),
       s.checksum, s.num_packages, s.bucket, g.sums
FROM packagesets s
FULL JOIN (SELECT repo_id, project, array_agg(checksum) AS sums FROM packages GROUP BY repo_id, project) g
       ON g.repo_id = s.repo_id AND g.project = s.project;

-- name: audit-head-batch
-- The last batch: the global state checksum it announced must still hold.
SELECT id, global_state_checksum FROM batches ORDER BY last_seq DESC LIMIT 1;

-- ---- the changelog ----

-- name: audit-changelog-extent
SELECT (SELECT seq FROM changelog_head), count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM changelog;

-- name: audit-changelog-below
-- Events at or below each bound: seqs are dense when the count is the bound.
SELECT b.name, b.bound, (SELECT count(*) FROM changelog c WHERE c.seq BETWEEN 1 AND b.bound)
FROM unnest($1::text[], $2::bigint[]) AS b (name, bound);

-- name: audit-changelog-holes
-- The first holes: runs of missing seqs in 1..$1.
SELECT lo, hi FROM (
    SELECT coalesce(lag(seq) OVER (ORDER BY seq), 0) + 1 AS lo, seq - 1 AS hi
    FROM (SELECT seq FROM changelog WHERE seq <= $1::bigint UNION ALL SELECT $1::bigint + 1) s
) h
WHERE lo <= hi
ORDER BY lo LIMIT $2;

-- name: audit-batches
-- Every batch next to the events that carry its id: its range must be dense
-- and hold exactly its events.
SELECT b.id, coalesce(c.batch_id, b.id), coalesce(r.name, ''), b.first_seq, b.last_seq,
       coalesce(c.n, 0), c.lo, c.hi
FROM batches b
LEFT JOIN repos r ON r.id = b.repo_id
FULL JOIN (SELECT batch_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM changelog GROUP BY batch_id) c
       ON c.batch_id = b.id;

-- name: audit-replay
-- Replays the changelog's checksums per packageset in seq order: each event
-- must start where the previous one ended (chain), and the last one must
-- end at the stored packageset checksum (replay). Returns the number of
-- events and of replayed packagesets, the broken links and the replay
-- differences (each with a few samples).
WITH ev AS MATERIALIZED (
    SELECT repo_id, project, seq, kind, old_checksum, new_checksum,
           lag(kind) OVER w AS prev_kind, lag(new_checksum) OVER w AS prev_new,
           lead(seq) OVER w IS NULL AS last
    FROM changelog
    WINDOW w AS (PARTITION BY repo_id, project ORDER BY seq)
), broken AS (
    SELECT * FROM ev
    WHERE CASE WHEN kind = 'added'
               THEN coalesce(prev_kind, 'removed') <> 'removed' OR old_checksum IS NOT NULL OR new_checksum IS NULL
               ELSE coalesce(prev_kind, 'removed') = 'removed' OR old_checksum IS DISTINCT FROM prev_new
                    OR (new_checksum IS NULL) <> (kind = 'removed')
          END
), replayed AS (
    SELECT repo_id, project, new_checksum AS checksum FROM ev WHERE last AND kind <> 'removed'
), cmp AS (
    SELECT coalesce(r.repo_id, s.repo_id) AS repo_id, coalesce(r.project, s.project) AS project,
           r.checksum AS expected, s.checksum AS actual, s.repo_id IS NULL AS missing, r.repo_id IS NULL AS extra
    FROM replayed r
    FULL JOIN packagesets s ON s.repo_id = r.repo_id AND s.project = r.project
    WHERE r.repo_id IS NULL OR s.repo_id IS NULL OR r.checksum <> s.checksum
)
SELECT (SELECT count(*) FROM ev),
       (SELECT count(*) FROM broken),
       coalesce((SELECT jsonb_agg(x) FROM (
           SELECT jsonb_build_object('seq', b.seq, 'repo', rp.name, 'project', b.project) AS key,
                  jsonb_build_object('kind', b.kind, 'old_checksum', lpad(to_hex(b.prev_new), 16, '0'),
                                     'follows', b.prev_kind) AS expected,
                  jsonb_build_object('kind', b.kind, 'old_checksum', lpad(to_hex(b.old_checksum), 16, '0'),
                                     'new_checksum', lpad(to_hex(b.new_checksum), 16, '0')) AS actual
           FROM broken b JOIN repos rp ON rp.id = b.repo_id ORDER BY b.seq LIMIT $1) x), '[]'),
       (SELECT count(*) FROM replayed) + (SELECT count(*) FROM cmp WHERE extra),
       (SELECT count(*) FROM cmp WHERE missing),
       (SELECT count(*) FROM cmp WHERE extra),
       (SELECT count(*) FROM cmp WHERE NOT missing AND NOT extra),
       coalesce((SELECT jsonb_agg(x) FROM (
           SELECT jsonb_build_object('repo', rp.name, 'project', c.project) AS key,
                  CASE WHEN c.extra THEN NULL ELSE jsonb_build_object('checksum', lpad(to_hex(c.expected), 16, '0')) END AS expected,
                  CASE WHEN c.missing THEN NULL ELSE jsonb_build_object('checksum', lpad(to_hex(c.actual), 16, '0')) END AS actual
           FROM cmp c JOIN repos rp ON rp.id = c.repo_id ORDER BY rp.name, c.project LIMIT $1) x), '[]');

-- ---- repairs of the current state ----

-- name: repair-lock-repos
-- Every repository's update lock, in name order: no update can write while
-- a repair runs.
SELECT pg_advisory_xact_lock(1684368500, hashtext(name)) FROM (SELECT name FROM repos ORDER BY name) r;

-- name: repair-lock-head
SELECT seq FROM changelog_head FOR UPDATE;

-- name: repair-packagesets
-- Sets packagesets to the rows recomputed from their packages: delete where
-- there are no packages, insert where the row is missing, update where the
-- checksum or count differs. Returns the rows deleted, inserted and updated.
WITH fix AS (
    SELECT * FROM unnest($1::integer[], $2::text[], $3::bigint[], $4::integer[]) AS f (repo_id, project, checksum, num_packages)
), del AS (
    DELETE FROM packagesets s USING fix f
    WHERE f.checksum IS NULL AND s.repo_id = f.repo_id AND s.project = f.project
    RETURNING 1
), upd AS (
    UPDATE packagesets s SET checksum = f.checksum, num_packages = f.num_packages
    FROM fix f
    WHERE f.checksum IS NOT NULL AND s.repo_id = f.repo_id AND s.project = f.project
      AND (s.checksum, s.num_packages) IS DISTINCT FROM (f.checksum, f.num_packages)
    RETURNING 1
), ins AS (
    INSERT INTO packagesets (repo_id, project, checksum, num_packages)
    SELECT f.repo_id, f.project, f.checksum, f.num_packages FROM fix f
    WHERE f.checksum IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM packagesets s WHERE s.repo_id = f.repo_id AND s.project = f.project)
    RETURNING 1
)
SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM ins), (SELECT count(*) FROM upd);

-- name: repair-invalidate
-- Packagesets whose stored packages do not match their checksums (or carry
-- stale derived columns) are left to the next update to re-state.
WITH m AS (
    UPDATE packagesets s SET invalid = true
    FROM unnest($1::integer[], $2::text[]) AS f (repo_id, project)
    WHERE s.repo_id = f.repo_id AND s.project = f.project AND NOT s.invalid
    RETURNING s.repo_id
)
SELECT repo_id, count(*) FROM m GROUP BY repo_id;

-- name: repair-repos
UPDATE repos r SET state_checksum = f.state_checksum, num_packages = f.num_packages, num_packagesets = f.num_packagesets
FROM unnest($1::integer[], $2::bigint[], $3::integer[], $4::integer[]) AS f (id, state_checksum, num_packages, num_packagesets)
WHERE r.id = f.id
  AND (r.state_checksum, r.num_packages, r.num_packagesets) IS DISTINCT FROM (f.state_checksum, f.num_packages, f.num_packagesets);

-- name: repair-buckets
UPDATE repos SET bucket_states = $2 WHERE id = $1 AND bucket_states IS DISTINCT FROM $2;

-- name: repair-head-batch
UPDATE batches SET global_state_checksum = $2 WHERE id = $1 AND global_state_checksum IS DISTINCT FROM $2;

-- ---- derived tables (projections/audit.go) ----

-- name: audit-checkpoints
SELECT name, seq FROM projection_checkpoints;

-- name: audit-identities
-- Maintainers and links are identity rows, never deleted: there must be one
-- for every email and URL the changelog added up to $1 (the catalog's
-- checkpoint), and no other. An orphaned row nobody ever used is found here
-- only: its derived values (zero, orphaned) look like any orphan's. A
-- rebuild from the changelog creates the missing ones this finds (with
-- repair-identities): the one definition of the identity rows.
WITH seen AS (
    SELECT DISTINCT x.kind, x.value
    FROM changelog c
    CROSS JOIN LATERAL jsonb_array_elements(c.added) p
    CROSS JOIN LATERAL (
        SELECT 'maintainer' AS kind, m ->> 'email' AS value FROM jsonb_array_elements(p -> 'maintainers') m
        UNION ALL
        SELECT 'link', l ->> 'url' FROM jsonb_array_elements(p -> 'links') l
    ) x
    WHERE c.seq <= $1
), live AS (
    SELECT 'maintainer' AS kind, email AS value, id FROM public.maintainers
    UNION ALL
    SELECT 'link', url, id FROM public.links
), cmp AS (
    SELECT coalesce(s.kind, l.kind) AS kind, coalesce(s.value, l.value) AS value, l.id,
           l.value IS NULL AS missing, s.value IS NULL AS extra
    FROM seen s FULL JOIN live l ON l.kind = s.kind AND l.value = s.value
)
SELECT count(*), count(*) FILTER (WHERE missing), count(*) FILTER (WHERE extra),
       coalesce((SELECT jsonb_agg(x) FROM (
           SELECT jsonb_build_object(kind, value) AS key,
                  CASE WHEN extra THEN NULL ELSE jsonb_build_object(kind, value) END AS expected,
                  CASE WHEN missing THEN NULL ELSE jsonb_build_object('id', id, kind, value) END AS actual
           FROM cmp WHERE missing OR extra ORDER BY kind, value LIMIT $2) x), '[]'),
       coalesce(array_agg(value) FILTER (WHERE missing AND kind = 'maintainer'), '{}'),
       coalesce(array_agg(value) FILTER (WHERE missing AND kind = 'link'), '{}'),
       coalesce(array_agg(id) FILTER (WHERE extra AND kind = 'maintainer'), '{}'),
       coalesce(array_agg(id) FILTER (WHERE extra AND kind = 'link'), '{}')
FROM cmp;

-- name: repair-identities
-- Re-creates missing identity rows (born orphaned, as the catalog creates
-- them) and deletes identity rows the changelog never named, unless a
-- current package names them. Returns the rows deleted and inserted.
WITH ins_m AS (
    INSERT INTO public.maintainers (email, orphaned_at)
    SELECT unnest($1::text[]), now() ON CONFLICT (email) DO NOTHING RETURNING 1
), ins_l AS (
    INSERT INTO public.links (url, orphaned_at)
    SELECT unnest($2::text[]), now() ON CONFLICT (url) DO NOTHING RETURNING 1
), del_m AS (
    DELETE FROM public.maintainers m WHERE m.id = ANY ($3::integer[])
      AND NOT EXISTS (SELECT 1 FROM packages p WHERE p.maintainers @> jsonb_build_array(jsonb_build_object('email', m.email)))
    RETURNING 1
), del_l AS (
    DELETE FROM public.links l WHERE l.id = ANY ($4::integer[])
      AND NOT EXISTS (SELECT 1 FROM packages p WHERE p.links @> jsonb_build_array(jsonb_build_object('url', l.url)))
    RETURNING 1
)
SELECT (SELECT count(*) FROM del_m) + (SELECT count(*) FROM del_l),
       (SELECT count(*) FROM ins_m) + (SELECT count(*) FROM ins_l);

-- name: audit-run-insert
INSERT INTO audit_runs (started_at, finished_at, head_seq, outcome, source, actor, report)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id;

-- name: audit-run-last
SELECT id, started_at, finished_at, head_seq, outcome, source, actor, report FROM audit_runs ORDER BY id DESC LIMIT 1;

-- name: project-history-duplicates
-- Entries applied twice: the same event and kind more than once.
DELETE FROM public.project_history h
USING (SELECT id, row_number() OVER (PARTITION BY seq, kind ORDER BY id) AS n FROM public.project_history) d
WHERE h.id = d.id AND d.n > 1;

-- name: audit-runs-prune
-- Keeps the last $1 consistent or incomplete runs; runs that found something
-- are kept.
DELETE FROM audit_runs
WHERE outcome IN ('consistent', 'incomplete')
  AND id < (SELECT coalesce(min(id), 0) FROM (SELECT id FROM audit_runs ORDER BY id DESC LIMIT $1) k);
