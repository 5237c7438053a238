-- Q2: the most popular category in each year of the posting's geo timestamp, 2018 to 2022
-- (pin joined with geo on ind). Rank 1 by the count, ties kept, ordered by year then category;
-- `tied` is how many categories share the lead in the year (1: no tie).
WITH counts AS (
  SELECT year(g.timestamp) AS post_year, p.category, COUNT(*) AS category_count
  FROM pin_clean AS p
  JOIN geo_clean AS g ON p.ind = g.ind
  WHERE year(g.timestamp) BETWEEN 2018 AND 2022 AND p.category IS NOT NULL
  GROUP BY year(g.timestamp), p.category
),
ranked AS (
  SELECT post_year, category, category_count,
    RANK() OVER (PARTITION BY post_year ORDER BY category_count DESC) AS category_rank
  FROM counts
)
SELECT post_year, category, category_count,
  COUNT(*) OVER (PARTITION BY post_year) AS tied
FROM ranked
WHERE category_rank = 1
ORDER BY post_year, category
