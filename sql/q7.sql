-- Q7: the median follower count by year of date_joined, 2015 to 2020 (the view pin_user,
-- pin joined with user on ind): the exact percentile_cont(0.5) over the joined postings with
-- a follower_count.
SELECT join_year AS post_year,
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY follower_count) AS median_follower_count
FROM pin_user
WHERE follower_count IS NOT NULL AND join_year BETWEEN 2015 AND 2020
GROUP BY join_year
ORDER BY post_year
