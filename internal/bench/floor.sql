-- The ideal-delta floor (floor.go): snapshots of every derived table (as
-- recomputed) and of the current state before and after a delta, in a
-- schema of their own, and the exact differences between them.

-- name: floor-create
CREATE SCHEMA IF NOT EXISTS bench_floor;

-- name: floor-drop
DROP SCHEMA IF EXISTS bench_floor CASCADE;

-- name: floor-recomputed
-- The derived tables a recomputation left in pg_temp, of those named.
SELECT n FROM unnest($1::text[]) WITH ORDINALITY AS t (n, i)
WHERE to_regclass('pg_temp.' || n) IS NOT NULL
ORDER BY i;

-- name: floor-keys
-- The primary key columns of a table, in key order.
SELECT a.attname
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = $1::regclass AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum);

-- name: floor-columns
SELECT attname FROM pg_attribute
WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
ORDER BY attnum;

-- name: floor-generated
-- The generated columns of a table: computed by PostgreSQL, never written.
SELECT attname FROM pg_attribute
WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated <> ''
ORDER BY attnum;
