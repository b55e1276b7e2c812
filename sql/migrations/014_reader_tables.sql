-- The derived tables the read side serves, by name: the rebuild's event
-- trigger (migration 007) gives a table swapped in under one of these names
-- deltalog_reader's SELECT again. A migration adding a read table inserts
-- its name here and grants it; the trigger function no longer lists them.
CREATE TABLE reader_tables (
    name text PRIMARY KEY
);
INSERT INTO reader_tables (name) VALUES
    ('projects'), ('repositories'), ('maintainers'), ('maintainer_repositories'), ('project_maintainers'),
    ('project_repositories'), ('links'), ('project_links'), ('project_history'), ('statistics');

CREATE OR REPLACE FUNCTION deltalog_reader_regrant() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
    cmd record;
BEGIN
    FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands()
               WHERE object_type = 'table' AND schema_name NOT LIKE 'pg_temp%'
    LOOP
        IF EXISTS (SELECT FROM public.reader_tables WHERE name = split_part(cmd.object_identity, '.', 2)) THEN
            EXECUTE format('GRANT SELECT ON %s TO deltalog_reader', cmd.object_identity);
        END IF;
    END LOOP;
END
$$;

---- create above / drop below ----

CREATE OR REPLACE FUNCTION deltalog_reader_regrant() RETURNS event_trigger LANGUAGE plpgsql AS $$
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
DROP TABLE reader_tables;
