-- What engagement produced (docs/engagement.md): typed outcomes of an activity, and the
-- commitments an activity made with how each ended. Every row mirrors a log entry
-- (`activity.outcome_recorded`, `activity.commitment_made`, `activity.commitment_resolved`),
-- so the tables are append-only; a resolution is a row of its own, once per commitment.
--
-- The indicator and exchange-group lists are closed: adding a value is a migration that
-- rebuilds these CHECKs, together with the verifier's lists (crates/amity-verify/src/outcomes.rs).
CREATE TABLE activity_outcomes (
    id TEXT PRIMARY KEY,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    partnership_id TEXT NOT NULL REFERENCES partnerships (id),
    indicator TEXT NOT NULL CHECK (indicator IN ('agreement_signed', 'follow_up_activity',
        'people_reached', 'exchange_participants', 'business_deals', 'joint_projects',
        'media_reach', 'other')),
    achieved_on TEXT NOT NULL,
    count BIGINT,
    exchange_group TEXT CHECK (exchange_group IN ('students', 'officials', 'artists',
        'professionals', 'athletes', 'other')),
    value TEXT,
    currency TEXT,
    mou_id TEXT REFERENCES mous (id),
    follow_up_id TEXT REFERENCES activities (id),
    description TEXT,
    -- The activity's evidence numbers it cites, comma-separated ("1,3"); empty for none.
    evidence TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL REFERENCES cities (code),
    recorded_by TEXT,
    created_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL
);
CREATE INDEX activity_outcomes_activity ON activity_outcomes (activity_id, id);
CREATE INDEX activity_outcomes_partnership ON activity_outcomes (partnership_id, achieved_on);
CREATE TRIGGER activity_outcomes_no_update BEFORE UPDATE ON activity_outcomes
BEGIN SELECT RAISE(ABORT, 'activity_outcomes is append-only'); END;
CREATE TRIGGER activity_outcomes_no_delete BEFORE DELETE ON activity_outcomes
BEGIN SELECT RAISE(ABORT, 'activity_outcomes is append-only'); END;

CREATE TABLE commitments (
    id TEXT PRIMARY KEY,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    partnership_id TEXT NOT NULL REFERENCES partnerships (id),
    text TEXT NOT NULL,
    due_date TEXT NOT NULL,
    city TEXT NOT NULL REFERENCES cities (code),
    made_by TEXT,
    created_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL
);
CREATE INDEX commitments_activity ON commitments (activity_id, id);
CREATE INDEX commitments_partnership ON commitments (partnership_id, due_date);
CREATE TRIGGER commitments_no_update BEFORE UPDATE ON commitments
BEGIN SELECT RAISE(ABORT, 'commitments is append-only'); END;
CREATE TRIGGER commitments_no_delete BEFORE DELETE ON commitments
BEGIN SELECT RAISE(ABORT, 'commitments is append-only'); END;

CREATE TABLE commitment_resolutions (
    commitment_id TEXT PRIMARY KEY REFERENCES commitments (id),
    result TEXT NOT NULL CHECK (result IN ('kept', 'partly_kept', 'not_kept')),
    resolved_on TEXT NOT NULL,
    kept_by_activity TEXT REFERENCES activities (id),
    kept_by_outcome TEXT REFERENCES activity_outcomes (id),
    note TEXT,
    city TEXT NOT NULL REFERENCES cities (code),
    resolved_by TEXT,
    created_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL
);
CREATE TRIGGER commitment_resolutions_no_update BEFORE UPDATE ON commitment_resolutions
BEGIN SELECT RAISE(ABORT, 'commitment_resolutions is append-only'); END;
CREATE TRIGGER commitment_resolutions_no_delete BEFORE DELETE ON commitment_resolutions
BEGIN SELECT RAISE(ABORT, 'commitment_resolutions is append-only'); END;
