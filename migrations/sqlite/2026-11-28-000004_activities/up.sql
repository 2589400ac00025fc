-- Engagement activities recorded against a partnership: delegations, virtual meetings,
-- exchanges and the like, in person, virtual or hybrid. A record is corrected by recording
-- another, so the table is append-only like the log it mirrors.
CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    partnership_id TEXT NOT NULL REFERENCES partnerships (id),
    kind TEXT NOT NULL,
    mode TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT,
    participants INTEGER,
    outcome TEXT,
    city TEXT NOT NULL REFERENCES cities (code),
    recorded_by TEXT,
    created_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL
);
CREATE INDEX activities_partnership ON activities (partnership_id, start_date);
CREATE INDEX activities_start ON activities (start_date);
CREATE TRIGGER activities_no_update BEFORE UPDATE ON activities
BEGIN SELECT RAISE(ABORT, 'activities is append-only'); END;
CREATE TRIGGER activities_no_delete BEFORE DELETE ON activities
BEGIN SELECT RAISE(ABORT, 'activities is append-only'); END;
