-- Q8: the median follower count by age group and year of date_joined, 2015 to 2020 (pin
-- joined with user on ind): the exact percentile_cont(0.5) over the joined postings with a
-- follower_count. Age groups 18-24, 25-35, 36-50 and +50 (age > 50); under 18 in none.
-- Ordered by age group (youngest first) then year.
WITH grouped AS (
  SELECT p.follower_count, year(u.date_joined) AS post_year,
    CASE
      WHEN u.age BETWEEN 18 AND 24 THEN '18-24'
      WHEN u.age BETWEEN 25 AND 35 THEN '25-35'
      WHEN u.age BETWEEN 36 AND 50 THEN '36-50'
      WHEN u.age > 50 THEN '+50'
    END AS age_group
  FROM pin_clean AS p
  JOIN user_clean AS u ON p.ind = u.ind
  WHERE p.follower_count IS NOT NULL AND year(u.date_joined) BETWEEN 2015 AND 2020
),
medians AS (
  SELECT age_group, post_year,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY follower_count) AS median_follower_count,
    CASE age_group WHEN '18-24' THEN 1 WHEN '25-35' THEN 2 WHEN '36-50' THEN 3 ELSE 4 END
      AS group_order
  FROM grouped
  WHERE age_group IS NOT NULL
  GROUP BY age_group, post_year
)
SELECT age_group, post_year, median_follower_count
FROM medians
ORDER BY group_order, post_year
