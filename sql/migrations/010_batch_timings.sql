-- Where an update's time went (issue 14, the dashboard's time split):
-- reading and parsing the input, diffing it against the stored state, and
-- writing current state, events and the batch (up to the batch's own
-- insert: the commit that follows is not in it). Seconds; NULL for
-- batches written before this migration. A follower copies the leader's
-- figures.
ALTER TABLE batches
    ADD COLUMN parse_seconds double precision,
    ADD COLUMN diff_seconds  double precision,
    ADD COLUMN write_seconds double precision;

-- A repository's feed tells when one of its packages fell outdated: a
-- newer version turned up elsewhere (web query web-history-fell-outdated
-- walks these entries newest first).
CREATE INDEX project_history_new_newest ON project_history (seq) WHERE kind = 'new_newest';

---- create above / drop below ----

DROP INDEX project_history_new_newest;
ALTER TABLE batches
    DROP COLUMN parse_seconds,
    DROP COLUMN diff_seconds,
    DROP COLUMN write_seconds;
