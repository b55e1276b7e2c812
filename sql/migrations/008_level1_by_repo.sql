-- Level 1 of the catalog keyed by (project, repository): a changed
-- packageset re-derives the rows of its own (project, repository) only.

-- A project's newest version is the first entry of this index: found by one
-- probe, without reading the project's packages in every repository. It
-- replaces packages_project (its first column serves the same lookups).
CREATE INDEX packages_project_newest ON packages (project, version_key DESC, version DESC);
DROP INDEX packages_project;

-- project_links per (project, repository, link): how many packages of the
-- project in the repository carry the URL. Filled from the current
-- packages, and links' refcounts from it, so that the counters above agree
-- with the new rows.
CREATE TABLE project_links_by_repo (
    project  text NOT NULL,
    repo_id  integer NOT NULL,
    link_id  integer NOT NULL,
    refcount integer NOT NULL,
    PRIMARY KEY (project, repo_id, link_id)
);
INSERT INTO project_links_by_repo (project, repo_id, link_id, refcount)
SELECT p.project, p.repo_id, l.id, count(*)::integer
FROM packages p
CROSS JOIN LATERAL (SELECT DISTINCT e ->> 'url' AS url FROM jsonb_array_elements(p.links) e) pl
JOIN links l ON l.url = pl.url
GROUP BY 1, 2, 3;
DROP TABLE project_links;
ALTER TABLE project_links_by_repo RENAME TO project_links;
ALTER INDEX project_links_by_repo_pkey RENAME TO project_links_pkey;
CREATE INDEX project_links_link ON project_links (link_id);
ALTER TABLE project_links SET (fillfactor = 85);
-- The read side's role (migration 007) reads the new table too.
GRANT SELECT ON project_links TO deltalog_reader;
UPDATE links l
SET refcount = coalesce(s.refcount, 0),
    orphaned_at = CASE WHEN s.refcount IS NULL THEN coalesce(l.orphaned_at, now()) END
FROM links x LEFT JOIN (SELECT link_id, sum(refcount)::integer AS refcount FROM project_links GROUP BY 1) s ON s.link_id = x.id
WHERE l.id = x.id AND (l.refcount, l.orphaned) IS DISTINCT FROM (coalesce(s.refcount, 0), s.refcount IS NULL);
UPDATE statistics SET num_links = (SELECT count(*) FROM links WHERE NOT orphaned);

---- create above / drop below ----

CREATE TABLE project_links_by_project (
    project  text NOT NULL,
    link_id  integer NOT NULL,
    refcount integer NOT NULL,
    PRIMARY KEY (project, link_id)
);
INSERT INTO project_links_by_project SELECT project, link_id, sum(refcount)::integer FROM project_links GROUP BY 1, 2;
DROP TABLE project_links;
ALTER TABLE project_links_by_project RENAME TO project_links;
ALTER INDEX project_links_by_project_pkey RENAME TO project_links_pkey;
CREATE INDEX project_links_link ON project_links (link_id);
ALTER TABLE project_links SET (fillfactor = 85);
CREATE INDEX packages_project ON packages (project);
DROP INDEX packages_project_newest;
