-- Q5: the median follower count in each age group (the view pin_user: pin joined with user
-- on ind, age groups defined there): the exact percentile_cont(0.5) over the joined postings
-- with a follower_count. Youngest group first.
SELECT age_group,
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY follower_count) AS median_follower_count
FROM pin_user
WHERE age_group IS NOT NULL AND follower_count IS NOT NULL
GROUP BY age_group, age_group_order
ORDER BY age_group_order
