-- Bucketed repository state (issue 12): an update whose repository state
-- checksum differs reads the stored checksums only of the buckets whose
-- state differs, not all of the repository's packagesets.
--
-- bucket is a 16-bit prefix of the md5 of the project (changelog.Bucket
-- computes the same in Go). A generated column, so that every writer of
-- packagesets (the updater, followers, the audit's repair) stores it right
-- without saying so, and adding it computes it for the rows there are:
-- that is the backfill.
ALTER TABLE packagesets
    ADD COLUMN bucket integer NOT NULL GENERATED ALWAYS AS (('x' || left(md5(project), 4))::bit(16)::integer) STORED;
-- The index carries what the diff reads, so that a bucket's range is an
-- index-only scan: the rows of one bucket lie on as many heap pages as
-- they are rows (they are stored in input order), and a 0.1 % change of a
-- large repository reads one bucket in a hundred.
CREATE INDEX packagesets_bucket ON packagesets (repo_id, bucket) INCLUDE (project, checksum, invalid);

-- bucket_states holds a repository's state checksum split by bucket:
-- element g (1-based in SQL, g-1 in Go) is the wrapping sum of the
-- contributions of the packagesets whose bucket's top log2(length) bits
-- are g-1, so the elements sum to state_checksum. The length is a power of
-- two chosen by the repository's size (about eight packagesets a group);
-- it may lag the size by a factor of four before the updater re-splits.
-- Contributions are xxhash sums SQL cannot compute: existing repositories
-- start with none ('{}'), and their next changing update, which then reads
-- every stored checksum as all updates did before, computes them.
ALTER TABLE repos ADD COLUMN bucket_states bigint[] NOT NULL DEFAULT '{}';

-- An update from byte-identical files compares them with its repository's
-- last batch (changelog query repo-last-input).
CREATE INDEX batches_repo ON batches (repo_id, id);

---- create above / drop below ----

DROP INDEX batches_repo;
ALTER TABLE repos DROP COLUMN bucket_states;
DROP INDEX packagesets_bucket;
ALTER TABLE packagesets DROP COLUMN bucket;
