-- Q3a: the user with the most followers in each country (poster_name and follower_count
-- from pin, joined with geo on ind). A poster counts once per country, with the largest
-- follower_count seen. Rank 1, ties kept, ordered by country then poster_name; `tied` is how
-- many posters share the top in the country (1: no tie).
WITH followers AS (
  SELECT g.country, p.poster_name, MAX(p.follower_count) AS follower_count
  FROM pin_clean AS p
  JOIN geo_clean AS g ON p.ind = g.ind
  WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
  GROUP BY g.country, p.poster_name
),
ranked AS (
  SELECT country, poster_name, follower_count,
    RANK() OVER (PARTITION BY country ORDER BY follower_count DESC) AS follower_rank
  FROM followers
)
SELECT country, poster_name, follower_count,
  COUNT(*) OVER (PARTITION BY country) AS tied
FROM ranked
WHERE follower_rank = 1
ORDER BY country, poster_name
