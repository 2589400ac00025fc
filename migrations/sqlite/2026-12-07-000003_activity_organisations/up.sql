-- Organisations that took part in an activity besides the city offices (docs/engagement.md):
-- companies, universities, NGOs, clubs. They are logged inside the activity's
-- `activity.recorded` entry, so the rows are written with the activity and never change.
-- The sector list is closed; a new sector is a migration widening this CHECK together with
-- the verifier's list (crates/amity-verify/src/outcomes.rs, `Sector`).
CREATE TABLE activity_organisations (
    activity_id TEXT NOT NULL REFERENCES activities (id),
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    sector TEXT NOT NULL CHECK (sector IN ('business', 'chamber_of_commerce', 'university',
        'school', 'ngo', 'cultural', 'sports_club', 'media', 'health', 'public_agency', 'other')),
    PRIMARY KEY (activity_id, seq)
);
CREATE INDEX activity_organisations_sector ON activity_organisations (sector);
CREATE TRIGGER activity_organisations_no_update BEFORE UPDATE ON activity_organisations
BEGIN SELECT RAISE(ABORT, 'activity_organisations is append-only'); END;
CREATE TRIGGER activity_organisations_no_delete BEFORE DELETE ON activity_organisations
BEGIN SELECT RAISE(ABORT, 'activity_organisations is append-only'); END;
