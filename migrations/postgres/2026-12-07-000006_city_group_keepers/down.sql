ALTER TABLE city_groups DROP COLUMN keeper;
