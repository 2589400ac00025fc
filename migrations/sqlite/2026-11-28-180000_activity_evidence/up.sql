-- Evidence documents of an engagement activity (a programme, minutes, a photo report): kept
-- with their SHA-256 like MOU versions, numbered per activity, append-only.
CREATE TABLE activity_evidence (
    activity_id TEXT NOT NULL REFERENCES activities (id),
    seq INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    filename TEXT,
    size BIGINT NOT NULL,
    sha256 BLOB NOT NULL,
    content BLOB NOT NULL,
    added_by TEXT,
    added_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    PRIMARY KEY (activity_id, seq)
);
CREATE TRIGGER activity_evidence_no_update BEFORE UPDATE ON activity_evidence
BEGIN SELECT RAISE(ABORT, 'activity_evidence is append-only'); END;
CREATE TRIGGER activity_evidence_no_delete BEFORE DELETE ON activity_evidence
BEGIN SELECT RAISE(ABORT, 'activity_evidence is append-only'); END;
