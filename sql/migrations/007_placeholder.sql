-- Placeholder: migration 007 belongs to another branch; tern needs the
-- numbers contiguous. Delete this file when that migration is merged.
SELECT 1;

---- create above / drop below ----

SELECT 1;
