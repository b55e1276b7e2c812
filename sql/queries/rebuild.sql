-- Queries of projection rebuilds (projections/rebuild.go). A rebuild builds
-- a projection's tables into a shadow schema of their own and swaps them
-- into public. The shadow tables are named /* TEMPLATE: schema */ (see
-- sql.Render), the live ones public.

-- name: rebuild-try-lock
-- One rebuild per projection at a time (a session lock, held by the rebuild's
-- own connection).
SELECT pg_try_advisory_lock(1684368502, hashtext($1));

-- name: rebuild-unlock
SELECT pg_advisory_unlock(1684368502, hashtext($1));

-- name: rebuild-settings
-- The statements of a rebuild from state (and its identity rows) run
-- without JIT compilation: their cost estimates (jsonb_array_elements is
-- planned as 100 rows a package) pass jit_above_cost by far, and on a
-- catalog of 100k packages compiling them takes longer than running them —
-- on the Debian first load, rebuild-identities spent 3.0 s of its 5.7 s
-- compiling, the problems' definition 2.8 s of 6.2 s.
SET LOCAL jit = off;

-- name: rebuild-identities
-- Makes sure every email and URL of the current packages has its identity row
-- in the live tables (born orphaned, exactly as the catalog's own id
-- resolution creates them), so that a rebuild never invents an id the live
-- worker would give another value: ids stay stable across the swap. So has
-- every email and URL the changelog added and no current package carries
-- any more, as a catalog that applied the events has one:
-- audit-identities' definition is every email and URL ever added. Each of
-- those was carried by a package a later event removed or replaced, so it
-- is in that event's removed packages (the view changelog_removed_identities,
-- migration 013): reading those (few, and none on a first load) instead of
-- every added package finds the same set.
-- Only the missing ones are offered to the inserts: an insert computes a
-- row's defaults and identity before it finds the conflict. One statement,
-- so one snapshot: the head it returns is the one these rows are complete
-- for (see rebuild-identities-missing).
WITH past AS (
    SELECT kind, value FROM changelog_removed_identities
), emails AS (
    SELECT e ->> 'email' AS email FROM packages p CROSS JOIN LATERAL jsonb_array_elements(p.maintainers) e
    UNION ALL SELECT value FROM past WHERE kind = 'maintainer'
), urls AS (
    SELECT e ->> 'url' AS url FROM packages p CROSS JOIN LATERAL jsonb_array_elements(p.links) e
    UNION ALL SELECT value FROM past WHERE kind = 'link'
), m AS (
    -- Made distinct after the anti-join: only the missing ones, not every
    -- occurrence, are sorted.
    INSERT INTO public.maintainers (email, orphaned_at)
    SELECT DISTINCT x.email, now() FROM emails x
    WHERE NOT EXISTS (SELECT 1 FROM public.maintainers m WHERE m.email = x.email)
    ON CONFLICT (email) DO NOTHING RETURNING 1
), l AS (
    INSERT INTO public.links (url, orphaned_at)
    SELECT DISTINCT x.url, now() FROM urls x
    WHERE NOT EXISTS (SELECT 1 FROM public.links l WHERE l.url = x.url)
    ON CONFLICT (url) DO NOTHING RETURNING 1
)
SELECT (SELECT count(*) FROM m) + (SELECT count(*) FROM l), (SELECT seq FROM changelog_head);

-- name: rebuild-identities-missing
-- Emails and URLs of the current packages, and of the changelog's removed
-- packages, still without an identity row (an update committed after
-- rebuild-identities ran). Only run when the head moved since: the current
-- state changes only with the changelog, in the same transaction.
WITH past AS (
    SELECT kind, value FROM changelog_removed_identities
)
SELECT (SELECT count(*) FROM (
            SELECT e ->> 'email' AS email FROM packages p CROSS JOIN LATERAL jsonb_array_elements(p.maintainers) e
            UNION SELECT value FROM past WHERE kind = 'maintainer') x
        WHERE NOT EXISTS (SELECT 1 FROM public.maintainers m WHERE m.email = x.email))
     + (SELECT count(*) FROM (
            SELECT e ->> 'url' AS url FROM packages p CROSS JOIN LATERAL jsonb_array_elements(p.links) e
            UNION SELECT value FROM past WHERE kind = 'link') x
        WHERE NOT EXISTS (SELECT 1 FROM public.links l WHERE l.url = x.url));

-- name: rebuild-seed-identities
-- Copies the live identity rows the shadow does not have yet,
-- with their ids (and a link's URL columns, computed once: migration 020),
-- born orphaned with zero counts: the changelog replay (or catch-up) brings
-- them to life, and finds them instead of creating others.
INSERT INTO /* TEMPLATE: schema */maintainers (id, email, name, first_seen, orphaned_at) OVERRIDING SYSTEM VALUE
SELECT l.id, l.email, l.name, l.first_seen, coalesce(l.orphaned_at, now()) FROM public.maintainers l
WHERE NOT EXISTS (SELECT 1 FROM /* TEMPLATE: schema */maintainers x WHERE x.id = l.id);
INSERT INTO /* TEMPLATE: schema */links (id, url, normalized_url, https_host, first_seen, orphaned_at) OVERRIDING SYSTEM VALUE
SELECT l.id, l.url, l.normalized_url, l.https_host, l.first_seen, coalesce(l.orphaned_at, now()) FROM public.links l
WHERE NOT EXISTS (SELECT 1 FROM /* TEMPLATE: schema */links x WHERE x.id = l.id);

-- name: rebuild-identity-conflicts
-- Identity rows the shadow and the live tables disagree on: the
-- same email or URL under another id, or a live id the shadow lacks. Must
-- be none, or a running worker's id cache would go wrong after the swap.
SELECT (SELECT count(*) FROM /* TEMPLATE: schema */maintainers x JOIN public.maintainers l ON l.email = x.email WHERE l.id <> x.id)
     + (SELECT count(*) FROM /* TEMPLATE: schema */links x JOIN public.links l ON l.url = x.url WHERE l.id <> x.id)
     + (SELECT count(*) FROM public.maintainers l WHERE NOT EXISTS (SELECT 1 FROM /* TEMPLATE: schema */maintainers x WHERE x.id = l.id))
     + (SELECT count(*) FROM public.links l WHERE NOT EXISTS (SELECT 1 FROM /* TEMPLATE: schema */links x WHERE x.id = l.id));

-- name: rebuild-statistics-row
-- The statistics row the migration creates and the delta path
-- only updates.
INSERT INTO /* TEMPLATE: schema */statistics DEFAULT VALUES;

-- name: rebuild-copy-history
-- project_history is not derivable from the current state: a
-- rebuild from state keeps the live entries, with their ids.
INSERT INTO /* TEMPLATE: schema */project_history OVERRIDING SYSTEM VALUE SELECT * FROM public.project_history;

-- name: rebuild-history-unapply
-- Moves history_versions back by count differences (negative:
-- versions added after the seq being rebuilt to), deleting rows left empty.
WITH d AS (
    SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::bytea[], $5::integer[])
        AS d (project, repo_id, version, version_key, delta)
), up AS (
    INSERT INTO /* TEMPLATE: schema */history_versions AS h (project, repo_id, version, version_key, count)
    SELECT project, repo_id, version, version_key, delta FROM d
    ON CONFLICT (project, repo_id, version) DO UPDATE SET count = h.count + excluded.count
    RETURNING 1
)
SELECT count(*) FROM up;

-- name: rebuild-history-prune
DELETE FROM /* TEMPLATE: schema */history_versions WHERE count <= 0;

-- name: rebuild-dependent-views
-- Views that read the tables being swapped: they follow a table by its oid,
-- so they are re-created on the new tables before the old ones are dropped.
SELECT DISTINCT format('%I.%I', n.nspname, v.relname), pg_get_viewdef(v.oid)
FROM pg_depend d
JOIN pg_rewrite r ON r.oid = d.objid
JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'
JOIN pg_namespace n ON n.oid = v.relnamespace
WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.refobjid = ANY ($1::regclass[]) AND v.oid <> ALL ($1::regclass[]);

-- name: rebuild-indexes
-- A table's indexes with their definitions (to give the shadow's indexes the
-- live tables' names).
SELECT i.relname, pg_get_indexdef(x.indexrelid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = $1::regclass;

-- name: rebuild-columns
-- A table's columns: which carry an identity, and whether it keeps first_seen.
SELECT attname, attidentity <> '' FROM pg_attribute
WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped;

-- name: rebuild-checkpoint-set
UPDATE projection_checkpoints
SET seq = $2, updated_at = now(), failed_at = NULL, error = NULL
WHERE name = $1;

-- name: rebuild-reloptions
-- A table's storage parameters (fillfactor…), which LIKE does not copy.
SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = $1::regclass;

-- name: rebuild-triggers
-- The named triggers of a table (LIKE copies none), as CREATE TRIGGER
-- statements.
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = ANY ($2::text[]) ORDER BY tgname;

-- name: rebuild-index-definitions
-- A table's indexes, with the constraint each backs (primary key, unique,
-- exclusion), if any, and its definition: a rebuild from state creates them
-- on its filled tables.
SELECT i.relname, pg_get_indexdef(x.indexrelid), c.conname::text, pg_get_constraintdef(c.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x')
WHERE x.indrelid = $1::regclass
ORDER BY c.oid IS NULL, i.relname;
