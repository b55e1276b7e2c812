-- The emails and URLs of the packages the changelog removed (or replaced):
-- every email and URL it ever added that no current package carries any
-- more is among them. A catalog rebuilt from state creates their identity
-- rows from here (rebuild-identities-from-removed) and checks, in its
-- snapshot, that none is missing (rebuild-identities-missing).
CREATE VIEW changelog_removed_identities AS
SELECT x.kind, x.value
FROM changelog c
CROSS JOIN LATERAL jsonb_array_elements(c.removed) p
CROSS JOIN LATERAL (
    SELECT 'maintainer' AS kind, m ->> 'email' AS value FROM jsonb_array_elements(p -> 'maintainers') m
    UNION ALL
    SELECT 'link', l ->> 'url' FROM jsonb_array_elements(p -> 'links') l
) x
WHERE c.removed <> '[]'::jsonb;

---- create above / drop below ----

DROP VIEW changelog_removed_identities;
