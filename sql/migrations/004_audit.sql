-- Consistency audits and checksum invalidations (issue 4). Rebuilds need no
-- table of their own: they build into a schema of their own
-- (deltalog_rebuild_<projection>) and swap the tables into public.

-- One row per audit run: the head it saw, its outcome and the whole report
-- (per check: rows compared, missing, extra, differing, samples, and what a
-- repair changed). `deltalog status` shows the last one.
CREATE TABLE audit_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    head_seq    bigint NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('consistent', 'inconsistent', 'repaired', 'incomplete')),
    source      text NOT NULL,
    actor       text NOT NULL,
    report      jsonb NOT NULL
);

-- An invalidation forgets the stored checksums of the packagesets in its
-- scope (packagesets.invalid). The next update of the repository re-states
-- them as `invalidated` events and claims the row (batch_id): reason, scope,
-- actor and time stay with the batch that carried them, whose reason and
-- actor columns repeat them. One row per repository in scope. (The foreign
-- key is checked at commit: the update claims the rows before it inserts the
-- batch whose reason it composes from them.)
CREATE TABLE invalidations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id     integer NOT NULL REFERENCES repos (id),
    scope       text NOT NULL CHECK (scope IN ('all', 'repo', 'project', 'packageset', 'audit')),
    project     text,
    reason      text NOT NULL,
    actor       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    packagesets integer NOT NULL,
    batch_id    bigint REFERENCES batches (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX invalidations_pending ON invalidations (repo_id) WHERE batch_id IS NULL;

---- create above / drop below ----

DROP TABLE invalidations;
DROP TABLE audit_runs;
