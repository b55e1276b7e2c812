-- Categories, freshness and history snapshots (issue 15).

-- Categories: the repositories' classification of their packages
-- (packages.category: Debian's Section), the empty category left out.
-- project_categories is level 1 (keyed by the (project, repository) pairs
-- in scope); category_projects and repository_categories move by its
-- counter differences on the delta path.
CREATE TABLE project_categories (
    project      text NOT NULL,
    repo_id      integer NOT NULL,
    category     text NOT NULL,
    num_packages integer NOT NULL,
    PRIMARY KEY (project, repo_id, category)
);

-- refcount: the project's packages in the category, across repositories.
CREATE TABLE category_projects (
    category text NOT NULL,
    project  text NOT NULL,
    refcount integer NOT NULL,
    PRIMARY KEY (category, project)
);
CREATE INDEX category_projects_project ON category_projects (project);

CREATE TABLE repository_categories (
    repo_id      integer NOT NULL,
    category     text NOT NULL,
    num_projects integer NOT NULL,
    num_packages integer NOT NULL,
    PRIMARY KEY (repo_id, category)
);

ALTER TABLE project_categories SET (fillfactor = 85);
ALTER TABLE category_projects SET (fillfactor = 85);
ALTER TABLE repository_categories SET (fillfactor = 50);

-- History snapshots: a repository's row and the global statistics as a
-- page that ended batch_id left them (see projections/snapshots.go), one
-- row per such batch, a row equal to the one before it not written.
-- seq is the last seq of the page that wrote the row: rows are ordered
-- by it. Written by the catalog's live worker only: a rebuild neither
-- writes nor replaces them.
CREATE TABLE repositories_history (
    repo_id         integer NOT NULL,
    batch_id        bigint NOT NULL,
    seq             bigint NOT NULL,
    at              timestamptz NOT NULL,
    num_packages    integer NOT NULL,
    num_projects    integer NOT NULL,
    num_maintainers integer NOT NULL,
    num_newest      integer NOT NULL,
    num_outdated    integer NOT NULL,
    PRIMARY KEY (repo_id, batch_id)
);
CREATE INDEX repositories_history_seq ON repositories_history (repo_id, seq);

CREATE TABLE statistics_history (
    batch_id        bigint PRIMARY KEY,
    seq             bigint NOT NULL,
    at              timestamptz NOT NULL,
    num_packages    bigint NOT NULL,
    num_projects    bigint NOT NULL,
    num_maintainers bigint NOT NULL,
    num_repos       integer NOT NULL,
    num_links       bigint NOT NULL
);
CREATE INDEX statistics_history_seq ON statistics_history (seq);

-- Freshness reads the new newest versions of a window of days by time,
-- then the history of their projects by project_history_project.
CREATE INDEX project_history_newest_at ON project_history (at) WHERE kind = 'new_newest';

INSERT INTO reader_tables (name) VALUES
    ('project_categories'), ('category_projects'), ('repository_categories'),
    ('repositories_history'), ('statistics_history');
GRANT SELECT ON project_categories, category_projects, repository_categories,
    repositories_history, statistics_history TO deltalog_reader;
-- Freshness compares versions of different repositories by their keys,
-- computed under each repository's scheme.
GRANT SELECT (id, name, version_scheme) ON repos TO deltalog_reader;

---- create above / drop below ----

REVOKE SELECT (id, name, version_scheme) ON repos FROM deltalog_reader;

DELETE FROM reader_tables WHERE name IN ('project_categories', 'category_projects', 'repository_categories',
    'repositories_history', 'statistics_history');
DROP INDEX project_history_newest_at;
DROP TABLE statistics_history;
DROP TABLE repositories_history;
DROP TABLE repository_categories;
DROP TABLE category_projects;
DROP TABLE project_categories;
