-- project_links by link and then project: whether a link is carried by a
-- project other than a given one (the homepage_shared problem) is two
-- probes of this index (a project before it, a project after it) instead
-- of a walk over every row of the link, which for a homepage carried in
-- hundreds of repositories is hundreds of rows of the same project. It
-- answers every lookup the index on link_id alone answered.
DROP INDEX project_links_link;
CREATE INDEX project_links_link ON project_links (link_id, project);

---- create above / drop below ----

DROP INDEX project_links_link;
CREATE INDEX project_links_link ON project_links (link_id);
