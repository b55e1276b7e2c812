-- Related projects (projects sharing a normalized homepage or repository
-- URL) and redirects (a package that moved from one project to another).

-- normalize_url is THE normalization of a URL for relations: the scheme
-- ("https://", "git+ssh://", …) and a leading "www." dropped, the host
-- lower-cased, trailing slashes and ".git" dropped from the rest (which
-- keeps its case: paths are case-sensitive). One SQL definition; the links
-- keep its value in a generated column (below), which the catalog's
-- definitions, its delta path and the audit read. TestNormalizeURL checks
-- it on tricky URLs.
CREATE FUNCTION normalize_url(url text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT regexp_replace(lower(substring(s.u FROM '^[^/?#]*')), '^www\.', '')
    || regexp_replace(substring(s.u FROM '^[^/?#]*(.*)$'), '(/|\.git)+$', '')
FROM (SELECT regexp_replace(btrim($1), '^[A-Za-z][A-Za-z0-9+.-]*://', '') AS u) s
$$;

-- Each link's normalized URL, computed once when the link is created (its
-- URL never changes): the regular expressions cost ~10 µs a URL, too much
-- to evaluate per joined row of a whole catalog. Indexed: the delta path
-- finds the links of a normalized URL through it.
ALTER TABLE links ADD COLUMN normalized_url text GENERATED ALWAYS AS (normalize_url(url)) STORED;
CREATE INDEX links_normalized ON links (normalized_url);

-- related_url_cap: a normalized URL carried by more projects than this
-- (a forge's front page, an organization's shared homepage) relates
-- nobody: otherwise its projects would all be related to each other, a
-- table quadratic in their number, and every change of one of them would
-- re-derive them all.
CREATE FUNCTION related_url_cap() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 20 $$;

-- related_urls: per normalized URL, how many projects carry it (through
-- any of its links, in any repository). A URL of more than the cap's
-- projects relates nobody (see expect-project-related).
CREATE TABLE related_urls (
    url          text PRIMARY KEY,
    num_projects integer NOT NULL
);

-- project_related: both directions of every relation; weight is the
-- number of normalized URLs (under the cap) the two projects share.
CREATE TABLE project_related (
    project text NOT NULL,
    related text NOT NULL,
    weight  integer NOT NULL,
    PRIMARY KEY (project, related)
);

-- project_redirects (history projection): a batch removed a package
-- (repository + name) from old_project and added it to new_project; seq is
-- the later of the two events. Lookups of the old name follow it.
CREATE TABLE project_redirects (
    seq         bigint NOT NULL,
    old_project text NOT NULL,
    new_project text NOT NULL,
    repo_id     integer NOT NULL,
    batch_id    bigint NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (seq, old_project, new_project)
);
CREATE INDEX project_redirects_old ON project_redirects (old_project, seq);

INSERT INTO reader_tables (name) VALUES ('related_urls'), ('project_related'), ('project_redirects');
GRANT SELECT ON related_urls, project_related, project_redirects TO deltalog_reader;

---- create above / drop below ----

DELETE FROM reader_tables WHERE name IN ('related_urls', 'project_related', 'project_redirects');
DROP TABLE project_redirects;
DROP TABLE project_related;
DROP TABLE related_urls;
DROP INDEX links_normalized;
ALTER TABLE links DROP COLUMN normalized_url;
DROP FUNCTION related_url_cap();
DROP FUNCTION normalize_url(text);
