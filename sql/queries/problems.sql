-- The catalog's problems (migration 015): per package, the checks reported
-- to maintainers. expect-problems is THE definition, for the delta path
-- (the pairs in scope, t_problem_pairs) and the audit and rebuilds (every
-- package); the counts per repository and per maintainer move by the
-- counter differences of the problems rows on the delta path, and are
-- defined in full by expect-repository-problems and
-- expect-maintainer-problems. Template markers as in catalog.sql.

-- name: problems-scope
-- The pairs whose problems can change: the catalog's pairs in scope (their
-- packages, newest and outdated counts), and the pairs that other projects'
-- changes reach:
--   outdated_alone: every pair with outdated packages of a project where
--     some pair started or stopped having the newest (or came or went);
--   homepage_shared: for a URL that a project started or stopped carrying
--     (in every repository: rows out of scope count), the pairs carrying it
--     of the one project that carried it before and after, when there is
--     exactly one (with two or more, each still shares it with another);
--   homepage_http: the packages whose http homepage is on a host for which
--     a live https link came or went, when that changed whether the host
--     has one (found by the index on http_homepage_host).
-- Every lookup goes by an index from the page's own rows.
INSERT INTO t_problem_pairs SELECT project, repo_id FROM t_pairs;
INSERT INTO t_problem_pairs
SELECT pr.project, pr.repo_id
FROM (
    SELECT DISTINCT coalesce(n.project, o.project) AS project
    FROM n_project_repositories n
    FULL JOIN o_project_repositories o ON o.project = n.project AND o.repo_id = n.repo_id
    WHERE (n.num_newest > 0) IS DISTINCT FROM (o.num_newest > 0)
) x
JOIN /* TEMPLATE: schema */project_repositories pr ON pr.project = x.project
WHERE pr.num_outdated > 0
ON CONFLICT DO NOTHING;
INSERT INTO t_problem_links (project, link_id, gained)
SELECT c.project, c.link_id, c.gained
FROM (
    SELECT coalesce(n.project, o.project) AS project, coalesce(n.link_id, o.link_id) AS link_id,
           n.project IS NOT NULL AS gained
    FROM (SELECT DISTINCT project, link_id FROM n_project_links) n
    FULL JOIN (SELECT DISTINCT project, link_id FROM o_project_links) o
      ON o.project = n.project AND o.link_id = n.link_id
    WHERE n.project IS NULL OR o.project IS NULL
) c
WHERE NOT EXISTS (
    SELECT 1 FROM /* TEMPLATE: schema */project_links pl
    WHERE pl.project = c.project AND pl.link_id = c.link_id
      AND NOT EXISTS (SELECT 1 FROM t_pairs t WHERE t.project = pl.project AND t.repo_id = pl.repo_id));
ANALYZE t_problem_links;
INSERT INTO t_problem_pairs
SELECT pl.project, pl.repo_id
FROM (
    SELECT l.link_id, (
        SELECT pl.project FROM /* TEMPLATE: schema */project_links pl
        WHERE pl.link_id = l.link_id
          AND NOT EXISTS (SELECT 1 FROM t_problem_links g WHERE g.link_id = pl.link_id AND g.project = pl.project AND g.gained)
        LIMIT 1) AS project
    FROM (SELECT DISTINCT link_id FROM t_problem_links) l
) s
JOIN /* TEMPLATE: schema */project_links pl ON pl.link_id = s.link_id AND pl.project = s.project
WHERE NOT EXISTS (
    SELECT 1 FROM /* TEMPLATE: schema */project_links x
    WHERE x.link_id = s.link_id AND x.project <> s.project
      AND NOT EXISTS (SELECT 1 FROM t_problem_links g WHERE g.link_id = x.link_id AND g.project = x.project AND g.gained))
ON CONFLICT DO NOTHING;
-- homepage_http: per host whose live https links the page changed, once
-- (f: those links, with the host computed once each): whether it had a
-- live link before the page — one the page orphaned, or one live now that
-- the page did not bring back — and whether it has one now. (Written with
-- the lookups per package row, the before side hashed every link of the
-- catalog: half a second a page at 1M packages.)
INSERT INTO t_problem_pairs
SELECT DISTINCT p.project, p.repo_id
FROM (
    WITH f AS MATERIALIZED (
        SELECT n.id, https_host(n.url) AS host, NOT n.orphaned AS live
        FROM n_links n JOIN o_links o ON o.id = n.id
        WHERE n.orphaned <> o.orphaned AND https_host(n.url) IS NOT NULL
    )
    SELECT h.host
    FROM (SELECT DISTINCT host FROM f) h
    WHERE EXISTS (
              SELECT 1 FROM /* TEMPLATE: schema */links l
              WHERE l.https_host = h.host AND NOT l.orphaned)
       <> (EXISTS (SELECT 1 FROM f WHERE f.host = h.host AND NOT f.live)
           OR EXISTS (
              SELECT 1 FROM /* TEMPLATE: schema */links l
              WHERE l.https_host = h.host AND NOT l.orphaned
                AND NOT EXISTS (SELECT 1 FROM f WHERE f.id = l.id AND f.live)))
) h
-- Per host, by the index (a join would be costed for any host and hash
-- every package's homepage; OFFSET 0 keeps the lookup per host).
CROSS JOIN LATERAL (
    SELECT p.project, p.repo_id FROM public.packages p WHERE http_homepage_host(p.links) = h.host OFFSET 0) p
ON CONFLICT DO NOTHING;
ANALYZE t_problem_pairs;
-- The definition's input: the packages of those pairs, and the ids of
-- their maintainers' emails (the catalog's page_maintainer_ids holds
-- those of its own pairs: the others are added, found by index from a
-- small analyzed list, as catalog-scope-packages finds them).
INSERT INTO page_problem_packages (repo_id, project, name, version, version_key, maintainers, links)
SELECT p.repo_id, p.project, p.name, p.version, p.version_key, p.maintainers, p.links
FROM public.packages p JOIN t_problem_pairs t ON t.repo_id = p.repo_id AND t.project = p.project;
ANALYZE page_problem_packages (repo_id, project, name, version, version_key);
INSERT INTO t_problem_emails (email)
SELECT DISTINCT e ->> 'email' AS email FROM page_problem_packages p, jsonb_array_elements(p.maintainers) e
EXCEPT SELECT email FROM page_maintainer_ids;
ANALYZE t_problem_emails;
INSERT INTO page_maintainer_ids (email, id)
SELECT m.email, m.id FROM /* TEMPLATE: schema */maintainers m JOIN t_problem_emails t ON t.email = m.email;
ANALYZE page_maintainer_ids;

-- name: problems-analyze-levels
-- A large page (a fresh catalog's first ones) analyzes the levels the
-- definition reads before it runs: their statistics may still be those of
-- empty tables, with which the planner loops over a whole index for every
-- package (minutes for a page of 20k pairs). ANALYZE in the page's
-- transaction samples the rows it wrote.
ANALYZE /* TEMPLATE: schema */links, /* TEMPLATE: schema */project_links, /* TEMPLATE: schema */projects,
        /* TEMPLATE: schema */project_repositories;

-- name: problems-levels-known
-- How many rows the planner's statistics give project_repositories (one
-- per pair; -1 before its first ANALYZE): a page analyzes the levels only
-- when its pairs are a large share of that. On a large catalog whose
-- statistics are current, a page of 7k pairs would otherwise spend most of
-- a second sampling tables it barely moved.
SELECT coalesce((SELECT reltuples::bigint FROM pg_class
                 WHERE oid = '/* TEMPLATE: schema */project_repositories'::regclass), -1);

-- name: expect-problems
-- A package (repository, project, name; several packages of one name are
-- one, with a kind when any of them has it) has
--   no_homepage       when it has no homepage link;
--   homepage_http     when its homepage is http:// and some live link is
--                     https:// on the same host;
--   homepage_shared   when another project carries its homepage URL (as
--                     any link);
--   version_unparsed  when its version does not parse under the
--                     repository's scheme (version_parses);
--   outdated_alone    when it is outdated while the project is in other
--                     repositories and each of them has the newest.
-- maintainers: the emails of the packages of that name that have a
-- maintainers row, sorted (on the delta path a pair reached through another
-- project's change may be read ahead of its own events, whose maintainers
-- may not have their rows yet: its own event re-derives it; the counts per
-- maintainer need the rows' ids).
WITH pk AS (
    SELECT p.project, p.repo_id, p.name, p.version, p.version_key, package_homepage(p.links) AS homepage
    FROM /* TEMPLATE: input */problem_packages p
), found AS (
    SELECT p.project, p.repo_id, p.name, 'no_homepage' AS kind, '{}'::jsonb AS data
    FROM pk p WHERE p.homepage IS NULL
    UNION ALL
    SELECT p.project, p.repo_id, p.name, 'homepage_http', jsonb_build_object('homepage', p.homepage)
    FROM pk p
    WHERE p.homepage ~* '^http://' AND EXISTS (
        SELECT 1 FROM /* TEMPLATE: levels */links l WHERE l.https_host = url_host(p.homepage) AND NOT l.orphaned)
    UNION ALL
    SELECT p.project, p.repo_id, p.name, 'homepage_shared', jsonb_build_object('homepage', p.homepage)
    FROM pk p JOIN /* TEMPLATE: levels */links l ON l.url = p.homepage
    -- A semi-join: hashed in a full recompute (whose levels are scratch
    -- tables without indexes), an index-only walk of project_links_link
    -- (link, project) on the delta path.
    WHERE EXISTS (SELECT 1 FROM /* TEMPLATE: levels */project_links pl WHERE pl.link_id = l.id AND pl.project <> p.project)
    UNION ALL
    SELECT p.project, p.repo_id, p.name, 'version_unparsed', jsonb_build_object('version', p.version, 'scheme', r.version_scheme)
    FROM pk p JOIN public.repos r ON r.id = p.repo_id
    WHERE NOT version_parses(r.version_scheme, p.version)
    UNION ALL
    SELECT p.project, p.repo_id, p.name, 'outdated_alone', jsonb_build_object('version', p.version)
    FROM pk p JOIN /* TEMPLATE: levels */projects pr ON pr.name = p.project
    WHERE p.version_key < pr.newest_key
      AND EXISTS (SELECT 1 FROM /* TEMPLATE: levels */project_repositories o
                  WHERE o.project = p.project AND o.repo_id <> p.repo_id)
      AND NOT EXISTS (SELECT 1 FROM /* TEMPLATE: levels */project_repositories o
                      WHERE o.project = p.project AND o.repo_id <> p.repo_id AND o.num_newest = 0)
), pm AS (
    SELECT p.project, p.repo_id, p.name,
           coalesce(array_agg(DISTINCT m.email ORDER BY m.email) FILTER (WHERE m.email IS NOT NULL), '{}') AS maintainers
    FROM /* TEMPLATE: input */problem_packages p
    LEFT JOIN LATERAL jsonb_array_elements(p.maintainers) e ON true
    LEFT JOIN /* TEMPLATE: input */maintainer_ids m ON m.email = e ->> 'email'
    GROUP BY p.project, p.repo_id, p.name
)
SELECT f.project, f.repo_id, f.name, f.kind, (array_agg(f.data ORDER BY f.data))[1] AS data, pm.maintainers
FROM found f
JOIN pm ON pm.project = f.project AND pm.repo_id = f.repo_id AND pm.name = f.name
GROUP BY f.project, f.repo_id, f.name, f.kind, pm.maintainers

-- name: expect-repository-problems
SELECT repo_id, kind, count(*)::integer AS num_problems
FROM /* TEMPLATE: levels */problems
GROUP BY repo_id, kind

-- name: expect-maintainer-problems
SELECT m.id AS maintainer_id, p.kind, count(*)::integer AS num_problems
FROM /* TEMPLATE: levels */problems p
CROSS JOIN LATERAL unnest(p.maintainers) e (email)
JOIN /* TEMPLATE: levels */maintainers m ON m.email = e.email
GROUP BY m.id, p.kind

-- name: problems-counts-delta
-- The counts move by the differences between the problems rows of the
-- pairs in scope after (n_problems) and before (o_problems): a row that
-- stayed cancels out, and no count is re-aggregated on this path.
INSERT INTO d_repository_problems (repo_id, kind, d)
SELECT repo_id, kind, sum(d)::integer AS d
FROM (SELECT repo_id, kind, 1 AS d FROM n_problems UNION ALL SELECT repo_id, kind, -1 FROM o_problems) x
GROUP BY 1, 2 HAVING sum(d) <> 0;
INSERT INTO t_problem_counts (email, kind, d)
SELECT e.email, x.kind, sum(x.d)::integer AS d
FROM (SELECT kind, maintainers, 1 AS d FROM n_problems UNION ALL SELECT kind, maintainers, -1 FROM o_problems) x
CROSS JOIN LATERAL unnest(x.maintainers) e (email)
GROUP BY 1, 2 HAVING sum(x.d) <> 0;
ANALYZE t_problem_counts;
INSERT INTO d_maintainer_problems (maintainer_id, kind, d)
SELECT m.id AS maintainer_id, c.kind, c.d
FROM t_problem_counts c JOIN /* TEMPLATE: schema */maintainers m ON m.email = c.email;
ANALYZE d_repository_problems, d_maintainer_problems;
INSERT INTO /* TEMPLATE: schema */repository_problems AS t (repo_id, kind, num_problems)
SELECT repo_id, kind, d FROM d_repository_problems
ON CONFLICT (repo_id, kind) DO UPDATE SET num_problems = t.num_problems + excluded.num_problems;
DELETE FROM /* TEMPLATE: schema */repository_problems t
USING d_repository_problems d WHERE d.repo_id = t.repo_id AND d.kind = t.kind AND t.num_problems = 0;
INSERT INTO /* TEMPLATE: schema */maintainer_problems AS t (maintainer_id, kind, num_problems)
SELECT maintainer_id, kind, d FROM d_maintainer_problems
ON CONFLICT (maintainer_id, kind) DO UPDATE SET num_problems = t.num_problems + excluded.num_problems;
DELETE FROM /* TEMPLATE: schema */maintainer_problems t
USING d_maintainer_problems d WHERE d.maintainer_id = t.maintainer_id AND d.kind = t.kind AND t.num_problems = 0;

-- ---- the read side (package web, cmd report problems) ----

-- name: web-repository-problems
-- A page of a repository's problems in key order after the cursor ($2
-- project, $3 name, $4 kind; empty strings: from the start), of kind $5
-- (empty: every kind): a range of problems_repo.
SELECT p.project, p.name, p.kind, p.data, p.maintainers
FROM public.problems p
WHERE p.repo_id = $1 AND (p.project, p.name, p.kind) > ($2, $3, $4) AND ($5 = '' OR p.kind = $5)
ORDER BY p.project, p.name, p.kind
LIMIT $6;

-- name: web-repository-problem-counts
SELECT kind, num_problems FROM public.repository_problems WHERE repo_id = $1;

-- name: web-maintainer-problem-counts
SELECT kind, num_problems FROM public.maintainer_problems WHERE maintainer_id = $1;

-- name: report-problems-repositories
-- The counts of each kind per repository ($1: one repository's name, or
-- empty for all of them); a repository without problems has one row of
-- kind ''.
SELECT r.name, coalesce(x.kind, ''), coalesce(x.num_problems, 0)
FROM public.repositories r
LEFT JOIN public.repository_problems x ON x.repo_id = r.id
WHERE $1 = '' OR r.name = $1
ORDER BY r.name, x.kind;

-- name: report-problems-maintainers
-- The $2 maintainers with the most problems (in repository $1, or in all
-- when empty), with their counts by kind.
WITH m AS (
    SELECT x.maintainer_id, sum(x.num_problems)::bigint AS total, jsonb_object_agg(x.kind, x.num_problems) AS kinds
    FROM public.maintainer_problems x
    WHERE $1 = ''
    GROUP BY x.maintainer_id
    UNION ALL
    SELECT m.id, sum(k.n)::bigint, jsonb_object_agg(k.kind, k.n)
    FROM (SELECT e.email, p.kind, count(*) AS n
          FROM public.problems p
          JOIN public.repositories r ON r.id = p.repo_id AND r.name = $1
          CROSS JOIN LATERAL unnest(p.maintainers) e (email)
          GROUP BY 1, 2) k
    JOIN public.maintainers m ON m.email = k.email
    WHERE $1 <> ''
    GROUP BY m.id
)
SELECT mt.email, m.total, m.kinds
FROM m JOIN public.maintainers mt ON mt.id = m.maintainer_id
ORDER BY m.total DESC, mt.email
LIMIT $2;
