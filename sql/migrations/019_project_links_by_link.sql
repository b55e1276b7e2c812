-- project_links by link and then project: whether a link is carried by a
-- project other than a given one (the homepage_shared problem) walks the
-- link's rows in the index alone instead of fetching each row from the
-- table to read its project (a homepage carried in hundreds of repositories
-- is hundreds of rows). It answers every lookup the index on link_id alone
-- answered.
DROP INDEX project_links_link;
CREATE INDEX project_links_link ON project_links (link_id, project);

---- create above / drop below ----

DROP INDEX project_links_link;
CREATE INDEX project_links_link ON project_links (link_id);
