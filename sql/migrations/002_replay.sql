-- Replication state. (Nothing yet: followers keep their position in the
-- changelog they copy.)
SELECT 1;

---- create above / drop below ----

SELECT 1;
