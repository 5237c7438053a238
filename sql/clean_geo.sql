-- Cleans the geo records (SPEC §4, §4.1). Input: the view geo_raw, the geo records with
-- exact duplicates already dropped and every field as text. array_repeat and array_append
-- are Spark built-ins (DuckDB's array_repeat: functions_duckdb.sql); array_append keeps a
-- NULL element in both engines, so coordinates is always [latitude, longitude].
-- latitude, longitude: a decimal number with an optional exponent, else NULL (Spark's cast
-- alone would also take '1.5d', 'Infinity' and hex).
-- timestamp: 'YYYY-MM-DD HH:MM:SS' or ISO 'YYYY-MM-DDTHH:MM:SS', optional fractional seconds
-- (microseconds kept, the rest cut), optional Z or +-HH:MM, converted to UTC; partial dates
-- and other forms NULL. The offset is applied here, not by the cast: DuckDB's cast to
-- TIMESTAMP ignores it and Spark's applies it.
SELECT
  TRY_CAST(r.ind AS INTEGER) AS ind,
  NULLIF(r.country, '') AS country,
  array_append(
    array_repeat(
      TRY_CAST(regexp_extract(r.latitude, '^(-?[0-9]+([.][0-9]+)?([eE][+-]?[0-9]+)?)$', 1) AS DOUBLE),
      1
    ),
    TRY_CAST(regexp_extract(r.longitude, '^(-?[0-9]+([.][0-9]+)?([eE][+-]?[0-9]+)?)$', 1) AS DOUBLE)
  ) AS coordinates,
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
  END AS timestamp
FROM (SELECT g.*, g.timestamp AS ts_text FROM geo_raw AS g) AS r
