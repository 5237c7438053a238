-- Q7: the median follower count by year of date_joined, 2015 to 2020 (pin joined with user
-- on ind): the exact percentile_cont(0.5) over the joined postings with a follower_count.
SELECT year(u.date_joined) AS post_year,
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY p.follower_count) AS median_follower_count
FROM pin_clean AS p
JOIN user_clean AS u ON p.ind = u.ind
WHERE p.follower_count IS NOT NULL AND year(u.date_joined) BETWEEN 2015 AND 2020
GROUP BY year(u.date_joined)
ORDER BY post_year
