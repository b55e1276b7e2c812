-- Version orders: each repository's own order within it, libversion's
-- across repositories (internal/input/version).
--
-- version_order records the definition of the orders (version.OrderVersion)
-- that a repository's version keys were computed with. Every repository
-- stored before this migration has keys of the first one: its next update
-- sees the difference and re-derives it (invalidated events, keys
-- recomputed, no history entries), as a change of hash seed does.
ALTER TABLE repos ADD COLUMN version_order integer NOT NULL DEFAULT 1;

-- The scheme once called npm is semver (npm stays accepted as its alias).
UPDATE repos SET version_scheme = 'semver' WHERE version_scheme = 'npm';

-- A version update within a repository is an upgrade or a downgrade by the
-- repository's own order (dpkg's for Debian): NULL for other kinds.
ALTER TABLE project_history ADD COLUMN direction text
    CHECK (direction IN ('upgrade', 'downgrade'));

---- create above / drop below ----

ALTER TABLE project_history DROP COLUMN direction;
UPDATE repos SET version_scheme = 'npm' WHERE version_scheme = 'semver';
ALTER TABLE repos DROP COLUMN version_order;
