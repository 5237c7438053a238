-- Cleans the pin records (SPEC §4, §4.1). Input: the view pin_raw, the pin records with
-- exact duplicates already dropped and every field as text, whatever JSON type the producer
-- wrote. Written in the SQL that DuckDB and Spark SQL share: no backslashes in literals (the
-- engines read them differently), TRY_CAST rather than CAST (ANSI Spark raises on a bad
-- cast), regexp_extract rather than regexp_replace (DuckDB replaces only the first match),
-- and every rule where the engines' casts differ spelled out here.
SELECT
  TRY_CAST(r.index AS INTEGER) AS ind,
  NULLIF(r.unique_id, '') AS unique_id,
  CASE WHEN r.title IN ('', 'No Title Data Available') THEN NULL ELSE r.title END AS title,
  CASE
    WHEN r.description IN ('', 'No description available Story format', 'No description available')
      THEN NULL
    ELSE r.description
  END AS description,
  -- follower_count: trimmed of spaces, digits with an optional fraction, then k (x 1,000) or
  -- M (x 1,000,000), computed exactly and rounded half up: 26k -> 26000, 1.5k -> 1500,
  -- 2.5 -> 3, 4.0005k -> 4001. Anything else, negatives and values beyond INT -> NULL.
  -- Exact: the number is a DECIMAL, not a DOUBLE (4.0005 * 1000 is 4000.4999... in a
  -- DOUBLE). Leading zeros are dropped and at most 10 digits kept before the point (more
  -- is beyond INT anyway); 7 digits after it decide the rounding even for M, so the rest
  -- is cut, which keeps the DECIMAL within 18 digits in both engines.
  CASE
    WHEN length(regexp_extract(r.follower_text, '^0*([0-9]+)([.][0-9]+)?([kKmM]?)$', 1)) BETWEEN 1 AND 10
      THEN TRY_CAST(
        FLOOR(
          TRY_CAST(
            regexp_extract(r.follower_text, '^0*([0-9]+)([.][0-9]+)?([kKmM]?)$', 1)
              || substr(regexp_extract(r.follower_text, '^0*([0-9]+)([.][0-9]+)?([kKmM]?)$', 2), 1, 8)
            AS DECIMAL(18, 7)
          )
          * CASE upper(regexp_extract(r.follower_text, '^0*([0-9]+)([.][0-9]+)?([kKmM]?)$', 3))
              WHEN 'K' THEN 1000
              WHEN 'M' THEN 1000000
              ELSE 1
            END
          + 0.5
        ) AS INTEGER
      )
  END AS follower_count,
  CASE WHEN r.poster_name IN ('', 'User Info Error') THEN NULL ELSE r.poster_name END AS poster_name,
  CASE
    WHEN r.tag_list IN ('', 'N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e') THEN NULL
    ELSE r.tag_list
  END AS tag_list,
  NULLIF(r.is_image_or_video, '') AS is_image_or_video,
  CASE WHEN r.image_src IN ('', 'Image src error.') THEN NULL ELSE r.image_src END AS image_src,
  -- 'Local save in /data/mens-fashion' -> '/data/mens-fashion': the path from its first slash.
  CASE
    WHEN instr(r.save_location, '/') > 0 THEN substr(r.save_location, instr(r.save_location, '/'))
  END AS save_location,
  NULLIF(r.category, '') AS category
FROM (SELECT p.*, trim(p.follower_count) AS follower_text FROM pin_raw AS p) AS r
