-- PostgreSQL twin of migrations/sqlite: stored documents move into chunks of at most 1 MiB
-- (docs/architecture.md, "Document storage"). A blob is staged (staged_at set) while its upload
-- streams in and attached (staged_at NULL) by the write that logs it.
CREATE TABLE document_blobs (
    id BIGSERIAL PRIMARY KEY,
    staged_at BIGINT
);
CREATE INDEX document_blobs_staged ON document_blobs (staged_at) WHERE staged_at IS NOT NULL;

CREATE TABLE document_chunks (
    blob_id BIGINT NOT NULL REFERENCES document_blobs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (blob_id, seq)
);

ALTER TABLE mou_versions ADD COLUMN blob_id BIGINT;
ALTER TABLE mou_version_documents ADD COLUMN blob_id BIGINT;
ALTER TABLE activity_evidence ADD COLUMN blob_id BIGINT;

-- Each stored document gets a blob. Evidence rows are append-only by trigger; the trigger
-- steps aside for this one update.
UPDATE mou_versions SET blob_id = nextval('document_blobs_id_seq');
UPDATE mou_version_documents SET blob_id = nextval('document_blobs_id_seq');
ALTER TABLE activity_evidence DISABLE TRIGGER activity_evidence_append_only;
UPDATE activity_evidence SET blob_id = nextval('document_blobs_id_seq');
ALTER TABLE activity_evidence ENABLE TRIGGER activity_evidence_append_only;
INSERT INTO document_blobs (id)
    SELECT blob_id FROM mou_versions
    UNION ALL SELECT blob_id FROM mou_version_documents
    UNION ALL SELECT blob_id FROM activity_evidence;

-- The bytes, cut into chunks numbered from 0 (an empty document has none).
INSERT INTO document_chunks (blob_id, seq, data)
    SELECT s.blob_id, g.seq, substring(s.content FROM g.seq * 1048576 + 1 FOR 1048576)
    FROM (
        SELECT blob_id, content FROM mou_versions
        UNION ALL SELECT blob_id, content FROM mou_version_documents
        UNION ALL SELECT blob_id, content FROM activity_evidence
    ) AS s
    CROSS JOIN LATERAL generate_series(0, (length(s.content) - 1) / 1048576) AS g (seq)
    WHERE length(s.content) > 0;

ALTER TABLE mou_versions
    ALTER COLUMN blob_id SET NOT NULL,
    ADD FOREIGN KEY (blob_id) REFERENCES document_blobs (id),
    DROP COLUMN content;
ALTER TABLE mou_version_documents
    ALTER COLUMN blob_id SET NOT NULL,
    ADD FOREIGN KEY (blob_id) REFERENCES document_blobs (id),
    DROP COLUMN content;
ALTER TABLE activity_evidence
    ALTER COLUMN blob_id SET NOT NULL,
    ADD FOREIGN KEY (blob_id) REFERENCES document_blobs (id),
    DROP COLUMN content;

-- A stored document's bytes are append-only, as evidence rows were: chunks never change, and
-- once a blob is attached its chunks can be neither added to nor removed, nor the blob itself
-- removed or staged again. Only staged chunks (an upload not yet logged) may be discarded.
-- The audit still hashes every document again: these triggers stop the application's own
-- mistakes, the audit catches whoever drops them.
CREATE FUNCTION amity_document_chunks_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'document_chunks is append-only';
    END IF;
    IF EXISTS (SELECT 1 FROM document_blobs
               WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.blob_id ELSE OLD.blob_id END
                 AND staged_at IS NULL) THEN
        RAISE EXCEPTION 'the chunks of a stored document are append-only';
    END IF;
    IF TG_OP = 'INSERT' THEN
        RETURN NEW;
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER document_chunks_append_only BEFORE INSERT OR UPDATE OR DELETE ON document_chunks
    FOR EACH ROW EXECUTE FUNCTION amity_document_chunks_guard();
CREATE TRIGGER document_chunks_no_truncate BEFORE TRUNCATE ON document_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION amity_append_only();

CREATE FUNCTION amity_document_blobs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.staged_at IS NULL THEN
            RAISE EXCEPTION 'a stored document cannot be removed';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.staged_at IS NULL OR NEW.staged_at IS NOT NULL OR NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'a staged document can only be attached';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER document_blobs_append_only BEFORE UPDATE OR DELETE ON document_blobs
    FOR EACH ROW EXECUTE FUNCTION amity_document_blobs_guard();
CREATE TRIGGER document_blobs_no_truncate BEFORE TRUNCATE ON document_blobs
    FOR EACH STATEMENT EXECUTE FUNCTION amity_append_only();
