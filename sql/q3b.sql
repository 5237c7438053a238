-- Q3b: the country of the user with the most followers overall: one row, a tie on
-- follower_count broken by country name (the same postings Q3a ranks).
SELECT g.country, p.follower_count
FROM pin_clean AS p
JOIN geo_clean AS g ON p.ind = g.ind
WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
ORDER BY p.follower_count DESC, g.country
LIMIT 1
