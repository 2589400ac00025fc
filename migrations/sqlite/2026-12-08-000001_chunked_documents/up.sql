-- Stored documents move out of their rows into chunks of at most 1 MiB (docs/architecture.md,
-- "Document storage"), so an upload streams into the database and a download streams out of
-- it without either ever holding a whole document in memory.
--
-- A blob is one document's bytes. While an upload streams in, its blob is staged (staged_at
-- set, no logged row holds it yet); the write that logs the upload attaches it (staged_at
-- NULL) in the same transaction as the log entry. Staged blobs an upload left behind (the
-- client went away, the server stopped) are removed a day later by the server's sweep.
CREATE TABLE document_blobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    staged_at BIGINT
);
CREATE INDEX document_blobs_staged ON document_blobs (staged_at) WHERE staged_at IS NOT NULL;

CREATE TABLE document_chunks (
    blob_id BIGINT NOT NULL REFERENCES document_blobs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (blob_id, seq)
);

-- SQLite adds a column neither NOT NULL without a default nor one it could drop again if it
-- carried a foreign key (down.sql); the application always sets it, every row below gets one,
-- and PostgreSQL, which can, enforces both.
ALTER TABLE mou_versions ADD COLUMN blob_id BIGINT;
ALTER TABLE mou_version_documents ADD COLUMN blob_id BIGINT;
ALTER TABLE activity_evidence ADD COLUMN blob_id BIGINT;

-- Each stored document gets a blob. Ids follow each table's rowids, the tables one after the
-- other.
INSERT INTO document_blobs (id) SELECT rowid FROM mou_versions;
INSERT INTO document_blobs (id)
    SELECT rowid + (SELECT COALESCE(MAX(rowid), 0) FROM mou_versions) FROM mou_version_documents;
INSERT INTO document_blobs (id)
    SELECT rowid + (SELECT COALESCE(MAX(rowid), 0) FROM mou_versions)
                 + (SELECT COALESCE(MAX(rowid), 0) FROM mou_version_documents)
    FROM activity_evidence;

UPDATE mou_versions SET blob_id = rowid;
UPDATE mou_version_documents
    SET blob_id = rowid + (SELECT COALESCE(MAX(rowid), 0) FROM mou_versions);
-- Evidence rows are append-only by trigger; the triggers step aside for this one update.
DROP TRIGGER activity_evidence_no_update;
UPDATE activity_evidence
    SET blob_id = rowid + (SELECT COALESCE(MAX(rowid), 0) FROM mou_versions)
                        + (SELECT COALESCE(MAX(rowid), 0) FROM mou_version_documents);
CREATE TRIGGER activity_evidence_no_update BEFORE UPDATE ON activity_evidence
BEGIN SELECT RAISE(ABORT, 'activity_evidence is append-only'); END;

-- The bytes, cut into chunks numbered from 0 (an empty document has none).
WITH RECURSIVE
    stored (blob_id, content) AS (
        SELECT blob_id, content FROM mou_versions
        UNION ALL SELECT blob_id, content FROM mou_version_documents
        UNION ALL SELECT blob_id, content FROM activity_evidence
    ),
    piece (blob_id, seq, content) AS (
        SELECT blob_id, 0, content FROM stored WHERE length(content) > 0
        UNION ALL
        SELECT blob_id, seq + 1, content FROM piece WHERE (seq + 1) * 1048576 < length(content)
    )
INSERT INTO document_chunks (blob_id, seq, data)
    SELECT blob_id, seq, CAST(substr(content, seq * 1048576 + 1, 1048576) AS BLOB) FROM piece;

ALTER TABLE mou_versions DROP COLUMN content;
ALTER TABLE mou_version_documents DROP COLUMN content;
ALTER TABLE activity_evidence DROP COLUMN content;

-- A stored document's bytes are append-only, as evidence rows were: chunks never change, and
-- once a blob is attached its chunks can be neither added to nor removed, nor the blob itself
-- removed or staged again. Only staged chunks (an upload not yet logged) may be discarded.
-- The audit still hashes every document again: these triggers stop the application's own
-- mistakes, the audit catches whoever drops them.
CREATE TRIGGER document_chunks_no_update BEFORE UPDATE ON document_chunks
BEGIN SELECT RAISE(ABORT, 'document_chunks is append-only'); END;
CREATE TRIGGER document_chunks_attached_no_insert BEFORE INSERT ON document_chunks
WHEN EXISTS (SELECT 1 FROM document_blobs WHERE id = NEW.blob_id AND staged_at IS NULL)
BEGIN SELECT RAISE(ABORT, 'the chunks of a stored document are append-only'); END;
CREATE TRIGGER document_chunks_attached_no_delete BEFORE DELETE ON document_chunks
WHEN EXISTS (SELECT 1 FROM document_blobs WHERE id = OLD.blob_id AND staged_at IS NULL)
BEGIN SELECT RAISE(ABORT, 'the chunks of a stored document are append-only'); END;
CREATE TRIGGER document_blobs_attached_no_delete BEFORE DELETE ON document_blobs
WHEN OLD.staged_at IS NULL
BEGIN SELECT RAISE(ABORT, 'a stored document cannot be removed'); END;
CREATE TRIGGER document_blobs_attach_only BEFORE UPDATE ON document_blobs
WHEN OLD.staged_at IS NULL OR NEW.staged_at IS NOT NULL OR NEW.id IS NOT OLD.id
BEGIN SELECT RAISE(ABORT, 'a staged document can only be attached'); END;
