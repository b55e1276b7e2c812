-- An update whose snapshot has the repository's stored state checksum
-- changed nothing, unless packagesets of the repository were invalidated
-- (deltalog invalidate) and wait to be re-derived. This index answers that
-- question without reading the repository's packagesets; it holds only the
-- invalidated rows, so it stays empty in normal operation.
CREATE INDEX packagesets_invalid ON packagesets (repo_id) WHERE invalid;

-- The level-1 catalog definitions find maintainer and link ids by their
-- natural keys through these views. A delta page shadows them in pg_temp
-- (like packages) with just the emails and URLs its packages carry: joined
-- to the whole tables, the planner, which expects a hundred elements from
-- every jsonb_array_elements call, hashes all of maintainers and links for
-- a page of a few hundred packages.
CREATE VIEW maintainer_ids AS SELECT email, id FROM maintainers;
CREATE VIEW link_ids AS SELECT url, id FROM links;
