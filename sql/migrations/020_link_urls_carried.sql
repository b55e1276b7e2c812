-- A link's normalized URL (normalize_url, migration 016) and its https
-- host (https_host, migration 018) become plain columns, computed once when
-- the link is created — by a trigger, for every insert that does not carry
-- them — instead of a generated column and an expression index, which
-- PostgreSQL evaluates again for every row inserted. A rebuild of the
-- catalog copies every link into its new tables (their counts are derived),
-- and re-running the URL functions (regular expressions, ~20 µs a URL) for
-- each of a catalog's 100k links was the largest cost of a first load's
-- rebuild; the copies now carry the values of the rows they copy. A link's
-- URL never changes (it is the link's identity); should an update change
-- it, the trigger derives both again.
ALTER TABLE links ALTER COLUMN normalized_url DROP EXPRESSION;
ALTER TABLE links ALTER COLUMN normalized_url SET NOT NULL;
ALTER TABLE links ADD COLUMN https_host text;
UPDATE links SET https_host = https_host(url) WHERE https_host(url) IS NOT NULL;
DROP INDEX links_https_host;
CREATE INDEX links_https_host ON links (https_host) WHERE https_host IS NOT NULL;

CREATE FUNCTION links_derive_urls() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.normalized_url := normalize_url(NEW.url);
    NEW.https_host := https_host(NEW.url);
    RETURN NEW;
END
$$;
-- The WHEN conditions are evaluated without calling the function: a copy
-- that carries the values costs the trigger nothing.
CREATE TRIGGER links_derive_urls BEFORE INSERT ON links
    FOR EACH ROW WHEN (NEW.normalized_url IS NULL) EXECUTE FUNCTION links_derive_urls();
CREATE TRIGGER links_derive_urls_again BEFORE UPDATE OF url ON links
    FOR EACH ROW WHEN (NEW.url IS DISTINCT FROM OLD.url) EXECUTE FUNCTION links_derive_urls();

---- create above / drop below ----

DROP TRIGGER links_derive_urls_again ON links;
DROP TRIGGER links_derive_urls ON links;
DROP FUNCTION links_derive_urls();
DROP INDEX links_https_host;
CREATE INDEX links_https_host ON links (https_host(url)) WHERE https_host(url) IS NOT NULL;
ALTER TABLE links DROP COLUMN https_host;
DROP INDEX links_normalized;
ALTER TABLE links DROP COLUMN normalized_url;
ALTER TABLE links ADD COLUMN normalized_url text GENERATED ALWAYS AS (normalize_url(url)) STORED;
CREATE INDEX links_normalized ON links (normalized_url);
