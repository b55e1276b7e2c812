-- Problems (issue 15): per package, the checks a catalog reports to its
-- maintainers, kept by the catalog projection (projections/problems.go;
-- the definition is expect-problems in queries/problems.sql).

-- version_parses is whether a version parses under a repository's version
-- scheme: dpkg's syntax for Debian (what dpkg --validate-version accepts:
-- errors and warnings alike), PEP 440 for PyPI, Semantic Versioning for
-- semver (npm its alias); the generic scheme has no syntax. It is the
-- definition of the version_unparsed problem, the same as version.Parses
-- in Go (a test holds them together against dpkg and over fuzzed input).
-- Go's strings.TrimSpace trims Unicode white space: problem_trim does the same.
-- None of these functions is STRICT: PostgreSQL inlines a SQL function
-- into the query that calls it only if it is not, or if its body is
-- strict too (CASE, AND, OR are not), and a call that is not inlined
-- costs ten times the work.
CREATE FUNCTION problem_trim(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN btrim(v, E' \t\n\x0b\f\r' || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194)
    || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202)
    || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288));

-- dpkg's epoch is read by C's strtol (leading white space, a sign) and must
-- lie in [0, INT_MAX].
CREATE FUNCTION problem_debian_epoch(e text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN e !~ '^[ \t\n\x0b\f\r]*[+-]?[0-9]+$' THEN false
            ELSE ltrim(substring(e FROM '[0-9]+$'), '0') = ''
              OR (e !~ '-' AND (length(ltrim(substring(e FROM '[0-9]+$'), '0')) < 10
                  OR (length(ltrim(substring(e FROM '[0-9]+$'), '0')) = 10
                      AND ltrim(substring(e FROM '[0-9]+$'), '0') <= '2147483647' COLLATE "C")))
       END;

CREATE FUNCTION problem_debian_parses(v text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN btrim(v, E' \t') <> '' AND btrim(v, E' \t') !~ '[ \t]'
   AND CASE WHEN strpos(btrim(v, E' \t'), ':') > 0
            THEN problem_debian_epoch(split_part(btrim(v, E' \t'), ':', 1))
             AND substr(btrim(v, E' \t'), strpos(btrim(v, E' \t'), ':') + 1)
                 ~ '^[0-9]([A-Za-z0-9.+~:-]*-[A-Za-z0-9.+~]+|[A-Za-z0-9.+~:]*)$'
            ELSE btrim(v, E' \t') ~ '^[0-9]([A-Za-z0-9.+~:-]*-[A-Za-z0-9.+~]+|[A-Za-z0-9.+~:]*)$'
       END;

-- PEP 440's Appendix B pattern, matched case-insensitively as Go's (?i)
-- does: ASCII case, and the two non-ASCII letters that fold to ASCII ones
-- (U+017F to s, U+212A to k).
CREATE FUNCTION problem_pep440_parses(v text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN lower(translate(problem_trim(v), chr(383) || chr(8490), 'sk') COLLATE "C") ~ (
    '^v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*'
    '(?:[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?:[0-9]+)?)?'
    '(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?(?:[0-9]+)?)?'
    '(?:[-_.]?dev[-_.]?(?:[0-9]+)?)?'
    '(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$');

CREATE FUNCTION problem_semver_parses(v text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN problem_trim(v)
    ~ '^=?v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$';

CREATE FUNCTION version_parses(scheme text, version text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE scheme
    WHEN 'debian' THEN problem_debian_parses(version)
    WHEN 'pypi' THEN problem_pep440_parses(version)
    WHEN 'semver' THEN problem_semver_parses(version)
    WHEN 'npm' THEN problem_semver_parses(version)
    ELSE true
END;

-- A URL's host, lower-cased, without user information and port.
CREATE FUNCTION url_host(url text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN lower(substring(url FROM '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]*)'));

-- A package's homepage: the least of its homepage links (one, in
-- practice), which is the first, as a package's links are stored in
-- canonical order (events.Package.Normalize: by kind, then URL).
CREATE FUNCTION package_homepage(links jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN jsonb_path_query_first(links, '$[*] ? (@.kind == "homepage").url') #>> '{}';

-- The host of an https URL, NULL for any other.
CREATE FUNCTION https_host(url text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN url ~* '^https://' THEN url_host(url) END;

-- The host of a package's homepage when it is served over http, NULL
-- otherwise.
CREATE FUNCTION http_homepage_host(links jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN package_homepage(links) ~* '^http://' THEN url_host(package_homepage(links)) END;

-- The delta path finds the packages whose homepage_http problem moves when
-- an https link to their host appears or disappears, and the hosts known
-- over https, by these two indexes: never by reading all packages or links.
CREATE INDEX packages_http_homepage_host ON packages (http_homepage_host(links))
    WHERE http_homepage_host(links) IS NOT NULL;
CREATE INDEX links_https_host ON links (https_host(url)) WHERE https_host(url) IS NOT NULL;

-- The packages the problems' definition reads (on the delta path shadowed
-- in pg_temp by the packages of its pairs in scope, like maintainer_ids).
CREATE VIEW problem_packages AS
SELECT repo_id, project, name, version, version_key, maintainers, links FROM packages;

-- One row per package and problem kind. A package is (repository, project,
-- name); maintainers are its maintainers' emails (sorted), for the counts
-- per maintainer (emails, not ids: the rows compare across databases).
CREATE TABLE problems (
    project        text NOT NULL,
    repo_id        integer NOT NULL,
    name           text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('no_homepage', 'homepage_http', 'homepage_shared',
                                                 'version_unparsed', 'outdated_alone')),
    data           jsonb NOT NULL,
    maintainers    text[] NOT NULL,
    PRIMARY KEY (project, repo_id, name, kind)
);
-- /api/v1/repository/{name}/problems: a repository's problems in key order.
CREATE INDEX problems_repo ON problems (repo_id, project, name, kind);
ALTER TABLE problems SET (fillfactor = 85);

-- Counts by kind, per repository and per maintainer, kept by the counter
-- differences of the problems rows a page re-derives. A row exists while
-- its count is above zero.
CREATE TABLE repository_problems (
    repo_id      integer NOT NULL,
    kind         text NOT NULL,
    num_problems integer NOT NULL,
    PRIMARY KEY (repo_id, kind)
);
CREATE TABLE maintainer_problems (
    maintainer_id integer NOT NULL,
    kind          text NOT NULL,
    num_problems  integer NOT NULL,
    PRIMARY KEY (maintainer_id, kind)
);
ALTER TABLE repository_problems SET (fillfactor = 50);
ALTER TABLE maintainer_problems SET (fillfactor = 85);

INSERT INTO reader_tables (name) VALUES ('problems'), ('repository_problems'), ('maintainer_problems');
GRANT SELECT ON problems, repository_problems, maintainer_problems TO deltalog_reader;

---- create above / drop below ----

DELETE FROM reader_tables WHERE name IN ('problems', 'repository_problems', 'maintainer_problems');
DROP TABLE maintainer_problems;
DROP TABLE repository_problems;
DROP TABLE problems;
DROP VIEW problem_packages;
DROP INDEX links_https_host;
DROP INDEX packages_http_homepage_host;
DROP FUNCTION http_homepage_host(jsonb);
DROP FUNCTION https_host(text);
DROP FUNCTION package_homepage(jsonb);
DROP FUNCTION url_host(text);
DROP FUNCTION version_parses(text, text);
DROP FUNCTION problem_semver_parses(text);
DROP FUNCTION problem_pep440_parses(text);
DROP FUNCTION problem_debian_parses(text);
DROP FUNCTION problem_debian_epoch(text);
DROP FUNCTION problem_trim(text);
