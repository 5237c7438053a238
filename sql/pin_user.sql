-- The view pin_user: each pin joined with its user on ind (inner join), with the user's age
-- group and the year the user joined, for Q4 to Q8. The age groups are defined here, once
-- (SPEC §5): 18-24, 25-35, 36-50 and +50 (age > 50); ages under 18 (and a NULL age) belong
-- to none. age_group_order sorts them youngest first.
SELECT p.ind, p.category, p.follower_count, u.user_name, u.age, u.date_joined,
  year(u.date_joined) AS join_year,
  CASE
    WHEN u.age BETWEEN 18 AND 24 THEN '18-24'
    WHEN u.age BETWEEN 25 AND 35 THEN '25-35'
    WHEN u.age BETWEEN 36 AND 50 THEN '36-50'
    WHEN u.age > 50 THEN '+50'
  END AS age_group,
  CASE
    WHEN u.age BETWEEN 18 AND 24 THEN 1
    WHEN u.age BETWEEN 25 AND 35 THEN 2
    WHEN u.age BETWEEN 36 AND 50 THEN 3
    WHEN u.age > 50 THEN 4
  END AS age_group_order
FROM pin_clean AS p
JOIN user_clean AS u ON p.ind = u.ind
