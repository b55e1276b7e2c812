-- The naive peer of deltalog's projections: the same derived data as the
-- catalog (per project, per maintainer, per link, per repository, global
-- statistics) and the history projection's version counts, written as
-- plain SQL materialized views over the current packages — what a user
-- without deltalog would run, REFRESH MATERIALIZED VIEW after each load.
-- Each view has the unique index a catalog serving lookups needs. The one
-- concession to the peer: the newest version of each project is a view of
-- its own that the others read, rather than recomputed in each of them.
-- Derived tables of deltalog keep orphaned rows (zeroed, with orphaned_at);
-- the views hold live rows only.

-- name: views-create
CREATE SCHEMA bench_mv;

CREATE MATERIALIZED VIEW bench_mv.newest AS
SELECT DISTINCT ON (project) project, version_key AS newest_key, version AS newest_version
FROM packages
ORDER BY project, version_key DESC, version DESC
WITH NO DATA;
CREATE UNIQUE INDEX ON bench_mv.newest (project);

CREATE MATERIALIZED VIEW bench_mv.project_repositories AS
SELECT p.project, p.repo_id,
       count(*)::integer AS num_packages,
       count(*) FILTER (WHERE p.version_key = n.newest_key)::integer AS num_newest,
       count(*) FILTER (WHERE p.version_key < n.newest_key)::integer AS num_outdated,
       (array_agg(p.version ORDER BY p.version_key DESC, p.version DESC))[1] AS best_version
FROM packages p
JOIN bench_mv.newest n ON n.project = p.project
GROUP BY p.project, p.repo_id
WITH NO DATA;
CREATE UNIQUE INDEX ON bench_mv.project_repositories (project, repo_id);
CREATE INDEX ON bench_mv.project_repositories (repo_id);

CREATE MATERIALIZED VIEW bench_mv.projects AS
SELECT p.project AS name,
       count(DISTINCT p.repo_id)::integer AS num_repos,
       count(*)::integer AS num_packages,
       min(n.newest_version) AS newest_version,
       (count(DISTINCT p.repo_id) - count(DISTINCT p.repo_id) FILTER (WHERE p.version_key = n.newest_key))::integer AS num_updates
FROM packages p
JOIN bench_mv.newest n ON n.project = p.project
GROUP BY p.project
WITH NO DATA;
CREATE UNIQUE INDEX ON bench_mv.projects (name);

CREATE MATERIALIZED VIEW bench_mv.project_maintainers AS
SELECT p.project, m ->> 'email' AS email, p.repo_id,
       min(coalesce(m ->> 'name', '')) AS name,
       count(*)::integer AS num_packages,
       count(*) FILTER (WHERE p.version_key = n.newest_key)::integer AS num_newest,
       count(*) FILTER (WHERE p.version_key < n.newest_key)::integer AS num_outdated
FROM packages p
JOIN bench_mv.newest n ON n.project = p.project
CROSS JOIN LATERAL jsonb_array_elements(p.maintainers) m
GROUP BY 1, 2, 3
WITH NO DATA;
CREATE UNIQUE INDEX ON bench_mv.project_maintainers (project, email, repo_id);
CREATE INDEX ON bench_mv.project_maintainers (email, repo_id);

CREATE MATERIALIZED VIEW bench_mv.maintainer_repositories AS
SELECT m ->> 'email' AS email, p.repo_id,
       count(*)::integer AS num_packages,
       count(DISTINCT p.project)::integer AS num_projects,
       count(*) FILTER (WHERE p.version_key = n.newest_key)::integer AS num_newest,
       count(*) FILTER (WHERE p.version_key < n.newest_key)::integer AS num_outdated
FROM packages p
JOIN bench_mv.newest n ON n.project = p.project
CROSS JOIN LATERAL jsonb_array_elements(p.maintainers) m
GROUP BY 1, 2
WITH NO DATA;
CREATE UNIQUE INDEX ON bench_mv.maintainer_repositories (email, repo_id);
CREATE INDEX ON bench_mv.maintainer_repositories (repo_id);

CREATE MATERIALIZED VIEW bench_mv.maintainers AS
WITH pm AS (
    SELECT m ->> 'email' AS email, coalesce(m ->> 'name', '') AS name, p.project, p.repo_id,
           p.version_key = n.newest_key AS newest, p.version_key < n.newest_key AS outdated
    FROM packages p
    JOIN bench_mv.newest n ON n.project = p.project
    CROSS JOIN LATERAL jsonb_array_elements(p.maintainers) m
), per_repo AS (
    SELECT pm.email, jsonb_object_agg(r.name, pm.n) AS repo_counts
    FROM (SELECT email, repo_id, count(*) AS n FROM pm GROUP BY 1, 2) pm
    JOIN repos r ON r.id = pm.repo_id
    GROUP BY pm.email
)
SELECT t.*, per_repo.repo_counts
FROM (
    SELECT email, min(name) AS name,
           count(*)::integer AS num_packages,
           count(DISTINCT project)::integer AS num_projects,
           count(DISTINCT repo_id)::integer AS num_repos,
           count(*) FILTER (WHERE newest)::integer AS num_newest,
           count(*) FILTER (WHERE outdated)::integer AS num_outdated
    FROM pm GROUP BY email
) t
JOIN per_repo USING (email)
WITH NO DATA;
CREATE UNIQUE INDEX ON bench_mv.maintainers (email);

CREATE MATERIALIZED VIEW bench_mv.project_links AS
SELECT p.project, p.repo_id, l.url, count(*)::integer AS refcount
FROM packages p
CROSS JOIN LATERAL (SELECT DISTINCT e ->> 'url' AS url FROM jsonb_array_elements(p.links) e) l
GROUP BY 1, 2, 3
WITH NO DATA;
CREATE UNIQUE INDEX ON bench_mv.project_links (project, repo_id, url);
CREATE INDEX ON bench_mv.project_links (url);

CREATE MATERIALIZED VIEW bench_mv.links AS
SELECT l.url, count(*)::integer AS refcount
FROM packages p
CROSS JOIN LATERAL (SELECT DISTINCT e ->> 'url' AS url FROM jsonb_array_elements(p.links) e) l
GROUP BY 1
WITH NO DATA;
CREATE UNIQUE INDEX ON bench_mv.links (url);

CREATE MATERIALIZED VIEW bench_mv.repositories AS
SELECT r.id, r.name,
       count(*)::integer AS num_packages,
       count(DISTINCT p.project)::integer AS num_projects,
       coalesce((SELECT count(DISTINCT m ->> 'email') FROM packages x CROSS JOIN LATERAL jsonb_array_elements(x.maintainers) m
                 WHERE x.repo_id = r.id), 0)::integer AS num_maintainers,
       count(*) FILTER (WHERE p.version_key = n.newest_key)::integer AS num_newest,
       count(*) FILTER (WHERE p.version_key < n.newest_key)::integer AS num_outdated
FROM repos r
JOIN packages p ON p.repo_id = r.id
JOIN bench_mv.newest n ON n.project = p.project
GROUP BY r.id, r.name
WITH NO DATA;
CREATE UNIQUE INDEX ON bench_mv.repositories (id);

CREATE MATERIALIZED VIEW bench_mv.statistics AS
SELECT (SELECT count(*) FROM packages)::bigint AS num_packages,
       (SELECT count(DISTINCT project) FROM packages)::bigint AS num_projects,
       (SELECT count(DISTINCT m ->> 'email') FROM packages p CROSS JOIN LATERAL jsonb_array_elements(p.maintainers) m)::bigint AS num_maintainers,
       (SELECT count(DISTINCT repo_id) FROM packages)::integer AS num_repos,
       (SELECT count(DISTINCT e ->> 'url') FROM packages p CROSS JOIN LATERAL jsonb_array_elements(p.links) e)::bigint AS num_links
WITH NO DATA;

CREATE MATERIALIZED VIEW bench_mv.history_versions AS
SELECT project, repo_id, version, version_key, count(*)::integer AS count
FROM packages
GROUP BY project, repo_id, version, version_key
WITH NO DATA;
CREATE UNIQUE INDEX ON bench_mv.history_versions (project, repo_id, version);

-- name: views-list
-- In dependency order: REFRESH MATERIALIZED VIEW each.
bench_mv.newest
bench_mv.project_repositories
bench_mv.projects
bench_mv.project_maintainers
bench_mv.maintainer_repositories
bench_mv.maintainers
bench_mv.project_links
bench_mv.links
bench_mv.repositories
bench_mv.statistics
bench_mv.history_versions

-- name: views-drop
DROP SCHEMA IF EXISTS bench_mv CASCADE;

-- name: copy-floor-create
-- The physical floor: the package rows, COPYed into a table without any
-- index or key.
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.copy_floor;
CREATE TABLE bench.copy_floor (LIKE public.packages INCLUDING DEFAULTS);

-- name: copy-floor-truncate
TRUNCATE bench.copy_floor;

-- name: copy-floor-drop
DROP SCHEMA IF EXISTS bench CASCADE;

-- name: wal-position
-- The server's WAL insert position: the bytes of WAL an update writes are a
-- measure of its writes that a busy machine does not blur (catalog rows of
-- temporary tables included), next to its times.
SELECT pg_current_wal_insert_lsn()::text;

-- name: wal-since
SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint;

-- name: api-sample
-- The API load case's projects: spread over the catalog by name hash.
SELECT name FROM projects WHERE NOT orphaned ORDER BY md5(name) LIMIT $1;

-- name: api-present
-- Those of $1 that are projects now.
SELECT name FROM projects WHERE name = ANY ($1::text[]) AND NOT orphaned ORDER BY md5(name);
