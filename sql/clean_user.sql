-- Cleans the user records (SPEC §4, §4.1). Input: the view user_raw, the user records with
-- exact duplicates already dropped, every field as text (numbers as written) and age_signed.
-- || (not concat) so that a missing name gives NULL in both engines: DuckDB's concat() skips
-- NULLs, Spark's does not; an empty name counts as missing.
-- age: a JSON integer or a string of digits, else NULL ('30.5' is NULL: DuckDB's cast would
-- round it to 31 and Spark's cut it to 30; a JSON 30.0 is NULL too, its text as written).
-- A minus sign counts only in a JSON number: age_signed is true when the age was a JSON
-- number written with a minus (the engines read it so), so -5 is the integer -5 (an age in
-- no group) while the strings '-5' and '+30' are NULL.
-- date_joined: the timestamp rule of clean_geo.sql.
SELECT
  TRY_CAST(r.ind AS INTEGER) AS ind,
  NULLIF(r.first_name, '') || ' ' || NULLIF(r.last_name, '') AS user_name,
  TRY_CAST(
    CASE WHEN r.age_signed THEN regexp_extract(r.age, '^(-[0-9]+)$', 1)
      ELSE regexp_extract(r.age, '^([0-9]+)$', 1)
    END AS INTEGER
  ) AS age,
  -- timestamp rule (the same text in clean_geo.sql and clean_user.sql)
  CASE
    WHEN regexp_extract(r.ts_text,
      '^([0-9]{4}-[0-9]{2}-[0-9]{2}[ T]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)$',
      1) <> ''
      THEN TRY_CAST(
          substr(r.ts_text, 1, 10) || ' ' || substr(r.ts_text, 12, 8)
            || substr(regexp_extract(r.ts_text, '[.][0-9]+', 0), 1, 7)
          AS TIMESTAMP
        )
        - INTERVAL '1' MINUTE * CASE substr(r.ts_text, length(r.ts_text) - 5, 1)
            WHEN '+' THEN TRY_CAST(substr(r.ts_text, length(r.ts_text) - 4, 2) AS INTEGER) * 60
              + TRY_CAST(substr(r.ts_text, length(r.ts_text) - 1, 2) AS INTEGER)
            WHEN '-' THEN 0 - TRY_CAST(substr(r.ts_text, length(r.ts_text) - 4, 2) AS INTEGER) * 60
              - TRY_CAST(substr(r.ts_text, length(r.ts_text) - 1, 2) AS INTEGER)
            ELSE 0
          END
  -- end of timestamp rule
  END AS date_joined
FROM (SELECT u.*, u.date_joined AS ts_text FROM user_raw AS u) AS r
