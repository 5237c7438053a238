-- Cleans the pin records (SPEC §4). Input: the view pin_raw, the pin records with exact
-- duplicates already dropped and every column as text, whatever type the producer wrote.
-- Written in the SQL that DuckDB and Spark SQL share: no backslashes in literals (the two
-- engines read them differently), TRY_CAST rather than CAST (ANSI Spark raises on a bad
-- cast), regexp_extract rather than regexp_replace (DuckDB replaces only the first match).
SELECT
  TRY_CAST(r.index AS INTEGER) AS ind,
  NULLIF(r.unique_id, '') AS unique_id,
  CASE WHEN r.title IN ('', 'No Title Data Available') THEN NULL ELSE r.title END AS title,
  CASE
    WHEN r.description IN ('', 'No description available Story format', 'No description available')
      THEN NULL
    ELSE r.description
  END AS description,
  -- 26k -> 26000, 6M -> 6000000, 1.5k -> 1500, digits as they are; anything else -> NULL.
  TRY_CAST(
    ROUND(
      TRY_CAST(regexp_extract(trim(r.follower_count), '^([0-9]+([.][0-9]+)?)([kKmM]?)$', 1) AS DOUBLE)
      * CASE upper(regexp_extract(trim(r.follower_count), '^([0-9]+([.][0-9]+)?)([kKmM]?)$', 3))
          WHEN 'K' THEN 1000
          WHEN 'M' THEN 1000000
          ELSE 1
        END
    ) AS INTEGER
  ) AS follower_count,
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
FROM pin_raw AS r
