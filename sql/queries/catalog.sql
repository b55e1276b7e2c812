-- The catalog projection. Each expect-* query is THE definition of a derived
-- table: the rows it should hold for the keys in scope (temp tables
-- t_projects, t_pairs, t_maintainers, t_links). The delta path runs the
-- level-1 ones with the (project, repository) pairs a changelog page touched
-- (and, for projects whose newest version moved, the pairs whose counts of
-- newest and outdated packages move with it), projects with the touched
-- projects, and moves the levels above by counter differences
-- (catalog-*-delta); the audit and rebuilds run every definition with every
-- key, and so check the counters.
-- Tables are named through template markers (see sql.Schemas): the
-- projection's own tables as /* TEMPLATE: schema */, the lower levels a
-- definition reads as /* TEMPLATE: levels */ (pg_temp in an audit, which
-- checks every level against the expected rows of the levels below it), the
-- packages and id lookups as /* TEMPLATE: input */ (the delta path's
-- temporary copies, or the live ones).

-- name: catalog-scope
-- The scratch tables of a page, declared once per session and emptied by
-- every commit (ON COMMIT DELETE ROWS): creating and dropping some thirty
-- temporary tables in each page's transaction cost more than the page's
-- queries did (catalog rows are written for each at creation and deleted
-- at commit). The statements below fill them by INSERT, naming the
-- columns. A page is one transaction, so it always starts with them empty.
-- None takes the name of a live table, which a table living on in the
-- session would shadow for every later unqualified statement of the
-- connection: the page's copies of its input are page_<table>.
-- The notices of IF NOT EXISTS are not sent for the rest of the page.
SET LOCAL client_min_messages = warning;
CREATE TEMP TABLE IF NOT EXISTS t_projects (project text PRIMARY KEY) ON COMMIT DELETE ROWS;
-- links: an event of the page moved the count of a URL among the pair's
-- packages (false too for pairs in scope only because the project's newest
-- version moved, which moves the pair's counts and nothing else).
CREATE TEMP TABLE IF NOT EXISTS t_pairs (project text, repo_id integer, links boolean NOT NULL,
                                         PRIMARY KEY (project, repo_id)) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_maintainers (id integer PRIMARY KEY) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_links (id integer PRIMARY KEY) ON COMMIT DELETE ROWS;
-- Related projects' scope (sql/queries/related.sql).
CREATE TEMP TABLE IF NOT EXISTS t_related_urls (url text PRIMARY KEY) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_related (project text PRIMARY KEY) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_newest (project text, newest_key bytea, newest_version text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_moved (project text, newest_key bytea) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_emails (email text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_urls (url text) ON COMMIT DELETE ROWS;
-- The page's input (catalog-scope-packages).
CREATE TEMP TABLE IF NOT EXISTS page_packages (project text, repo_id integer, version text, version_key bytea, category text,
    maintainers jsonb, links jsonb) ON COMMIT DELETE ROWS;
CREATE INDEX IF NOT EXISTS page_packages_pair ON page_packages (project, repo_id);
CREATE TEMP TABLE IF NOT EXISTS page_maintainer_ids (email text, id integer) ON COMMIT DELETE ROWS;
CREATE INDEX IF NOT EXISTS page_maintainer_ids_email ON page_maintainer_ids (email);
CREATE TEMP TABLE IF NOT EXISTS page_link_ids (url text, id integer) ON COMMIT DELETE ROWS;
CREATE INDEX IF NOT EXISTS page_link_ids_url ON page_link_ids (url);
CREATE TEMP TABLE IF NOT EXISTS page_problem_packages (repo_id integer, project text, name text, version text,
    version_key bytea, maintainers jsonb, links jsonb) ON COMMIT DELETE ROWS;
-- n_ and o_: the rows of a table's keys in scope after and before the page
-- (the columns its description lists: keys, values, orphaned).
CREATE TEMP TABLE IF NOT EXISTS n_project_repositories (project text, repo_id integer, num_packages integer,
    num_newest integer, num_outdated integer, best_version text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_project_repositories (LIKE n_project_repositories) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS n_project_maintainers (project text, maintainer_id integer, repo_id integer,
    name text, num_packages integer, num_newest integer, num_outdated integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_project_maintainers (LIKE n_project_maintainers) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS n_project_links (project text, repo_id integer, link_id integer,
    refcount integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_project_links (LIKE n_project_links) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS n_projects (name text, num_repos integer, num_packages integer,
    newest_version text, newest_key bytea, num_updates integer, orphaned boolean) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_projects (LIKE n_projects) ON COMMIT DELETE ROWS;
-- d_: the counter differences of the levels kept by them.
CREATE TEMP TABLE IF NOT EXISTS d_maintainer_repositories (maintainer_id integer, repo_id integer,
    d_packages integer, d_projects integer, d_newest integer, d_outdated integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS n_maintainer_repositories (maintainer_id integer, repo_id integer,
    num_packages integer, num_projects integer, num_newest integer, num_outdated integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_maintainer_repositories (LIKE n_maintainer_repositories) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_maintainers_changed (id integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS n_maintainers (id integer, email text, name text, num_packages integer,
    num_projects integer, num_repos integer, num_newest integer, num_outdated integer, repo_counts jsonb,
    orphaned boolean) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_maintainers (LIKE n_maintainers) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS d_links (id integer, d_refcount integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS n_links (id integer, url text, refcount integer, orphaned boolean) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_links (LIKE n_links) ON COMMIT DELETE ROWS;
-- Categories (sql/queries/extras.sql).
CREATE TEMP TABLE IF NOT EXISTS n_project_categories (project text, repo_id integer, category text,
    num_packages integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_project_categories (LIKE n_project_categories) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS d_categories (project text, repo_id integer, category text, d_packages integer,
    d_projects integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS n_category_projects (category text, project text, refcount integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_category_projects (LIKE n_category_projects) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS n_repository_categories (repo_id integer, category text, num_projects integer,
    num_packages integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_repository_categories (LIKE n_repository_categories) ON COMMIT DELETE ROWS;
-- Problems (sql/queries/problems.sql).
CREATE TEMP TABLE IF NOT EXISTS n_problems (project text, repo_id integer, name text, kind text, data jsonb,
    maintainers text[]) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_problems (LIKE n_problems) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_problem_pairs (project text, repo_id integer, PRIMARY KEY (project, repo_id)) ON COMMIT DELETE ROWS;
-- Keyed by (link, project): problems-scope probes it per project_links row
-- of each link (without the key, a seq scan per row: 37 s for a replay
-- page of 27k links).
CREATE TEMP TABLE IF NOT EXISTS t_problem_links (project text, link_id integer, gained boolean,
                                                 PRIMARY KEY (link_id, project)) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_problem_emails (email text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS t_problem_counts (email text, kind text, d integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS d_repository_problems (repo_id integer, kind text, d integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS d_maintainer_problems (maintainer_id integer, kind text, d integer) ON COMMIT DELETE ROWS;
-- Related projects (sql/queries/related.sql).
CREATE TEMP TABLE IF NOT EXISTS d_related (project text, url text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS n_related_urls (url text, num_projects integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_related_urls (LIKE n_related_urls) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS n_project_related (project text, related text, weight integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS o_project_related (LIKE n_project_related) ON COMMIT DELETE ROWS;
-- Declared last: its presence says the session has every table above
-- (catalog-scope-declared), since they are created in one transaction.
CREATE TEMP TABLE IF NOT EXISTS catalog_scope_declared () ON COMMIT DELETE ROWS;

-- name: catalog-scope-declared
-- Whether this session has declared the scratch tables already: a page
-- then skips catalog-scope, some fifty statements. A page that failed
-- rolled its declarations back with it, and this says false again.
SELECT to_regclass('pg_temp.catalog_scope_declared') IS NOT NULL;

-- name: catalog-scope-pairs
-- The (project, repository) pairs a page touched: $1 projects, $2 their
-- repositories, $3 whether their links can change (distinct pairs).
WITH pairs AS (
    INSERT INTO t_pairs SELECT * FROM unnest($1::text[], $2::integer[], $3::boolean[])
    RETURNING project
)
INSERT INTO t_projects SELECT DISTINCT project FROM pairs ON CONFLICT DO NOTHING;

-- name: catalog-scope-moved
-- The delta path's project-wide pass, for the projects whose newest version
-- key moved (t_newest against the stored projects row) and for those only:
-- every pair of such a project whose counts of newest and outdated packages
-- can change joins the scope. Those are the pairs that held the old newest
-- key (num_newest > 0: the stored counts are relative to the stored
-- newest) and the pairs that hold the new one (one probe of
-- packages_project_newest each). Any other pair has no package at either
-- key: none newest before or after, its rows stay. A newest that moved by
-- its spelling alone ("1.0" to "1.00") moves only the projects row.
INSERT INTO t_moved (project, newest_key)
SELECT t.project, n.newest_key
FROM t_projects t
LEFT JOIN t_newest n ON n.project = t.project
JOIN /* TEMPLATE: schema */projects pr ON pr.name = t.project
WHERE n.newest_key IS DISTINCT FROM pr.newest_key AND NOT pr.orphaned;
INSERT INTO t_pairs
SELECT pr.project, pr.repo_id, false
FROM t_moved m JOIN /* TEMPLATE: schema */project_repositories pr ON pr.project = m.project
WHERE pr.num_newest > 0
UNION
SELECT p.project, p.repo_id, false
FROM t_moved m JOIN public.packages p ON p.project = m.project AND p.version_key = m.newest_key
ON CONFLICT DO NOTHING;
ANALYZE t_pairs;

-- name: catalog-scope-packages
-- On the delta path, the packages of the pairs in scope are read once into
-- a scratch table (the definitions' input there: pg_temp.page_packages),
-- so the definitions below, which read packages several times, read this
-- small copy instead of making random lookups in the whole table each
-- time. Only the columns the definitions read are copied (a definition
-- reading another fails loudly on the delta path).
INSERT INTO page_packages (project, repo_id, version, version_key, category, maintainers, links)
SELECT p.project, p.repo_id, p.version, p.version_key, p.category, p.maintainers, p.links
FROM public.packages p JOIN t_pairs t ON t.repo_id = p.repo_id AND t.project = p.project;
ANALYZE page_packages (project, repo_id, version, version_key); -- not the jsonb: slow, and unused
-- Likewise the ids of the emails and URLs these packages carry (see
-- migration 005: the lists are analyzed first, so that the ids are found by
-- index, not by hashing the whole tables).
INSERT INTO t_emails (email)
SELECT DISTINCT e ->> 'email' AS email FROM page_packages p, jsonb_array_elements(p.maintainers) e;
INSERT INTO t_urls (url)
SELECT DISTINCT e ->> 'url' AS url FROM page_packages p, jsonb_array_elements(p.links) e;
ANALYZE t_emails, t_urls;
INSERT INTO page_maintainer_ids (email, id)
SELECT m.email, m.id FROM /* TEMPLATE: schema */maintainers m JOIN t_emails e ON e.email = m.email;
INSERT INTO page_link_ids (url, id)
SELECT l.url, l.id FROM /* TEMPLATE: schema */links l JOIN t_urls u ON u.url = l.url;
ANALYZE page_maintainer_ids, page_link_ids;

-- name: catalog-scope-all
-- Every key there is: the full path.
INSERT INTO t_projects
SELECT project FROM /* TEMPLATE: input */packages UNION SELECT name FROM /* TEMPLATE: schema */projects ON CONFLICT DO NOTHING;
INSERT INTO t_maintainers SELECT id FROM /* TEMPLATE: schema */maintainers ON CONFLICT DO NOTHING;
INSERT INTO t_links SELECT id FROM /* TEMPLATE: schema */links ON CONFLICT DO NOTHING;
INSERT INTO t_related_urls SELECT DISTINCT normalized_url FROM /* TEMPLATE: schema */links ON CONFLICT DO NOTHING;
INSERT INTO t_related SELECT project FROM t_projects ON CONFLICT DO NOTHING;

-- name: catalog-newest
-- The newest version key of every project in scope, across repositories,
-- and its spelling (the greatest of the versions with that key: "1.0" and
-- "1.00" compare equal): the first entry of packages_project_newest, one
-- probe per project, never the project's packages in every repository. It
-- reads the current state itself (on the delta path it runs before the
-- page's copy of packages exists).
ANALYZE t_projects;
INSERT INTO t_newest
SELECT t.project, n.version_key, n.version
FROM t_projects t
CROSS JOIN LATERAL (
    SELECT p.version_key, p.version FROM public.packages p WHERE p.project = t.project
    ORDER BY p.version_key DESC, p.version DESC LIMIT 1
) n;
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
-- Only URLs without a link are offered to the insert: its trigger (the URL
-- columns, migration 020) fires before the conflict is found.
WITH ins AS (
    INSERT INTO /* TEMPLATE: schema */links (url, orphaned_at)
    SELECT DISTINCT u, now() FROM unnest($1::text[]) u
    WHERE NOT EXISTS (SELECT 1 FROM /* TEMPLATE: schema */links l WHERE l.url = u)
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
SELECT p.project, p.repo_id, l.id AS link_id, count(*)::integer AS refcount
FROM /* TEMPLATE: input */packages p
CROSS JOIN LATERAL (SELECT DISTINCT e ->> 'url' AS url FROM jsonb_array_elements(p.links) e) pl
JOIN /* TEMPLATE: input */link_ids l ON l.url = pl.url
GROUP BY p.project, p.repo_id, l.id

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
-- https_host is not derived here but carried (migration 020): the full
-- definition of problems reads it from these rows.
SELECT l.id, l.url,
       coalesce(sum(pl.refcount), 0)::integer AS refcount,
       sum(pl.refcount) IS NULL AS orphaned,
       l.https_host
FROM t_links t
JOIN /* TEMPLATE: schema */links l ON l.id = t.id
LEFT JOIN /* TEMPLATE: levels */project_links pl ON pl.link_id = t.id
GROUP BY l.id, l.url

-- name: catalog-maintainer-repositories-delta
-- The delta path keeps maintainer_repositories, maintainers and links by
-- counter differences of the level-1 rows of the pairs in scope (which
-- o_/n_project_* hold in full, before and after), never by re-aggregating
-- a maintainer's or link's rows: a maintainer of ten thousand projects
-- costs one row here, not ten thousand. expect-* remain the definitions, and
-- the audit checks these counters against them.
-- d_: the difference per (maintainer, repository); o_ and n_: the rows
-- before and after, for the levels above.
INSERT INTO d_maintainer_repositories (maintainer_id, repo_id, d_packages, d_projects, d_newest, d_outdated)
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
INSERT INTO o_maintainer_repositories (maintainer_id, repo_id, num_packages, num_projects, num_newest, num_outdated)
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
INSERT INTO n_maintainer_repositories (maintainer_id, repo_id, num_packages, num_projects, num_newest, num_outdated)
SELECT t.maintainer_id, t.repo_id, t.num_packages, t.num_projects, t.num_newest, t.num_outdated
FROM /* TEMPLATE: schema */maintainer_repositories t
JOIN d_maintainer_repositories d ON d.maintainer_id = t.maintainer_id AND d.repo_id = t.repo_id;

-- name: catalog-maintainers-delta
-- Totals move by the differences of maintainer_repositories; distinct
-- projects by the projects gained and lost in the pairs in scope (complete
-- in o_/n_project_maintainers) that the maintainer has in no other
-- repository; repo_counts is rebuilt from the maintainer's
-- few maintainer_repositories rows. The name (the least of the names the
-- packages give) needs the maintainer's other rows only when a row that
-- carried it went away and no new row carries it or a lesser one.
-- Only maintainers whose row can change are read: those whose counters
-- move, and those a touched row names differently (rows that come and go
-- move counters too).
INSERT INTO t_maintainers_changed (id)
SELECT maintainer_id AS id FROM d_maintainer_repositories
UNION
SELECT coalesce(n.maintainer_id, o.maintainer_id)
FROM n_project_maintainers n
FULL JOIN o_project_maintainers o
  ON o.project = n.project AND o.maintainer_id = n.maintainer_id AND o.repo_id = n.repo_id
WHERE n.name IS DISTINCT FROM o.name;
INSERT INTO o_maintainers (id, email, name, num_packages, num_projects, num_repos, num_newest, num_outdated, repo_counts, orphaned)
SELECT t.id, t.email, t.name, t.num_packages, t.num_projects, t.num_repos, t.num_newest,
       t.num_outdated, t.repo_counts, t.orphaned
FROM /* TEMPLATE: schema */maintainers t JOIN t_maintainers_changed c ON c.id = t.id;
ANALYZE o_maintainers;
INSERT INTO n_maintainers (id, email, name, num_packages, num_projects, num_repos, num_newest, num_outdated, repo_counts, orphaned)
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
    -- A project gained or lost in the pairs in scope counts unless the
    -- maintainer has it in a repository out of scope (those rows stay).
    SELECT x.maintainer_id, sum(x.d) AS d_projects
    FROM (
        SELECT coalesce(n.maintainer_id, o.maintainer_id) AS maintainer_id, coalesce(n.project, o.project) AS project,
               (n.project IS NOT NULL)::integer - (o.project IS NOT NULL)::integer AS d
        FROM (SELECT DISTINCT maintainer_id, project FROM n_project_maintainers) n
        FULL JOIN (SELECT DISTINCT maintainer_id, project FROM o_project_maintainers) o
          ON o.maintainer_id = n.maintainer_id AND o.project = n.project
        WHERE n.project IS NULL OR o.project IS NULL
    ) x
    WHERE NOT EXISTS (
        SELECT 1 FROM /* TEMPLATE: schema */project_maintainers pm
        WHERE pm.project = x.project AND pm.maintainer_id = x.maintainer_id
          AND NOT EXISTS (SELECT 1 FROM t_pairs t WHERE t.project = pm.project AND t.repo_id = pm.repo_id))
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
INSERT INTO d_links (id, d_refcount)
SELECT coalesce(n.link_id, o.link_id) AS id,
       sum(coalesce(n.refcount, 0) - coalesce(o.refcount, 0))::integer AS d_refcount
FROM n_project_links n
FULL JOIN o_project_links o ON o.project = n.project AND o.repo_id = n.repo_id AND o.link_id = n.link_id
GROUP BY 1
HAVING sum(coalesce(n.refcount, 0) - coalesce(o.refcount, 0)) <> 0;
INSERT INTO o_links (id, url, refcount, orphaned)
SELECT t.id, t.url, t.refcount, t.orphaned FROM /* TEMPLATE: schema */links t JOIN d_links d ON d.id = t.id;
INSERT INTO n_links (id, url, refcount, orphaned)
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
-- The state a fold of events of the pairs ($1 projects, $2 repositories)
-- starts from: every version of those pairs, which the events change, and
-- for each of their projects the newest version of its other
-- repositories, which they do not: the project's newest across
-- repositories, all the fold asks of them, is the greater of that one and
-- the pairs' own. One probe of history_versions_project_newest per
-- project (the first entry not of a touched pair), not the project's
-- versions in every repository.
WITH pairs AS (
    SELECT * FROM unnest($1::text[], $2::integer[]) AS p (project, repo_id)
), projects AS (
    -- A project's touched repositories as an array: the probe below skips
    -- them by a test of the few elements, not by an anti-join with every
    -- pair of the page (once per project: quadratic in a large page).
    SELECT project, array_agg(repo_id) AS repos FROM pairs GROUP BY project
)
SELECT h.project, h.repo_id, h.version, h.version_key, h.count
FROM pairs p JOIN /* TEMPLATE: schema */history_versions h ON h.project = p.project AND h.repo_id = p.repo_id
UNION ALL
SELECT o.*
FROM projects t
CROSS JOIN LATERAL (
    SELECT h.project, h.repo_id, h.version, h.version_key, h.count
    FROM /* TEMPLATE: schema */history_versions h
    WHERE h.project = t.project AND h.repo_id <> ALL (t.repos)
    ORDER BY h.version_key DESC, h.version COLLATE "C" DESC
    LIMIT 1
) o;

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

-- name: history-bulk
-- A run of "added" events of fresh pairs, set-based (see History.bulk):
-- $1-$10 one row per event (seq, batch, project, repository; its best
-- version by the repository's order where that is not its greatest
-- version; its greatest version key, that version's spelling and how many
-- packages have it; the project's greatest key and spelling among its
-- earlier events in the run, if any), $11-$15 one row per other version of
-- an event (project, repository, version, key, count), $16-$17 the times
-- of the batches. Every event gets its "added" entry, and a "new_newest"
-- one when its greatest key is above the project's newest before it: the
-- greater of the run's earlier events' and of the versions stored before
-- the run (by key, then by spelling: the fold's order). If any pair already
-- has versions (stale), nothing is written and the caller folds the run.
-- The reads see the tables as before this statement.
WITH ev AS (
    SELECT e.*, b.at
    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::integer[], $5::text[],
                $6::bytea[], $7::text[], $8::integer[], $9::bytea[], $10::text[])
        AS e (seq, batch_id, project, repo_id, best, top_key, top_version, top_count, run_key, run_version)
    JOIN unnest($16::bigint[], $17::timestamptz[]) AS b (batch_id, at) ON b.batch_id = e.batch_id
), stale AS (
    SELECT EXISTS (
        SELECT 1 FROM ev JOIN /* TEMPLATE: schema */history_versions h ON h.project = ev.project AND h.repo_id = ev.repo_id
    ) AS stale
), versions AS (
    INSERT INTO /* TEMPLATE: schema */history_versions (project, repo_id, version, version_key, count)
    SELECT * FROM (
        SELECT project, repo_id, top_version, top_key, top_count FROM ev
        UNION ALL
        SELECT * FROM unnest($11::text[], $12::integer[], $13::text[], $14::bytea[], $15::integer[])
    ) v
    WHERE NOT (SELECT stale FROM stale)
), prior AS (
    SELECT t.project, n.version_key, n.version
    FROM (SELECT DISTINCT project FROM ev) t
    CROSS JOIN LATERAL (
        SELECT h.version_key, h.version FROM /* TEMPLATE: schema */history_versions h
        WHERE h.project = t.project
        ORDER BY h.version_key DESC, h.version COLLATE "C" DESC
        LIMIT 1
    ) n
), before AS (
    SELECT ev.*,
           CASE WHEN ev.run_key IS NULL OR (p.version_key, p.version COLLATE "C") > (ev.run_key, ev.run_version COLLATE "C")
                THEN p.version_key ELSE ev.run_key END AS before_key,
           CASE WHEN ev.run_key IS NULL OR (p.version_key, p.version COLLATE "C") > (ev.run_key, ev.run_version COLLATE "C")
                THEN p.version ELSE ev.run_version END AS before_version
    FROM ev LEFT JOIN prior p ON p.project = ev.project
)
INSERT INTO /* TEMPLATE: schema */project_history (project, repo_id, seq, batch_id, kind, old_version, new_version, at)
SELECT project, repo_id, seq, batch_id, kind, old_version, new_version, at
FROM (
    SELECT project, repo_id, seq, batch_id, 'added' AS kind, NULL AS old_version,
           coalesce(best, top_version) AS new_version, at, 0 AS rank
    FROM ev
    UNION ALL
    SELECT project, repo_id, seq, batch_id, 'new_newest', before_version, top_version, at, 1
    FROM before
    WHERE before_key IS NULL OR top_key > before_key
) entries
WHERE NOT (SELECT stale FROM stale)
ORDER BY seq, rank;
