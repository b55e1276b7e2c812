-- Projections: derived tables kept from the changelog by workers, their
-- checkpoints and dead letters. See projections/doc.go for how each table
-- is derived; the expected-rows queries in queries/catalog.sql are the
-- definitions, shared by the delta path, the audit and rebuilds.

-- Derived tables look packages up by project, across repositories.
CREATE INDEX packages_project ON packages (project);

-- One row per projection. seq is the last changelog seq applied, committed
-- in the same transaction as the projection's writes.
CREATE TABLE projection_checkpoints (
    name        text PRIMARY KEY,
    seq         bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    failed_at   timestamptz,
    error       text,
    cache_stats jsonb NOT NULL DEFAULT '{}'
);

-- A page a projection could not apply after its retries. The projection
-- stops there (it never skips); resolving the cause and restarting the
-- worker retries the page.
CREATE TABLE projection_dead_letters (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    projection text NOT NULL,
    from_seq   bigint NOT NULL,
    to_seq     bigint NOT NULL,
    error      text NOT NULL,
    attempts   integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- ---- catalog projection ----

-- Per (project, repository): the finest grain, recomputed per touched project.
CREATE TABLE project_repositories (
    project      text NOT NULL,
    repo_id      integer NOT NULL,
    num_packages integer NOT NULL,
    num_newest   integer NOT NULL,
    num_outdated integer NOT NULL,
    best_version text NOT NULL,
    PRIMARY KEY (project, repo_id)
);
CREATE INDEX project_repositories_repo ON project_repositories (repo_id);

-- Maintainers are identified by email. Rows are never deleted: when the last
-- package goes they are zeroed and orphaned_at is set; they come back to
-- life if a package returns.
CREATE TABLE maintainers (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email        text NOT NULL UNIQUE,
    name         text NOT NULL DEFAULT '',
    num_packages integer NOT NULL DEFAULT 0,
    num_projects integer NOT NULL DEFAULT 0,
    num_repos    integer NOT NULL DEFAULT 0,
    num_newest   integer NOT NULL DEFAULT 0,
    num_outdated integer NOT NULL DEFAULT 0,
    repo_counts  jsonb NOT NULL DEFAULT '{}',
    first_seen   timestamptz NOT NULL DEFAULT now(),
    orphaned_at  timestamptz,
    orphaned boolean GENERATED ALWAYS AS (orphaned_at IS NOT NULL) STORED
);

-- Per (project, maintainer, repository), with reference counts: what makes
-- a maintainer's distinct projects and repositories additive.
CREATE TABLE project_maintainers (
    project       text NOT NULL,
    maintainer_id integer NOT NULL,
    repo_id       integer NOT NULL,
    name          text NOT NULL,
    num_packages  integer NOT NULL,
    num_newest    integer NOT NULL,
    num_outdated  integer NOT NULL,
    PRIMARY KEY (project, maintainer_id, repo_id)
);
CREATE INDEX project_maintainers_maintainer ON project_maintainers (maintainer_id, repo_id);

CREATE TABLE maintainer_repositories (
    maintainer_id integer NOT NULL,
    repo_id       integer NOT NULL,
    num_packages  integer NOT NULL,
    num_projects  integer NOT NULL,
    num_newest    integer NOT NULL,
    num_outdated  integer NOT NULL,
    PRIMARY KEY (maintainer_id, repo_id)
);
CREATE INDEX maintainer_repositories_repo ON maintainer_repositories (repo_id);

CREATE TABLE links (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         text NOT NULL UNIQUE,
    refcount    integer NOT NULL DEFAULT 0,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    orphaned_at timestamptz,
    orphaned boolean GENERATED ALWAYS AS (orphaned_at IS NOT NULL) STORED
);

-- Per (project, link): how many packages of the project carry the URL.
CREATE TABLE project_links (
    project  text NOT NULL,
    link_id  integer NOT NULL,
    refcount integer NOT NULL,
    PRIMARY KEY (project, link_id)
);
CREATE INDEX project_links_link ON project_links (link_id);

-- num_updates counts the repositories whose packages of the project are all
-- outdated: the repositories that have an update to make.
CREATE TABLE projects (
    name           text PRIMARY KEY,
    num_repos      integer NOT NULL,
    num_packages   integer NOT NULL,
    newest_version text NOT NULL,
    newest_key     bytea NOT NULL,
    num_updates    integer NOT NULL,
    first_seen     timestamptz NOT NULL DEFAULT now(),
    orphaned_at    timestamptz,
    orphaned boolean GENERATED ALWAYS AS (orphaned_at IS NOT NULL) STORED
);

-- Kept by counter deltas (a repository's totals are never re-aggregated on
-- the delta path: that would cost the repository's size, not the change's).
CREATE TABLE repositories (
    id              integer PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    num_packages    integer NOT NULL DEFAULT 0,
    num_projects    integer NOT NULL DEFAULT 0,
    num_maintainers integer NOT NULL DEFAULT 0,
    num_newest      integer NOT NULL DEFAULT 0,
    num_outdated    integer NOT NULL DEFAULT 0,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_updated    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE statistics (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    num_packages    bigint NOT NULL DEFAULT 0,
    num_projects    bigint NOT NULL DEFAULT 0,
    num_maintainers bigint NOT NULL DEFAULT 0,
    num_repos       integer NOT NULL DEFAULT 0,
    num_links       bigint NOT NULL DEFAULT 0
);
INSERT INTO statistics DEFAULT VALUES;

-- Each package's status, from its project's newest version across all
-- repositories.
CREATE VIEW package_statuses AS
SELECT p.repo_id, p.project, p.checksum, p.name, p.version,
       CASE WHEN p.version_key = pr.newest_key THEN 'newest' ELSE 'outdated' END AS status
FROM packages p
JOIN projects pr ON pr.name = p.project;

-- ---- history projection ----

-- The versions present per (project, repository), kept from events alone so
-- that history is attributed to the exact event that caused it.
CREATE TABLE history_versions (
    project     text NOT NULL,
    repo_id     integer NOT NULL,
    version     text NOT NULL,
    version_key bytea NOT NULL,
    count       integer NOT NULL,
    PRIMARY KEY (project, repo_id, version)
);

CREATE TABLE project_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project     text NOT NULL,
    repo_id     integer,
    seq         bigint NOT NULL,
    batch_id    bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('added', 'removed', 'version_update', 'new_newest')),
    old_version text,
    new_version text,
    at          timestamptz NOT NULL
);
CREATE INDEX project_history_project ON project_history (project, seq);

-- Derived rows are updated in place page after page: leave room on each
-- page so that updates stay HOT (no index maintenance) after bulk loads.
ALTER TABLE project_repositories SET (fillfactor = 85);
ALTER TABLE project_maintainers SET (fillfactor = 85);
ALTER TABLE project_links SET (fillfactor = 85);
ALTER TABLE maintainer_repositories SET (fillfactor = 85);
ALTER TABLE projects SET (fillfactor = 85);
ALTER TABLE maintainers SET (fillfactor = 85);
ALTER TABLE links SET (fillfactor = 85);
ALTER TABLE repositories SET (fillfactor = 50);
ALTER TABLE history_versions SET (fillfactor = 85);

---- create above / drop below ----

DROP TABLE project_history;
DROP TABLE history_versions;
DROP VIEW package_statuses;
DROP TABLE statistics;
DROP TABLE repositories;
DROP TABLE projects;
DROP TABLE project_links;
DROP TABLE links;
DROP TABLE maintainer_repositories;
DROP TABLE project_maintainers;
DROP TABLE maintainers;
DROP TABLE project_repositories;
DROP TABLE projection_dead_letters;
DROP TABLE projection_checkpoints;
DROP INDEX packages_project;
