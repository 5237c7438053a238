-- Cleans the geo records (SPEC §4). Input: the view geo_raw, the geo records with exact
-- duplicates already dropped and every column as text. coordinates_array() is defined per
-- engine (functions_duckdb.sql, functions_spark.sql): the two share no array constructor.
-- A timestamp may come as 'YYYY-MM-DD HH:MM:SS' or in ISO 'T' form; both casts read both.
SELECT
  TRY_CAST(r.ind AS INTEGER) AS ind,
  r.country AS country,
  coordinates_array(TRY_CAST(r.latitude AS DOUBLE), TRY_CAST(r.longitude AS DOUBLE)) AS coordinates,
  TRY_CAST(r.timestamp AS TIMESTAMP) AS timestamp
FROM geo_raw AS r
