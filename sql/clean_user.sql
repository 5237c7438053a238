-- Cleans the user records (SPEC §4). Input: the view user_raw, the user records with exact
-- duplicates already dropped and every column as text. || (not concat) so that a missing
-- name gives NULL in both engines: DuckDB's concat() skips NULLs, Spark's does not.
SELECT
  TRY_CAST(r.ind AS INTEGER) AS ind,
  r.first_name || ' ' || r.last_name AS user_name,
  TRY_CAST(r.age AS INTEGER) AS age,
  TRY_CAST(r.date_joined AS TIMESTAMP) AS date_joined
FROM user_raw AS r
