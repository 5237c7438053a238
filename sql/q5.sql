-- Q5: the median follower count in each age group (pin joined with user on ind): the exact
-- percentile_cont(0.5) over the joined postings with a follower_count. Age groups 18-24,
-- 25-35, 36-50 and +50 (age > 50); ages under 18 belong to none. Youngest group first.
WITH grouped AS (
  SELECT p.follower_count,
    CASE
      WHEN u.age BETWEEN 18 AND 24 THEN '18-24'
      WHEN u.age BETWEEN 25 AND 35 THEN '25-35'
      WHEN u.age BETWEEN 36 AND 50 THEN '36-50'
      WHEN u.age > 50 THEN '+50'
    END AS age_group
  FROM pin_clean AS p
  JOIN user_clean AS u ON p.ind = u.ind
  WHERE p.follower_count IS NOT NULL
),
medians AS (
  SELECT age_group,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY follower_count) AS median_follower_count,
    CASE age_group WHEN '18-24' THEN 1 WHEN '25-35' THEN 2 WHEN '36-50' THEN 3 ELSE 4 END
      AS group_order
  FROM grouped
  WHERE age_group IS NOT NULL
  GROUP BY age_group
)
SELECT age_group, median_follower_count
FROM medians
ORDER BY group_order
