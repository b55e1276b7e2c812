-- What the soak test (internal/soak) samples while faults are injected.

-- name: soak-projection-sessions
-- The sessions around each projection at one instant (the lock table is
-- read once), named by their application_name: those holding the
-- projection's worker lock (role 'lock', the lock projection-try-lock
-- takes) and those writing its tables (role 'write': holding a lock on one
-- of them that only a write or a swap takes). $1 and $2 pair each
-- projection with one of its tables.
WITH l AS MATERIALIZED (
    SELECT * FROM pg_locks
    WHERE granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
)
SELECT t.projection, 'write' AS role, a.application_name
FROM unnest($1::text[], $2::text[]) AS t(projection, relname)
JOIN pg_class c ON c.relname = t.relname
JOIN l ON l.locktype = 'relation' AND l.relation = c.oid
      AND l.mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
JOIN pg_stat_activity a ON a.pid = l.pid
UNION
SELECT p.projection, 'lock' AS role, a.application_name
FROM (SELECT DISTINCT unnest($1::text[]) AS projection) p
JOIN l ON l.locktype = 'advisory' AND l.classid = 1684368501 AND l.objid = hashtext(p.projection)::oid
      AND l.objsubid = 2
JOIN pg_stat_activity a ON a.pid = l.pid;
