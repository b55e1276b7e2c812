-- The newest version of a project in history_versions, by the fold's
-- order (key, then spelling): the history projection reads the top of the
-- project's untouched repositories with one probe (history-load,
-- history-bulk) instead of every version of the project in every
-- repository.
CREATE INDEX history_versions_project_newest
    ON history_versions (project, version_key DESC, version COLLATE "C" DESC);

---- create above / drop below ----

DROP INDEX history_versions_project_newest;
