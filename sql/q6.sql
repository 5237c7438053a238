-- Q6: how many distinct users joined in each year of date_joined, 2015 to 2020 (users of
-- the postings: the view pin_user, pin joined with user on ind). A user is (user_name, age,
-- date_joined).
WITH users AS (
  SELECT DISTINCT user_name, age, date_joined, join_year
  FROM pin_user
  WHERE join_year BETWEEN 2015 AND 2020
)
SELECT join_year AS post_year, COUNT(*) AS number_users_joined
FROM users
GROUP BY join_year
ORDER BY post_year
