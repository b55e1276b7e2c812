-- The read side (package web): a role that may only read what it serves,
-- and the indexes its filters and feeds need.

-- deltalog_reader holds SELECT on the tables the API, the feeds and the
-- dashboard read, and nothing else: not the changelog, the packagesets or
-- any writer's bookkeeping. `deltalog serve` runs its read side under it
-- (startup parameter role=deltalog_reader; an operator may also log in as
-- it directly). Roles belong to the cluster, not the database: several
-- databases of one cluster share it, so it is created only if missing and
-- never dropped here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'deltalog_reader') THEN
        CREATE ROLE deltalog_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
    -- The migrating role must be able to take the role (a superuser can
    -- anyway; granting a role to itself is an error).
    IF current_user <> 'deltalog_reader' AND NOT EXISTS (
        SELECT FROM pg_roles WHERE rolname = current_user AND rolsuper) THEN
        EXECUTE format('GRANT deltalog_reader TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO deltalog_reader;
GRANT SELECT ON
    projects, packages, package_statuses, repositories, maintainers,
    maintainer_repositories, project_maintainers, project_repositories,
    links, project_links, project_history, statistics,
    changelog_head, projection_checkpoints, batches, audit_runs
TO deltalog_reader;

-- A rebuild builds a projection's tables anew in a shadow schema and
-- swaps them in: the new tables would carry no grant. This trigger gives
-- every table created or moved under one of the read tables' names the
-- role's SELECT again (in a shadow schema it gives nothing: the role may
-- not use that schema). Event triggers need a superuser; without one the
-- migration says so, and the grants must be renewed after each rebuild.
CREATE FUNCTION deltalog_reader_regrant() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
    cmd record;
BEGIN
    FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands()
               WHERE object_type = 'table' AND schema_name NOT LIKE 'pg_temp%'
    LOOP
        IF split_part(cmd.object_identity, '.', 2) IN (
            'projects', 'repositories', 'maintainers', 'maintainer_repositories', 'project_maintainers',
            'project_repositories', 'links', 'project_links', 'project_history', 'statistics') THEN
            EXECUTE format('GRANT SELECT ON %s TO deltalog_reader', cmd.object_identity);
        END IF;
    END LOOP;
END
$$;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = current_user AND rolsuper) THEN
        CREATE EVENT TRIGGER deltalog_reader_regrant ON ddl_command_end
            WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
            EXECUTE FUNCTION deltalog_reader_regrant();
    ELSE
        RAISE NOTICE 'deltalog: not a superuser, so no event trigger: after a rebuild, run the GRANT of migration 007 again';
    END IF;
END
$$;

-- ?search=S (a substring of the name): trigrams, so that a rare substring
-- does not walk the whole name index. pg_trgm is a trusted extension of
-- PostgreSQL's contrib.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX projects_name_trgm ON projects USING gin (name gin_trgm_ops);

-- /api/v1/projects?inrepo=R, ?newest=R: the projects of a repository in
-- name order, so that a keyset page reads only its own rows.
CREATE INDEX project_repositories_repo_project ON project_repositories (repo_id, project);
-- ?outdated=R: the projects a repository has only outdated packages of.
CREATE INDEX project_repositories_outdated ON project_repositories (repo_id, project) WHERE num_newest = 0;
-- ?min_repos / ?max_repos.
CREATE INDEX projects_num_repos ON projects (num_repos, name);
-- ?maintainer=E and the maintainer's project list, in name order.
CREATE INDEX project_maintainers_maintainer_project ON project_maintainers (maintainer_id, project);
-- Repository feeds: a repository's history, newest first.
CREATE INDEX project_history_repo ON project_history (repo_id, seq);

---- create above / drop below ----

DROP EVENT TRIGGER IF EXISTS deltalog_reader_regrant;
DROP FUNCTION deltalog_reader_regrant();

DROP INDEX project_history_repo;
DROP INDEX project_maintainers_maintainer_project;
DROP INDEX projects_num_repos;
DROP INDEX projects_name_trgm;
DROP INDEX project_repositories_outdated;
DROP INDEX project_repositories_repo_project;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM deltalog_reader;
REVOKE USAGE ON SCHEMA public FROM deltalog_reader;
