-- The read side (package web): every query the API, the feeds and the
-- dashboard run, all of them reads of tables deltalog_reader may SELECT.
-- The dynamic /api/v1/projects filter is the one exception: web/list.go
-- builds it with squirrel.

-- name: web-checkpoint
-- What every response is a function of: the changelog head (the current
-- state, packages) and the checkpoints of the projections (the derived
-- tables). $1, $2: the catalog and history projection names.
SELECT (SELECT seq FROM changelog_head),
       coalesce((SELECT seq FROM projection_checkpoints WHERE name = $1), 0),
       coalesce((SELECT seq FROM projection_checkpoints WHERE name = $2), 0);

-- name: web-project
SELECT name, num_repos, num_packages, newest_version, num_updates, first_seen
FROM public.projects
WHERE name = $1 AND NOT orphaned;

-- name: web-project-packages
-- The project and its packages in one round trip (no package: one row of
-- NULLs). A package is newest when its version key is the project's newest
-- across repositories (the package_statuses view's rule).
SELECT pr.name, pr.num_repos, pr.num_packages, pr.newest_version, pr.num_updates, pr.first_seen,
       r.name, p.name, p.version,
       CASE WHEN p.version_key = pr.newest_key THEN 'newest' ELSE 'outdated' END,
       p.summary, p.category, p.maintainers, p.links
FROM public.projects pr
LEFT JOIN (packages p JOIN public.repositories r ON r.id = p.repo_id) ON p.project = pr.name
WHERE pr.name = $1 AND NOT pr.orphaned
ORDER BY r.name, p.name, p.version;

-- name: web-repository
SELECT id, name, num_packages, num_projects, num_maintainers, num_newest, num_outdated, first_seen, last_updated
FROM public.repositories
WHERE name = $1;

-- name: web-repositories
SELECT id, name, num_packages, num_projects, num_maintainers, num_newest, num_outdated, first_seen, last_updated
FROM public.repositories
ORDER BY name;

-- name: web-maintainer
SELECT id, email, name, num_packages, num_projects, num_repos, num_newest, num_outdated, first_seen, orphaned_at
FROM public.maintainers
WHERE email = $1;

-- name: web-maintainer-repositories
SELECT r.name, mr.num_packages, mr.num_projects, mr.num_newest, mr.num_outdated
FROM public.maintainer_repositories mr
JOIN public.repositories r ON r.id = mr.repo_id
WHERE mr.maintainer_id = $1
ORDER BY r.name;

-- name: web-maintainer-projects
-- A page of a maintainer's projects in name order, after $2.
SELECT DISTINCT project
FROM public.project_maintainers
WHERE maintainer_id = $1 AND project > $2
ORDER BY project
LIMIT $3;

-- name: web-history
-- A project's history, newest first, below seq $2.
SELECT h.seq, h.project, h.kind, coalesce(r.name, ''), h.old_version, h.new_version, h.at, NULL::text
FROM public.project_history h
LEFT JOIN public.repositories r ON r.id = h.repo_id
WHERE h.project = $1 AND h.seq < $2
ORDER BY h.seq DESC, h.kind
LIMIT $3;

-- name: web-history-maintainer
-- The history of a maintainer's projects, newest first.
SELECT h.seq, h.project, h.kind, coalesce(r.name, ''), h.old_version, h.new_version, h.at, NULL::text
FROM public.project_history h
LEFT JOIN public.repositories r ON r.id = h.repo_id
WHERE h.project IN (SELECT project FROM public.project_maintainers WHERE maintainer_id = $1) AND h.seq < $2
ORDER BY h.seq DESC, h.kind
LIMIT $3;

-- name: web-history-repository
-- A repository's history, newest first: its own entries, and the moments
-- one of its packages fell outdated (kind fell_outdated, not stored: read
-- from the history itself, so it is the same on every poll and follower).
-- A package fell outdated when another repository brought a new newest
-- version while this repository's version, by its own latest entry for
-- the project before that moment, was the newest one it replaced. The
-- newest-version changes are looked up among the catalog's last 100 ×
-- limit of them (a bounded scan of project_history_new_newest, then one
-- probe of project_history_project each).
(SELECT h.seq, h.project, h.kind, r.name, h.old_version, h.new_version, h.at, NULL::text
 FROM public.project_history h
 JOIN public.repositories r ON r.id = h.repo_id
 WHERE h.repo_id = $1 AND h.seq < $2
 ORDER BY h.seq DESC, h.kind
 LIMIT $3)
UNION ALL
(SELECT n.seq, n.project, 'fell_outdated', r.name, mine.new_version, n.new_version, n.at, src.name
 FROM (SELECT seq, project, repo_id, old_version, new_version, at
       FROM public.project_history
       WHERE kind = 'new_newest' AND seq < $2
       ORDER BY seq DESC
       LIMIT $3 * 100) n
 CROSS JOIN LATERAL (
     SELECT e.kind, e.new_version
     FROM public.project_history e
     WHERE e.project = n.project AND e.repo_id = $1 AND e.seq < n.seq
       AND e.kind IN ('added', 'removed', 'version_update')
     ORDER BY e.seq DESC
     LIMIT 1) mine
 JOIN public.repositories r ON r.id = $1
 JOIN public.repositories src ON src.id = n.repo_id
 WHERE n.repo_id <> $1 AND mine.kind <> 'removed' AND mine.new_version = n.old_version
 ORDER BY n.seq DESC
 LIMIT $3)
ORDER BY 1 DESC, 3
LIMIT $3;

-- name: web-statistics
SELECT num_packages, num_projects, num_maintainers, num_repos, num_links
FROM public.statistics;

-- name: web-batches
-- The last batches, newest first.
SELECT b.id, coalesce(r.name, '#' || b.repo_id), b.kind, b.started_at, b.finished_at,
       b.first_seq, b.last_seq, b.counts, b.parse_seconds, b.diff_seconds, b.write_seconds
FROM batches b
LEFT JOIN public.repositories r ON r.id = b.repo_id
ORDER BY b.id DESC
LIMIT $1;

-- name: web-audit-runs
SELECT id, started_at, finished_at, head_seq, outcome, source, actor
FROM audit_runs
ORDER BY id DESC
LIMIT $1;

-- name: web-relation-sizes
-- PostgreSQL's own statistics: the largest tables and indexes of the
-- schema (sizes need no privilege on the relation).
SELECT c.relname, CASE c.relkind WHEN 'i' THEN 'index' ELSE 'table' END,
       pg_total_relation_size(c.oid), greatest(c.reltuples, 0)::bigint
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')
ORDER BY pg_total_relation_size(c.oid) DESC, c.relname
LIMIT $1;
