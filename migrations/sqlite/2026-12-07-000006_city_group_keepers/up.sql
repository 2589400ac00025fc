-- The association token that keeps a city group (docs/engagement.md#city-groups); NULL when
-- the registry's administrators keep it, as every group saved before keepers existed. Logged
-- in the group's `city_group.saved` entry (`keeper`).
ALTER TABLE city_groups ADD COLUMN keeper TEXT;
