-- What an activity cost, as the recording office declared it (docs/engagement.md#metrics): a
-- positive amount in plain digits and its ISO 4217 currency, both or neither. Logged in the
-- activity's `activity.recorded` entry (`cost`, `cost_currency`).
ALTER TABLE activities ADD COLUMN cost TEXT;
ALTER TABLE activities ADD COLUMN cost_currency TEXT;
