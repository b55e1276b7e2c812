-- Core state: repositories, current packagesets and packages, edit batches
-- and the append-only changelog. Derived tables live in later migrations.

-- repos is the registry of ingested repositories and their incrementally
-- kept state checksum (a wrapping sum of packageset contributions, stored as
-- the two's-complement bigint of the uint64). hash_seed and hash_version
-- record what the stored checksums were computed with, version_scheme how
-- version keys were: when configuration changes one of them, the next
-- update re-derives the whole repository.
CREATE TABLE repos (
    id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    state_checksum  bigint NOT NULL DEFAULT 0,
    num_packages    integer NOT NULL DEFAULT 0,
    num_packagesets integer NOT NULL DEFAULT 0,
    hash_seed       bigint NOT NULL,
    hash_version    integer NOT NULL,
    version_scheme  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- packagesets holds one row per (repository, project): the unit of change
-- detection. invalid marks a checksum that was forgotten by invalidation;
-- the next update re-emits the packageset whatever its checksum.
CREATE TABLE packagesets (
    repo_id      integer NOT NULL,
    project      text NOT NULL,
    checksum     bigint NOT NULL,
    num_packages integer NOT NULL,
    invalid      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (repo_id, project)
);

-- packages is the current content of every packageset, keyed by the
-- package's own checksum so that an unchanged package is never rewritten.
-- version_key is an order-preserving encoding of the version under the
-- repository's version scheme (internal/input/version.Key): comparing keys as
-- bytea compares versions, so "newest" is max(version_key) in plain SQL.
CREATE TABLE packages (
    repo_id     integer NOT NULL,
    project     text NOT NULL,
    checksum    bigint NOT NULL,
    name        text NOT NULL,
    version     text NOT NULL,
    version_key bytea NOT NULL,
    summary     text NOT NULL DEFAULT '',
    category    text NOT NULL DEFAULT '',
    maintainers jsonb NOT NULL DEFAULT '[]',
    links       jsonb NOT NULL DEFAULT '[]',
    extra       jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (repo_id, project, checksum)
);

-- batches records every update run that changed something (a run that
-- changes nothing writes nothing, not even a batch).
CREATE TABLE batches (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id               integer NOT NULL REFERENCES repos (id),
    kind                  text NOT NULL CHECK (kind IN ('update', 'invalidate')),
    files                 jsonb NOT NULL DEFAULT '[]',
    started_at            timestamptz NOT NULL,
    finished_at           timestamptz NOT NULL,
    hash_seed             bigint NOT NULL,
    hash_version          integer NOT NULL,
    version_scheme        text NOT NULL,
    first_seq             bigint NOT NULL,
    last_seq              bigint NOT NULL,
    counts                jsonb NOT NULL,
    reason                text,
    actor                 text,
    repo_state_checksum   bigint NOT NULL,
    global_state_checksum bigint NOT NULL
);
CREATE INDEX batches_last_seq ON batches (last_seq);

-- changelog is append-only and gap-free: seq values are dense (1, 2, 3 …)
-- and become visible in order, because every append takes the row lock on
-- changelog_head, allocates its range from it and holds the lock until
-- commit. A rolled back append returns its range with the lock.
CREATE TABLE changelog (
    seq          bigint PRIMARY KEY,
    batch_id     bigint NOT NULL,
    repo_id      integer NOT NULL,
    project      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('added', 'changed', 'removed', 'invalidated')),
    old_checksum bigint,
    new_checksum bigint,
    removed      jsonb NOT NULL DEFAULT '[]',
    added        jsonb NOT NULL DEFAULT '[]'
);

CREATE TABLE changelog_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq       bigint NOT NULL
);
INSERT INTO changelog_head (seq) VALUES (0);

---- create above / drop below ----

DROP TABLE changelog_head;
DROP TABLE changelog;
DROP TABLE batches;
DROP TABLE packages;
DROP TABLE packagesets;
DROP TABLE repos;
