-- The search filter's trigram index on projects.name (migration 007) also
-- answers `name = …`, and the planner costs it below the primary key: the
-- catalog's lookups of projects by name (a page's o_projects, its UPDATE)
-- then probed the trigram index, ~2.6 ms a name instead of a few µs —
-- 18.5 s for a 1 % delta's 7,000 projects at 1M packages. An index on
-- lower(name) serves the (case-insensitive) substring search and cannot
-- serve an equality on name.
DROP INDEX projects_name_trgm;
CREATE INDEX projects_search_trgm ON projects USING gin (lower(name) gin_trgm_ops);

---- create above / drop below ----

DROP INDEX projects_search_trgm;
CREATE INDEX projects_name_trgm ON projects USING gin (name gin_trgm_ops);
