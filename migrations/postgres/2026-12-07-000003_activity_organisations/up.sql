-- PostgreSQL twin of migrations/sqlite. Organisations that took part in an activity besides
-- the city offices (docs/engagement.md), logged inside the activity's `activity.recorded`
-- entry; the sector list is closed, widened by a migration with the verifier's list.
CREATE TABLE activity_organisations (
    activity_id TEXT COLLATE "C" NOT NULL REFERENCES activities (id),
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    sector TEXT NOT NULL CHECK (sector IN ('business', 'chamber_of_commerce', 'university',
        'school', 'ngo', 'cultural', 'sports_club', 'media', 'health', 'public_agency', 'other')),
    PRIMARY KEY (activity_id, seq)
);
CREATE INDEX activity_organisations_sector ON activity_organisations (sector);
CREATE TRIGGER activity_organisations_append_only BEFORE UPDATE OR DELETE ON activity_organisations
    FOR EACH ROW EXECUTE FUNCTION amity_append_only();
CREATE TRIGGER activity_organisations_no_truncate BEFORE TRUNCATE ON activity_organisations
    FOR EACH STATEMENT EXECUTE FUNCTION amity_append_only();
