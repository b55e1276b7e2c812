-- Related projects (catalog): projects sharing a normalized homepage or
-- repository URL (links.normalized_url: normalize_url, migration 015).
-- related_urls counts the projects of each normalized URL; project_related holds, for every
-- project in scope, the projects it shares URLs with and how many
-- (weight), counting only URLs of 2 to related_url_cap() projects. The
-- scope is t_related_urls (normalized URLs) and t_related (projects),
-- created with the catalog's other scope tables (catalog-scope): every
-- URL and project on the full path; on the delta path the URLs a project
-- gained or lost in the page's pairs (a project_links row came or went)
-- and the projects carrying them (related-scope-*).

-- name: expect-related-urls
SELECT t.url, count(DISTINCT pl.project)::integer AS num_projects
FROM t_related_urls t
JOIN /* TEMPLATE: schema */links l ON l.normalized_url = t.url
JOIN /* TEMPLATE: levels */project_links pl ON pl.link_id = l.id
GROUP BY t.url

-- name: expect-project-related
WITH mine AS (
    SELECT DISTINCT pl.project, l.normalized_url AS url
    FROM /* TEMPLATE: levels */project_links pl
    JOIN /* TEMPLATE: schema */links l ON l.id = pl.link_id
    WHERE pl.project IN (SELECT project FROM t_related)
), shared AS (
    SELECT m.project, m.url
    FROM mine m
    JOIN /* TEMPLATE: levels */related_urls u ON u.url = m.url
    WHERE u.num_projects BETWEEN 2 AND public.related_url_cap()
)
SELECT s.project, o.project AS related, count(DISTINCT s.url)::integer AS weight
FROM shared s
JOIN /* TEMPLATE: schema */links l ON l.normalized_url = s.url
JOIN /* TEMPLATE: levels */project_links o ON o.link_id = l.id
WHERE o.project <> s.project
GROUP BY s.project, o.project

-- name: related-scope-urls
-- The delta path, after project_links moved (o_/n_project_links: the
-- pairs in scope before and after): a (project, repository, link) row
-- that came or went may change which normalized URLs the project carries;
-- a refcount that only moved cannot. d_related holds those rows' projects
-- and URLs.
INSERT INTO d_related (project, url)
SELECT DISTINCT d.project, l.normalized_url AS url
FROM (
    SELECT coalesce(n.project, o.project) AS project, coalesce(n.link_id, o.link_id) AS link_id
    FROM n_project_links n
    FULL JOIN o_project_links o ON o.project = n.project AND o.repo_id = n.repo_id AND o.link_id = n.link_id
    WHERE n.project IS NULL OR o.project IS NULL
) d
JOIN /* TEMPLATE: schema */links l ON l.id = d.link_id;
INSERT INTO t_related_urls SELECT DISTINCT url FROM d_related;
ANALYZE t_related_urls;

-- name: related-scope-projects
-- The projects whose relations can change: those whose URLs changed, and
-- every project carrying one of those URLs while it was or is under the
-- cap (o_/n_related_urls: its counts before and after). A URL over the
-- cap before and after relates nobody either way: its other projects,
-- however many, are not read.
INSERT INTO t_related
SELECT project FROM d_related
UNION
SELECT pl.project
FROM t_related_urls t
LEFT JOIN o_related_urls o ON o.url = t.url
LEFT JOIN n_related_urls n ON n.url = t.url
JOIN /* TEMPLATE: schema */links l ON l.normalized_url = t.url
JOIN /* TEMPLATE: schema */project_links pl ON pl.link_id = l.id
WHERE least(coalesce(o.num_projects, 0), coalesce(n.num_projects, 0)) <= public.related_url_cap()
ON CONFLICT DO NOTHING;
ANALYZE t_related;


-- ---- redirects (history projection) ----

-- name: history-redirect-counterparts
-- The other halves of the page's moves among the events of its batches
-- that lie before the page ($1, $2: the seq ranges, from each batch's
-- first seq to the page's start, read by the changelog's primary key).
-- $3, $4: the names sought and the side sought (lost: a package removed
-- and not added back; gained: added, not there before). Events that
-- cannot hold the side sought are not parsed: in a first load nothing was
-- removed, and nothing is.
WITH want AS (
    SELECT DISTINCT w.name, w.lost FROM unnest($3::text[], $4::boolean[]) AS w (name, lost)
), ev AS (
    SELECT c.seq, c.batch_id, c.project, c.removed, c.added
    FROM unnest($1::bigint[], $2::bigint[]) AS r (first_seq, last_seq)
    JOIN public.changelog c ON c.seq BETWEEN r.first_seq AND r.last_seq
    WHERE c.kind <> 'invalidated'
      AND (c.removed <> '[]'::jsonb AND EXISTS (SELECT 1 FROM want WHERE lost)
           OR c.added <> '[]'::jsonb AND EXISTS (SELECT 1 FROM want WHERE NOT lost))
)
SELECT ev.seq, ev.batch_id, ev.project, x.name, x.lost
FROM ev
CROSS JOIN LATERAL (
    SELECT n.name, bool_or(n.removed) AS lost
    FROM (
        SELECT p ->> 'name' AS name, true AS removed FROM jsonb_array_elements(ev.removed) p
        UNION ALL
        SELECT p ->> 'name', false FROM jsonb_array_elements(ev.added) p
    ) n
    GROUP BY n.name
    HAVING bool_or(n.removed) <> bool_or(NOT n.removed)
) x
JOIN want w ON w.name = x.name AND w.lost = x.lost;

-- name: history-redirects
INSERT INTO /* TEMPLATE: schema */project_redirects (seq, old_project, new_project, repo_id, batch_id, at)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::bigint[], $6::timestamptz[]);

-- name: rebuild-copy-redirects
-- Like project_history, not derivable from the current state: a rebuild
-- from state keeps the live rows.
INSERT INTO /* TEMPLATE: schema */project_redirects SELECT * FROM public.project_redirects;

-- ---- the read side (package web) ----

-- name: web-project-related
-- A project's related projects, the most shared URLs first ($2: at most).
SELECT r.related, r.weight
FROM public.project_related r
WHERE r.project = $1
ORDER BY r.weight DESC, r.related
LIMIT $2;

-- name: web-project-redirect
-- Where a lookup of a project that does not exist (or no longer: orphaned)
-- goes: its latest redirect, followed while the project it leads to does
-- not exist either (each hop a later redirect than the one before, so a
-- move back and forth ends; at most 8 hops). No row: no redirect leads to
-- an existing project. Of redirects of one event to several projects (a
-- project split), the least name.
WITH RECURSIVE hop (name, seq, depth) AS (
    SELECT $1::text, 0::bigint, 0
    UNION ALL
    SELECT x.new_project, x.seq, h.depth + 1
    FROM hop h
    CROSS JOIN LATERAL (
        SELECT r.new_project, r.seq FROM public.project_redirects r
        WHERE r.old_project = h.name AND r.seq > h.seq
        ORDER BY r.seq DESC, r.new_project
        LIMIT 1
    ) x
    WHERE h.depth < 8
      AND NOT EXISTS (SELECT 1 FROM public.projects p WHERE p.name = h.name AND NOT p.orphaned)
)
SELECT h.name
FROM hop h
JOIN public.projects p ON p.name = h.name AND NOT p.orphaned
WHERE h.depth > 0
ORDER BY h.depth
LIMIT 1;

-- ---- deltalog report related ----

-- name: report-related-totals
-- Projects with related projects, relations (pairs, counted once), the
-- normalized URLs that relate (2 to the cap's projects) and those over
-- the cap, the cap, and the redirects recorded.
SELECT (SELECT count(DISTINCT project) FROM public.project_related),
       (SELECT count(*) FROM public.project_related WHERE project < related),
       (SELECT count(*) FROM public.related_urls WHERE num_projects BETWEEN 2 AND public.related_url_cap()),
       (SELECT count(*) FROM public.related_urls WHERE num_projects > public.related_url_cap()),
       public.related_url_cap(),
       (SELECT count(*) FROM public.project_redirects);

-- name: report-related-top
-- The most related projects ($1: how many): by number of related
-- projects, then by total weight; with their most related ones (at most 5).
SELECT r.project, count(*)::integer, sum(r.weight)::integer,
       (array_agg(r.related ORDER BY r.weight DESC, r.related))[1:5]
FROM public.project_related r
GROUP BY r.project
ORDER BY count(*) DESC, sum(r.weight) DESC, r.project
LIMIT $1;
