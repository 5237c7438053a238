-- Q8: the median follower count by age group and year of date_joined, 2015 to 2020 (the
-- view pin_user: pin joined with user on ind, age groups defined there): the exact
-- percentile_cont(0.5) over the joined postings with a follower_count. Ordered by age group
-- (youngest first) then year.
SELECT age_group, join_year AS post_year,
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY follower_count) AS median_follower_count
FROM pin_user
WHERE age_group IS NOT NULL AND follower_count IS NOT NULL AND join_year BETWEEN 2015 AND 2020
GROUP BY age_group, age_group_order, join_year
ORDER BY age_group_order, post_year
