-- What the soak test (internal/soak) samples while faults are injected.

-- name: soak-projection-sessions
-- The sessions around each projection at this instant, named by their
-- application_name: those holding the projection's worker lock (role
-- 'lock', the lock projection-try-lock takes) and those writing its tables
-- (role 'write': holding a lock on one of them that only a write or a swap
-- takes). $1 and $2 pair each projection with one of its tables.
SELECT t.projection, 'write' AS role, a.application_name
FROM unnest($1::text[], $2::text[]) AS t(projection, relname)
JOIN pg_class c ON c.relname = t.relname
JOIN pg_locks l ON l.locktype = 'relation' AND l.relation = c.oid AND l.granted
                AND l.mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
JOIN pg_stat_activity a ON a.pid = l.pid
UNION
SELECT p.projection, 'lock' AS role, a.application_name
FROM (SELECT DISTINCT unnest($1::text[]) AS projection) p
JOIN pg_locks l ON l.locktype = 'advisory' AND l.classid = 1684368501 AND l.objid = hashtext(p.projection)::oid
                AND l.objsubid = 2 AND l.granted
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
JOIN pg_stat_activity a ON a.pid = l.pid;
