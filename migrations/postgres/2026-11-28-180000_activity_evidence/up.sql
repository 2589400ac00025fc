-- PostgreSQL twin of migrations/sqlite: evidence documents of activities, append-only.
CREATE TABLE activity_evidence (
    activity_id TEXT COLLATE "C" NOT NULL REFERENCES activities (id),
    seq INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    filename TEXT,
    size BIGINT NOT NULL,
    sha256 BYTEA NOT NULL,
    content BYTEA NOT NULL,
    added_by TEXT,
    added_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    PRIMARY KEY (activity_id, seq)
);
CREATE TRIGGER activity_evidence_append_only BEFORE UPDATE OR DELETE ON activity_evidence
    FOR EACH ROW EXECUTE FUNCTION amity_append_only();
CREATE TRIGGER activity_evidence_no_truncate BEFORE TRUNCATE ON activity_evidence
    FOR EACH STATEMENT EXECUTE FUNCTION amity_append_only();
