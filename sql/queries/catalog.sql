-- The catalog projection. Each expect-* query is THE definition of a derived
-- table: the rows it should hold for the keys in scope (temp tables
-- t_projects, t_maintainers, t_links). The delta path runs the per-project
-- ones (level 1, projects) with the projects a changelog page touched and
-- moves the levels above by counter differences (catalog-*-delta); the
-- audit and rebuilds run every definition with every key, and so check the
-- counters.
-- Tables are named through template markers (see sql.Schemas): the
-- projection's own tables as /* TEMPLATE: schema */, the lower levels a
-- definition reads as /* TEMPLATE: levels */ (pg_temp in an audit, which
-- checks every level against the expected rows of the levels below it), the
-- packages and id lookups as /* TEMPLATE: input */ (the delta path's
-- temporary copies, or the live ones).

-- name: catalog-scope
CREATE TEMP TABLE t_projects (project text PRIMARY KEY) ON COMMIT DROP;
CREATE TEMP TABLE t_maintainers (id integer PRIMARY KEY) ON COMMIT DROP;
CREATE TEMP TABLE t_links (id integer PRIMARY KEY) ON COMMIT DROP;
CREATE TEMP TABLE t_newest ON COMMIT DROP AS
SELECT ''::text AS project, ''::bytea AS newest_key, ''::text AS newest_version LIMIT 0;

-- name: catalog-scope-projects
INSERT INTO t_projects SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING;

-- name: catalog-scope-packages
-- On the delta path, the packages of the touched projects (in every
-- repository) are read once into a temporary table (the definitions' input
-- there: pg_temp.packages), so the definitions below, which read
-- packages several times, read this small copy instead of making random
-- lookups in the whole table each time. The full path does not shadow.
-- Only the columns the definitions read are copied (a definition reading
-- another fails loudly on the delta path).
CREATE TEMP TABLE packages ON COMMIT DROP AS
SELECT p.project, p.repo_id, p.version, p.version_key, p.maintainers, p.links
FROM public.packages p JOIN t_projects t ON t.project = p.project;
CREATE INDEX ON pg_temp.packages (project);
ANALYZE pg_temp.packages (project, repo_id, version, version_key); -- not the jsonb: slow, and unused
-- Likewise the ids of the emails and URLs these packages carry (see
-- migration 005: the lists are analyzed first, so that the ids are found by
-- index, not by hashing the whole tables).
CREATE TEMP TABLE t_emails ON COMMIT DROP AS
SELECT DISTINCT e ->> 'email' AS email FROM pg_temp.packages p, jsonb_array_elements(p.maintainers) e;
CREATE TEMP TABLE t_urls ON COMMIT DROP AS
SELECT DISTINCT e ->> 'url' AS url FROM pg_temp.packages p, jsonb_array_elements(p.links) e;
ANALYZE t_emails, t_urls;
CREATE TEMP TABLE maintainer_ids ON COMMIT DROP AS
SELECT m.email, m.id FROM /* TEMPLATE: schema */maintainers m JOIN t_emails e ON e.email = m.email;
CREATE TEMP TABLE link_ids ON COMMIT DROP AS
SELECT l.url, l.id FROM /* TEMPLATE: schema */links l JOIN t_urls u ON u.url = l.url;
CREATE INDEX ON pg_temp.maintainer_ids (email);
CREATE INDEX ON pg_temp.link_ids (url);
ANALYZE pg_temp.maintainer_ids, pg_temp.link_ids;

-- name: catalog-scope-all
-- Every key there is: the full path.
INSERT INTO t_projects
SELECT project FROM /* TEMPLATE: input */packages UNION SELECT name FROM /* TEMPLATE: schema */projects ON CONFLICT DO NOTHING;
INSERT INTO t_maintainers SELECT id FROM /* TEMPLATE: schema */maintainers ON CONFLICT DO NOTHING;
INSERT INTO t_links SELECT id FROM /* TEMPLATE: schema */links ON CONFLICT DO NOTHING;

-- name: catalog-newest
-- The newest version key of every project in scope, across repositories,
-- and its spelling (the greatest of the versions with that key: "1.0" and
-- "1.00" compare equal). DISTINCT ON sorts in C; an aggregate over bytea
-- would call a function per row.
INSERT INTO t_newest
SELECT DISTINCT ON (p.project) p.project, p.version_key, p.version
FROM /* TEMPLATE: input */packages p JOIN t_projects t ON t.project = p.project
ORDER BY p.project, p.version_key DESC, p.version DESC;
ANALYZE t_projects;
ANALYZE t_newest;

-- name: catalog-maintainer-ids
-- Resolves emails to maintainer ids, creating missing maintainers (born
-- orphaned: the sync that binds them brings them to life, and counts them).
WITH ins AS (
    INSERT INTO /* TEMPLATE: schema */maintainers (email, orphaned_at)
    SELECT DISTINCT unnest($1::text[]), now()
    ON CONFLICT (email) DO NOTHING
    RETURNING id, email
)
SELECT id, email FROM ins
UNION ALL
SELECT id, email FROM /* TEMPLATE: schema */maintainers WHERE email = ANY ($1::text[]);

-- name: catalog-link-ids
WITH ins AS (
    INSERT INTO /* TEMPLATE: schema */links (url, orphaned_at)
    SELECT DISTINCT unnest($1::text[]), now()
    ON CONFLICT (url) DO NOTHING
    RETURNING id, url
)
SELECT id, url FROM ins
UNION ALL
SELECT id, url FROM /* TEMPLATE: schema */links WHERE url = ANY ($1::text[]);

-- name: expect-project-repositories
SELECT p.project, p.repo_id,
       count(*)::integer AS num_packages,
       count(*) FILTER (WHERE p.version_key = n.newest_key)::integer AS num_newest,
       count(*) FILTER (WHERE p.version_key < n.newest_key)::integer AS num_outdated,
       (array_agg(p.version ORDER BY p.version_key DESC, p.version DESC))[1] AS best_version
FROM /* TEMPLATE: input */packages p
JOIN t_newest n ON n.project = p.project
GROUP BY p.project, p.repo_id

-- name: expect-project-maintainers
SELECT p.project, m.id AS maintainer_id, p.repo_id,
       min(pm.name) AS name,
       count(*)::integer AS num_packages,
       count(*) FILTER (WHERE p.version_key = n.newest_key)::integer AS num_newest,
       count(*) FILTER (WHERE p.version_key < n.newest_key)::integer AS num_outdated
FROM /* TEMPLATE: input */packages p
JOIN t_newest n ON n.project = p.project
CROSS JOIN LATERAL (
    SELECT e ->> 'email' AS email, coalesce(min(e ->> 'name'), '') AS name
    FROM jsonb_array_elements(p.maintainers) e GROUP BY 1
) pm
JOIN /* TEMPLATE: input */maintainer_ids m ON m.email = pm.email
GROUP BY p.project, m.id, p.repo_id

-- name: expect-project-links
SELECT p.project, l.id AS link_id, count(*)::integer AS refcount
FROM /* TEMPLATE: input */packages p
JOIN t_projects t ON t.project = p.project
CROSS JOIN LATERAL (SELECT DISTINCT e ->> 'url' AS url FROM jsonb_array_elements(p.links) e) pl
JOIN /* TEMPLATE: input */link_ids l ON l.url = pl.url
GROUP BY p.project, l.id

-- name: expect-maintainer-repositories
SELECT pm.maintainer_id, pm.repo_id,
       sum(pm.num_packages)::integer AS num_packages,
       count(*)::integer AS num_projects,
       sum(pm.num_newest)::integer AS num_newest,
       sum(pm.num_outdated)::integer AS num_outdated
FROM /* TEMPLATE: levels */project_maintainers pm
JOIN t_maintainers t ON t.id = pm.maintainer_id
GROUP BY pm.maintainer_id, pm.repo_id

-- name: expect-projects
SELECT t.project AS name,
       count(pr.repo_id)::integer AS num_repos,
       coalesce(sum(pr.num_packages), 0)::integer AS num_packages,
       coalesce(n.newest_version, '') AS newest_version,
       coalesce(n.newest_key, ''::bytea) AS newest_key,
       count(*) FILTER (WHERE pr.num_newest = 0)::integer AS num_updates,
       count(pr.repo_id) = 0 AS orphaned
FROM t_projects t
LEFT JOIN t_newest n ON n.project = t.project
LEFT JOIN /* TEMPLATE: levels */project_repositories pr ON pr.project = t.project
GROUP BY t.project, n.newest_version, n.newest_key

-- name: expect-maintainers
SELECT m.id, m.email,
       coalesce(pmx.name, m.name) AS name,
       coalesce(mr.num_packages, 0)::integer AS num_packages,
       coalesce(pmx.num_projects, 0)::integer AS num_projects,
       coalesce(mr.num_repos, 0)::integer AS num_repos,
       coalesce(mr.num_newest, 0)::integer AS num_newest,
       coalesce(mr.num_outdated, 0)::integer AS num_outdated,
       coalesce(mr.repo_counts, '{}'::jsonb) AS repo_counts,
       mr.num_repos IS NULL AS orphaned
FROM t_maintainers t
JOIN /* TEMPLATE: schema */maintainers m ON m.id = t.id
LEFT JOIN (
    SELECT x.maintainer_id, sum(x.num_packages) AS num_packages, count(*) AS num_repos,
           sum(x.num_newest) AS num_newest, sum(x.num_outdated) AS num_outdated,
           jsonb_object_agg(r.name, x.num_packages) AS repo_counts
    FROM /* TEMPLATE: levels */maintainer_repositories x
    JOIN t_maintainers tt ON tt.id = x.maintainer_id
    JOIN repos r ON r.id = x.repo_id
    GROUP BY x.maintainer_id
) mr ON mr.maintainer_id = t.id
LEFT JOIN (
    SELECT pm.maintainer_id, min(pm.name) AS name, count(DISTINCT pm.project) AS num_projects
    FROM /* TEMPLATE: levels */project_maintainers pm
    JOIN t_maintainers tt ON tt.id = pm.maintainer_id
    GROUP BY pm.maintainer_id
) pmx ON pmx.maintainer_id = t.id

-- name: expect-links
SELECT l.id, l.url,
       coalesce(sum(pl.refcount), 0)::integer AS refcount,
       sum(pl.refcount) IS NULL AS orphaned
FROM t_links t
JOIN /* TEMPLATE: schema */links l ON l.id = t.id
LEFT JOIN /* TEMPLATE: levels */project_links pl ON pl.link_id = t.id
GROUP BY l.id, l.url

-- name: catalog-maintainer-repositories-delta
-- The delta path keeps maintainer_repositories, maintainers and links by
-- counter differences of the level-1 rows of the touched projects (which
-- o_/n_project_* hold in full, before and after), never by re-aggregating
-- a maintainer's or link's rows: a maintainer of ten thousand projects
-- costs one row here, not ten thousand. expect-* remain the definitions, and
-- the audit checks these counters against them.
-- d_: the difference per (maintainer, repository); o_ and n_: the rows
-- before and after, for the levels above.
CREATE TEMP TABLE d_maintainer_repositories ON COMMIT DROP AS
SELECT coalesce(n.maintainer_id, o.maintainer_id) AS maintainer_id,
       coalesce(n.repo_id, o.repo_id) AS repo_id,
       sum(coalesce(n.num_packages, 0) - coalesce(o.num_packages, 0))::integer AS d_packages,
       sum((n.project IS NOT NULL)::integer - (o.project IS NOT NULL)::integer)::integer AS d_projects,
       sum(coalesce(n.num_newest, 0) - coalesce(o.num_newest, 0))::integer AS d_newest,
       sum(coalesce(n.num_outdated, 0) - coalesce(o.num_outdated, 0))::integer AS d_outdated
FROM n_project_maintainers n
FULL JOIN o_project_maintainers o
  ON o.project = n.project AND o.maintainer_id = n.maintainer_id AND o.repo_id = n.repo_id
GROUP BY 1, 2
HAVING (sum(coalesce(n.num_packages, 0) - coalesce(o.num_packages, 0)),
        sum((n.project IS NOT NULL)::integer - (o.project IS NOT NULL)::integer),
        sum(coalesce(n.num_newest, 0) - coalesce(o.num_newest, 0)),
        sum(coalesce(n.num_outdated, 0) - coalesce(o.num_outdated, 0))) IS DISTINCT FROM (0, 0, 0, 0);
ANALYZE d_maintainer_repositories;
CREATE TEMP TABLE o_maintainer_repositories ON COMMIT DROP AS
SELECT t.maintainer_id, t.repo_id, t.num_packages, t.num_projects, t.num_newest, t.num_outdated
FROM /* TEMPLATE: schema */maintainer_repositories t
JOIN d_maintainer_repositories d ON d.maintainer_id = t.maintainer_id AND d.repo_id = t.repo_id;
INSERT INTO /* TEMPLATE: schema */maintainer_repositories AS t
    (maintainer_id, repo_id, num_packages, num_projects, num_newest, num_outdated)
SELECT maintainer_id, repo_id, d_packages, d_projects, d_newest, d_outdated FROM d_maintainer_repositories
ON CONFLICT (maintainer_id, repo_id) DO UPDATE SET
    num_packages = t.num_packages + excluded.num_packages,
    num_projects = t.num_projects + excluded.num_projects,
    num_newest = t.num_newest + excluded.num_newest,
    num_outdated = t.num_outdated + excluded.num_outdated;
-- A row exists while the maintainer has a project in the repository.
DELETE FROM /* TEMPLATE: schema */maintainer_repositories t
USING d_maintainer_repositories d
WHERE d.maintainer_id = t.maintainer_id AND d.repo_id = t.repo_id AND t.num_projects = 0;
CREATE TEMP TABLE n_maintainer_repositories ON COMMIT DROP AS
SELECT t.maintainer_id, t.repo_id, t.num_packages, t.num_projects, t.num_newest, t.num_outdated
FROM /* TEMPLATE: schema */maintainer_repositories t
JOIN d_maintainer_repositories d ON d.maintainer_id = t.maintainer_id AND d.repo_id = t.repo_id;

-- name: catalog-maintainers-delta
-- Totals move by the differences of maintainer_repositories; distinct
-- projects by the projects gained and lost among the touched ones (complete
-- in o_/n_project_maintainers); repo_counts is rebuilt from the maintainer's
-- few maintainer_repositories rows. The name (the least of the names the
-- packages give) needs the maintainer's other rows only when a row that
-- carried it went away and no new row carries it or a lesser one.
-- Only maintainers whose row can change are read: those whose counters
-- move, and those a touched row names differently (rows that come and go
-- move counters too).
CREATE TEMP TABLE t_maintainers_changed ON COMMIT DROP AS
SELECT maintainer_id AS id FROM d_maintainer_repositories
UNION
SELECT coalesce(n.maintainer_id, o.maintainer_id)
FROM n_project_maintainers n
FULL JOIN o_project_maintainers o
  ON o.project = n.project AND o.maintainer_id = n.maintainer_id AND o.repo_id = n.repo_id
WHERE n.name IS DISTINCT FROM o.name;
CREATE TEMP TABLE o_maintainers ON COMMIT DROP AS
SELECT t.id, t.email, t.name, t.num_packages, t.num_projects, t.num_repos, t.num_newest,
       t.num_outdated, t.repo_counts, t.orphaned
FROM /* TEMPLATE: schema */maintainers t JOIN t_maintainers_changed c ON c.id = t.id;
ANALYZE o_maintainers;
CREATE TEMP TABLE n_maintainers ON COMMIT DROP AS
WITH mr AS (
    SELECT d.maintainer_id, sum(d.d_packages) AS d_packages, sum(d.d_newest) AS d_newest,
           sum(d.d_outdated) AS d_outdated
    FROM d_maintainer_repositories d GROUP BY 1
), bound AS (
    SELECT coalesce(n.maintainer_id, o.maintainer_id) AS maintainer_id,
           sum((n.maintainer_id IS NOT NULL)::integer - (o.maintainer_id IS NOT NULL)::integer) AS d_repos
    FROM n_maintainer_repositories n
    FULL JOIN o_maintainer_repositories o ON o.maintainer_id = n.maintainer_id AND o.repo_id = n.repo_id
    GROUP BY 1
), projects AS (
    SELECT coalesce(n.maintainer_id, o.maintainer_id) AS maintainer_id,
           sum((n.maintainer_id IS NOT NULL)::integer - (o.maintainer_id IS NOT NULL)::integer) AS d_projects
    FROM (SELECT DISTINCT maintainer_id, project FROM n_project_maintainers) n
    FULL JOIN (SELECT DISTINCT maintainer_id, project FROM o_project_maintainers) o
      ON o.maintainer_id = n.maintainer_id AND o.project = n.project
    GROUP BY 1
), names AS (
    SELECT t.id AS maintainer_id, n.n_min, o.maintainer_id IS NOT NULL AS carried
    FROM o_maintainers t
    LEFT JOIN (SELECT maintainer_id, min(name) AS n_min FROM n_project_maintainers GROUP BY 1) n
      ON n.maintainer_id = t.id
    LEFT JOIN (SELECT DISTINCT o.maintainer_id FROM o_project_maintainers o
               JOIN o_maintainers m ON m.id = o.maintainer_id AND m.name = o.name) o
      ON o.maintainer_id = t.id
), totals AS (
    SELECT m.id, m.email, m.name AS o_name, m.orphaned AS o_orphaned, nm.n_min, nm.carried,
           m.num_packages + coalesce(mr.d_packages, 0) AS num_packages,
           m.num_projects + coalesce(p.d_projects, 0) AS num_projects,
           m.num_repos + coalesce(r.d_repos, 0) AS num_repos,
           m.num_newest + coalesce(mr.d_newest, 0) AS num_newest,
           m.num_outdated + coalesce(mr.d_outdated, 0) AS num_outdated,
           m.repo_counts, r.maintainer_id IS NOT NULL OR mr.maintainer_id IS NOT NULL AS recount
    FROM o_maintainers m
    JOIN names nm ON nm.maintainer_id = m.id
    LEFT JOIN mr ON mr.maintainer_id = m.id
    LEFT JOIN bound r ON r.maintainer_id = m.id
    LEFT JOIN projects p ON p.maintainer_id = m.id
)
SELECT x.id, x.email,
       CASE WHEN x.o_orphaned THEN coalesce(x.n_min, x.o_name) -- no rows before
            WHEN x.n_min <= x.o_name THEN x.n_min
            WHEN NOT x.carried THEN x.o_name
            ELSE coalesce((SELECT min(pm.name) FROM /* TEMPLATE: schema */project_maintainers pm WHERE pm.maintainer_id = x.id), x.o_name)
       END AS name,
       x.num_packages::integer, x.num_projects::integer, x.num_repos::integer,
       x.num_newest::integer, x.num_outdated::integer,
       CASE WHEN x.recount THEN coalesce(
           (SELECT jsonb_object_agg(r.name, mr.num_packages)
            FROM /* TEMPLATE: schema */maintainer_repositories mr JOIN public.repos r ON r.id = mr.repo_id
            WHERE mr.maintainer_id = x.id), '{}'::jsonb)
       ELSE x.repo_counts END AS repo_counts,
       x.num_repos = 0 AS orphaned
FROM totals x;

-- name: catalog-links-delta
-- A link's refcount moves by the differences of project_links; it is
-- orphaned when no package carries it (refcount 0). Only links whose
-- refcount moves are read.
CREATE TEMP TABLE d_links ON COMMIT DROP AS
SELECT coalesce(n.link_id, o.link_id) AS id,
       sum(coalesce(n.refcount, 0) - coalesce(o.refcount, 0))::integer AS d_refcount
FROM n_project_links n
FULL JOIN o_project_links o ON o.project = n.project AND o.link_id = n.link_id
GROUP BY 1
HAVING sum(coalesce(n.refcount, 0) - coalesce(o.refcount, 0)) <> 0;
CREATE TEMP TABLE o_links ON COMMIT DROP AS
SELECT t.id, t.url, t.refcount, t.orphaned FROM /* TEMPLATE: schema */links t JOIN d_links d ON d.id = t.id;
CREATE TEMP TABLE n_links ON COMMIT DROP AS
SELECT o.id, o.url, o.refcount + d.d_refcount AS refcount, o.refcount + d.d_refcount = 0 AS orphaned
FROM o_links o JOIN d_links d ON d.id = o.id;

-- name: catalog-repositories-delta
-- Repository totals move by the differences between the old and new rows of
-- the touched projects and maintainers: never re-aggregated on this path.
-- last_updated only moves forward, to the time of the last batch seen.
WITH pr AS (
    SELECT coalesce(n.repo_id, o.repo_id) AS repo_id,
           sum(coalesce(n.num_packages, 0) - coalesce(o.num_packages, 0)) AS d_packages,
           sum((n.repo_id IS NOT NULL)::integer - (o.repo_id IS NOT NULL)::integer) AS d_projects,
           sum(coalesce(n.num_newest, 0) - coalesce(o.num_newest, 0)) AS d_newest,
           sum(coalesce(n.num_outdated, 0) - coalesce(o.num_outdated, 0)) AS d_outdated
    FROM n_project_repositories n
    FULL JOIN o_project_repositories o ON o.project = n.project AND o.repo_id = n.repo_id
    GROUP BY 1
), mr AS (
    SELECT coalesce(n.repo_id, o.repo_id) AS repo_id,
           sum((n.repo_id IS NOT NULL)::integer - (o.repo_id IS NOT NULL)::integer) AS d_maintainers
    FROM n_maintainer_repositories n
    FULL JOIN o_maintainer_repositories o ON o.maintainer_id = n.maintainer_id AND o.repo_id = n.repo_id
    GROUP BY 1
), seen AS (
    SELECT * FROM unnest($1::integer[], $2::timestamptz[]) AS s (repo_id, at)
)
INSERT INTO /* TEMPLATE: schema */repositories AS t (id, name, num_packages, num_projects, num_maintainers, num_newest, num_outdated, last_updated)
SELECT r.id, r.name, coalesce(pr.d_packages, 0), coalesce(pr.d_projects, 0), coalesce(mr.d_maintainers, 0),
       coalesce(pr.d_newest, 0), coalesce(pr.d_outdated, 0), coalesce(seen.at, '-infinity')
FROM repos r
LEFT JOIN pr ON pr.repo_id = r.id
LEFT JOIN mr ON mr.repo_id = r.id
LEFT JOIN seen ON seen.repo_id = r.id
WHERE pr.repo_id IS NOT NULL OR mr.repo_id IS NOT NULL OR seen.repo_id IS NOT NULL
ON CONFLICT (id) DO UPDATE SET
    num_packages = t.num_packages + excluded.num_packages,
    num_projects = t.num_projects + excluded.num_projects,
    num_maintainers = t.num_maintainers + excluded.num_maintainers,
    num_newest = t.num_newest + excluded.num_newest,
    num_outdated = t.num_outdated + excluded.num_outdated,
    last_updated = greatest(t.last_updated, excluded.last_updated)
WHERE (excluded.num_packages, excluded.num_projects, excluded.num_maintainers, excluded.num_newest, excluded.num_outdated)
          IS DISTINCT FROM (0, 0, 0, 0, 0)
   OR excluded.last_updated > t.last_updated;

-- name: expect-repositories
-- The full definition of repositories, which the delta path keeps by counter
-- differences: the audit checks one against the other.
SELECT r.id, r.name,
       coalesce(pr.num_packages, 0)::integer AS num_packages,
       coalesce(pr.num_projects, 0)::integer AS num_projects,
       coalesce(mr.num_maintainers, 0)::integer AS num_maintainers,
       coalesce(pr.num_newest, 0)::integer AS num_newest,
       coalesce(pr.num_outdated, 0)::integer AS num_outdated,
       b.last_updated
FROM repos r
JOIN (SELECT repo_id, max(finished_at) AS last_updated FROM batches GROUP BY repo_id) b ON b.repo_id = r.id
LEFT JOIN (
    SELECT repo_id, sum(num_packages) AS num_packages, count(*) AS num_projects,
           sum(num_newest) AS num_newest, sum(num_outdated) AS num_outdated
    FROM /* TEMPLATE: levels */project_repositories GROUP BY repo_id
) pr ON pr.repo_id = r.id
LEFT JOIN (SELECT repo_id, count(*) AS num_maintainers FROM /* TEMPLATE: levels */maintainer_repositories GROUP BY repo_id) mr ON mr.repo_id = r.id

-- name: catalog-statistics-delta
WITH v AS (
    SELECT (SELECT coalesce(sum(num_packages), 0) FROM /* TEMPLATE: schema */repositories) AS num_packages,
           (SELECT count(*) FROM /* TEMPLATE: schema */repositories WHERE num_packages > 0) AS num_repos,
           (SELECT count(*) FILTER (WHERE NOT orphaned) FROM n_projects)
         - (SELECT count(*) FILTER (WHERE NOT orphaned) FROM o_projects) AS d_projects,
           (SELECT count(*) FILTER (WHERE NOT orphaned) FROM n_maintainers)
         - (SELECT count(*) FILTER (WHERE NOT orphaned) FROM o_maintainers) AS d_maintainers,
           (SELECT count(*) FILTER (WHERE NOT orphaned) FROM n_links)
         - (SELECT count(*) FILTER (WHERE NOT orphaned) FROM o_links) AS d_links
)
UPDATE /* TEMPLATE: schema */statistics s
SET num_packages = v.num_packages, num_repos = v.num_repos,
    num_projects = s.num_projects + v.d_projects,
    num_maintainers = s.num_maintainers + v.d_maintainers,
    num_links = s.num_links + v.d_links
FROM v
WHERE (s.num_packages, s.num_repos) IS DISTINCT FROM (v.num_packages, v.num_repos)
   OR (v.d_projects, v.d_maintainers, v.d_links) IS DISTINCT FROM (0, 0, 0);

-- name: expect-statistics
SELECT true AS singleton,
       (SELECT coalesce(sum(num_packages), 0) FROM /* TEMPLATE: levels */repositories)::bigint AS num_packages,
       (SELECT count(*) FROM /* TEMPLATE: levels */projects WHERE NOT orphaned)::bigint AS num_projects,
       (SELECT count(*) FROM /* TEMPLATE: levels */maintainers WHERE NOT orphaned)::bigint AS num_maintainers,
       (SELECT count(*) FROM /* TEMPLATE: levels */repositories WHERE num_packages > 0)::integer AS num_repos,
       (SELECT count(*) FROM /* TEMPLATE: levels */links WHERE NOT orphaned)::bigint AS num_links

-- ---- history projection ----

-- name: history-load
SELECT project, repo_id, version, version_key, count FROM /* TEMPLATE: schema */history_versions WHERE project = ANY ($1::text[]);

-- name: history-delete
DELETE FROM /* TEMPLATE: schema */history_versions h
USING unnest($1::text[], $2::integer[], $3::text[]) AS d (project, repo_id, version)
WHERE h.project = d.project AND h.repo_id = d.repo_id AND h.version = d.version;

-- name: history-upsert
INSERT INTO /* TEMPLATE: schema */history_versions AS h (project, repo_id, version, version_key, count)
SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::bytea[], $5::integer[])
ON CONFLICT (project, repo_id, version) DO UPDATE
SET version_key = excluded.version_key, count = excluded.count
WHERE (h.version_key, h.count) IS DISTINCT FROM (excluded.version_key, excluded.count);

-- name: expect-history-versions
SELECT project, repo_id, version, version_key, count(*)::integer AS count
FROM /* TEMPLATE: input */packages GROUP BY project, repo_id, version, version_key
