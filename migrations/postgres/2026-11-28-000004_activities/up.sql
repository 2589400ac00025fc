-- PostgreSQL twin of migrations/sqlite: engagement activities, append-only.
CREATE TABLE activities (
    id TEXT COLLATE "C" PRIMARY KEY,
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
CREATE TRIGGER activities_append_only BEFORE UPDATE OR DELETE ON activities
    FOR EACH ROW EXECUTE FUNCTION amity_append_only();
CREATE TRIGGER activities_no_truncate BEFORE TRUNCATE ON activities
    FOR EACH STATEMENT EXECUTE FUNCTION amity_append_only();
