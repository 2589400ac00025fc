DROP TABLE city_groups;
