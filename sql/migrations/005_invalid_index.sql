-- An update whose snapshot has the repository's stored state checksum
-- changed nothing, unless packagesets of the repository were invalidated
-- (deltalog invalidate) and wait to be re-derived. This index answers that
-- question without reading the repository's packagesets; it holds only the
-- invalidated rows, so it stays empty in normal operation.
CREATE INDEX packagesets_invalid ON packagesets (repo_id) WHERE invalid;
