-- Q4: the most popular category in each age group (the view pin_user: pin joined with user
-- on ind, age groups defined there). Rank 1 by the count, ties kept, ordered by age group
-- (youngest first) then category; `tied` is how many categories share the lead in the group
-- (1: no tie).
WITH counts AS (
  SELECT age_group, age_group_order, category, COUNT(*) AS category_count
  FROM pin_user
  WHERE age_group IS NOT NULL AND category IS NOT NULL
  GROUP BY age_group, age_group_order, category
),
ranked AS (
  SELECT age_group, age_group_order, category, category_count,
    RANK() OVER (PARTITION BY age_group ORDER BY category_count DESC) AS category_rank
  FROM counts
)
SELECT age_group, category, category_count,
  COUNT(*) OVER (PARTITION BY age_group) AS tied
FROM ranked
WHERE category_rank = 1
ORDER BY age_group_order, category
