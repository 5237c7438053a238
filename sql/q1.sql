-- Q1: the most popular category in each country (pin joined with geo on ind).
-- Rank 1 by the count, ties kept, ordered by country then category; `tied` is how many
-- categories share the lead in the country (1: no tie).
WITH counts AS (
  SELECT g.country, p.category, COUNT(*) AS category_count
  FROM pin_clean AS p
  JOIN geo_clean AS g ON p.ind = g.ind
  WHERE g.country IS NOT NULL AND p.category IS NOT NULL
  GROUP BY g.country, p.category
),
ranked AS (
  SELECT country, category, category_count,
    RANK() OVER (PARTITION BY country ORDER BY category_count DESC) AS category_rank
  FROM counts
)
SELECT country, category, category_count,
  COUNT(*) OVER (PARTITION BY country) AS tied
FROM ranked
WHERE category_rank = 1
ORDER BY country, category
