ALTER TABLE activities DROP COLUMN cost_currency;
ALTER TABLE activities DROP COLUMN cost;
