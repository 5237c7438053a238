-- Q6: how many distinct users joined in each year of date_joined, 2015 to 2020 (users of
-- the postings: pin joined with user on ind). A user is (user_name, age, date_joined).
WITH users AS (
  SELECT DISTINCT u.user_name, u.age, u.date_joined
  FROM pin_clean AS p
  JOIN user_clean AS u ON p.ind = u.ind
  WHERE year(u.date_joined) BETWEEN 2015 AND 2020
)
SELECT year(date_joined) AS post_year, COUNT(*) AS number_users_joined
FROM users
GROUP BY year(date_joined)
ORDER BY post_year
