-- One repository's events in seq order (GET /changelog?repo=R, streams
-- and tail filtered by repository): an index range scan that stops at the
-- page's limit, however few of the changelog's events are the
-- repository's, instead of a scan of the whole changelog.
CREATE INDEX changelog_repo_seq ON changelog (repo_id, seq);

---- create above / drop below ----

DROP INDEX changelog_repo_seq;
