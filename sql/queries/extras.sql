-- The catalog's categories and history snapshots, and the freshness
-- report's reads of the history (see projections/categories.go,
-- projections/snapshots.go, web/freshness.go). Template markers as in
-- catalog.sql.

-- name: expect-project-categories
-- Level 1: a pair's packages per category (the empty category is no
-- category).
SELECT p.project, p.repo_id, p.category, count(*)::integer AS num_packages
FROM /* TEMPLATE: input */packages p
WHERE p.category <> ''
GROUP BY p.project, p.repo_id, p.category

-- name: expect-category-projects
SELECT pc.category, pc.project, sum(pc.num_packages)::integer AS refcount
FROM /* TEMPLATE: levels */project_categories pc
GROUP BY pc.category, pc.project

-- name: expect-repository-categories
SELECT pc.repo_id, pc.category, count(*)::integer AS num_projects, sum(pc.num_packages)::integer AS num_packages
FROM /* TEMPLATE: levels */project_categories pc
GROUP BY pc.repo_id, pc.category

-- name: categories-delta
-- The delta path moves category_projects and repository_categories by the
-- differences of the pairs' project_categories rows (o_ and n_ hold them
-- in full, before and after), never by re-aggregating a category: a
-- category of ten thousand projects costs the rows that moved. d_: one row
-- per (pair, category) that moved; o_ and n_ of the two tables: their rows
-- before and after for the keys that moved (n_ leaves out the rows whose
-- last package went), for the write that follows.
INSERT INTO d_categories (project, repo_id, category, d_packages, d_projects)
SELECT coalesce(n.project, o.project) AS project, coalesce(n.repo_id, o.repo_id) AS repo_id,
       coalesce(n.category, o.category) AS category,
       coalesce(n.num_packages, 0) - coalesce(o.num_packages, 0) AS d_packages,
       (n.project IS NOT NULL)::integer - (o.project IS NOT NULL)::integer AS d_projects
FROM n_project_categories n
FULL JOIN o_project_categories o ON o.project = n.project AND o.repo_id = n.repo_id AND o.category = n.category
WHERE n.num_packages IS DISTINCT FROM o.num_packages;
ANALYZE d_categories;
INSERT INTO o_category_projects (category, project, refcount)
SELECT t.category, t.project, t.refcount
FROM /* TEMPLATE: schema */category_projects t
JOIN (SELECT DISTINCT category, project FROM d_categories) d ON d.category = t.category AND d.project = t.project;
INSERT INTO n_category_projects (category, project, refcount)
SELECT d.category, d.project, (coalesce(o.refcount, 0) + d.d_packages)::integer AS refcount
FROM (SELECT category, project, sum(d_packages) AS d_packages FROM d_categories GROUP BY 1, 2) d
LEFT JOIN o_category_projects o ON o.category = d.category AND o.project = d.project
WHERE coalesce(o.refcount, 0) + d.d_packages > 0;
INSERT INTO o_repository_categories (repo_id, category, num_projects, num_packages)
SELECT t.repo_id, t.category, t.num_projects, t.num_packages
FROM /* TEMPLATE: schema */repository_categories t
JOIN (SELECT DISTINCT repo_id, category FROM d_categories) d ON d.repo_id = t.repo_id AND d.category = t.category;
INSERT INTO n_repository_categories (repo_id, category, num_projects, num_packages)
SELECT d.repo_id, d.category, (coalesce(o.num_projects, 0) + d.d_projects)::integer AS num_projects,
       (coalesce(o.num_packages, 0) + d.d_packages)::integer AS num_packages
FROM (SELECT repo_id, category, sum(d_projects) AS d_projects, sum(d_packages) AS d_packages
      FROM d_categories GROUP BY 1, 2) d
LEFT JOIN o_repository_categories o ON o.repo_id = d.repo_id AND o.category = d.category
WHERE coalesce(o.num_projects, 0) + d.d_projects > 0;

-- name: snapshots-repositories
-- Every repository's row as it is, when seq $1 is the last of a batch:
-- each compared with the repository's last row, and written as the
-- batch's row where it differs. Every repository, not only those the last
-- page moved: a page that ends no batch writes no row, and what it moved
-- is recorded by the next one that ends one. One probe of
-- repositories_history_seq per repository (tens to hundreds of them; the
-- statistics' delta sums the same table).
INSERT INTO /* TEMPLATE: schema */repositories_history
    (repo_id, batch_id, seq, at, num_packages, num_projects, num_maintainers, num_newest, num_outdated)
SELECT r.id, b.id, b.last_seq, b.finished_at, r.num_packages, r.num_projects, r.num_maintainers, r.num_newest, r.num_outdated
FROM (SELECT id, last_seq, finished_at FROM batches WHERE last_seq = $1 ORDER BY id DESC LIMIT 1) b
CROSS JOIN /* TEMPLATE: schema */repositories r
LEFT JOIN LATERAL (
    SELECT h.num_packages, h.num_projects, h.num_maintainers, h.num_newest, h.num_outdated
    FROM /* TEMPLATE: schema */repositories_history h
    WHERE h.repo_id = r.id ORDER BY h.seq DESC LIMIT 1
) l ON true
WHERE (l.num_packages, l.num_projects, l.num_maintainers, l.num_newest, l.num_outdated)
      IS DISTINCT FROM (r.num_packages, r.num_projects, r.num_maintainers, r.num_newest, r.num_outdated)
ON CONFLICT (repo_id, batch_id) DO NOTHING;

-- name: snapshots-statistics
-- The global statistics the same way.
INSERT INTO /* TEMPLATE: schema */statistics_history
    (batch_id, seq, at, num_packages, num_projects, num_maintainers, num_repos, num_links)
SELECT b.id, b.last_seq, b.finished_at, s.num_packages, s.num_projects, s.num_maintainers, s.num_repos, s.num_links
FROM (SELECT id, last_seq, finished_at FROM batches WHERE last_seq = $1 ORDER BY id DESC LIMIT 1) b
CROSS JOIN /* TEMPLATE: schema */statistics s
LEFT JOIN LATERAL (
    SELECT h.num_packages, h.num_projects, h.num_maintainers, h.num_repos, h.num_links
    FROM /* TEMPLATE: schema */statistics_history h ORDER BY h.seq DESC LIMIT 1
) l ON true
WHERE (l.num_packages, l.num_projects, l.num_maintainers, l.num_repos, l.num_links)
      IS DISTINCT FROM (s.num_packages, s.num_projects, s.num_maintainers, s.num_repos, s.num_links)
ON CONFLICT (batch_id) DO NOTHING;

-- name: freshness-window
-- Where the freshness window ends: the last batch the history projection
-- applied (what the history is a function of, so that a response is one
-- of the checkpoint), and the seq it applied up to. No row: no history.
SELECT b.finished_at, c.seq
FROM projection_checkpoints c
CROSS JOIN LATERAL (
    SELECT b.finished_at FROM batches b WHERE b.last_seq <= c.seq ORDER BY b.last_seq DESC LIMIT 1
) b
WHERE c.name = $1;

-- name: freshness-entries
-- The history of every project that got a new newest version in the
-- window ($1, $2] (by project_history_newest_at), up to seq $3, in seq
-- order (an event's new_newest entry after its own entry), read by
-- project_history_project: the window's projects, not all history. $4,
-- when set, keeps the projects of that maintainer; $5, those that
-- repository ever had.
WITH targets AS (
    SELECT DISTINCT h.project
    FROM public.project_history h
    WHERE h.kind = 'new_newest' AND h.at > $1 AND h.at <= $2 AND h.seq <= $3
      AND ($4::integer IS NULL OR EXISTS (
          SELECT 1 FROM public.project_maintainers pm WHERE pm.maintainer_id = $4 AND pm.project = h.project))
      AND ($5::integer IS NULL OR EXISTS (
          SELECT 1 FROM public.project_history x WHERE x.project = h.project AND x.repo_id = $5))
)
SELECT h.project, h.repo_id, h.kind, coalesce(h.new_version, ''), h.at
FROM targets p
JOIN public.project_history h ON h.project = p.project
WHERE h.seq <= $3 AND h.repo_id IS NOT NULL
ORDER BY h.project, h.seq, h.kind = 'new_newest';

-- name: freshness-maintainer-pairs
-- The (project, repository) pairs a maintainer maintains.
SELECT project, repo_id FROM public.project_maintainers WHERE maintainer_id = $1;

-- name: snapshots-repository-history
-- A repository's last $2 snapshot rows, newest first (the dashboard's
-- chart).
SELECT batch_id, at, num_packages, num_newest, num_outdated
FROM public.repositories_history WHERE repo_id = $1
ORDER BY seq DESC LIMIT $2;
