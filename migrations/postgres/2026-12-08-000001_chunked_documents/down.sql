-- Back to whole documents in their rows: the chunks of each blob, in order, joined again.
ALTER TABLE mou_versions ADD COLUMN content BYTEA NOT NULL DEFAULT ''::bytea;
ALTER TABLE mou_version_documents ADD COLUMN content BYTEA NOT NULL DEFAULT ''::bytea;
ALTER TABLE activity_evidence ADD COLUMN content BYTEA NOT NULL DEFAULT ''::bytea;

UPDATE mou_versions SET content = COALESCE((
    SELECT string_agg(data, ''::bytea ORDER BY seq) FROM document_chunks
    WHERE document_chunks.blob_id = mou_versions.blob_id), ''::bytea);
UPDATE mou_version_documents SET content = COALESCE((
    SELECT string_agg(data, ''::bytea ORDER BY seq) FROM document_chunks
    WHERE document_chunks.blob_id = mou_version_documents.blob_id), ''::bytea);
ALTER TABLE activity_evidence DISABLE TRIGGER activity_evidence_append_only;
UPDATE activity_evidence SET content = COALESCE((
    SELECT string_agg(data, ''::bytea ORDER BY seq) FROM document_chunks
    WHERE document_chunks.blob_id = activity_evidence.blob_id), ''::bytea);
ALTER TABLE activity_evidence ENABLE TRIGGER activity_evidence_append_only;

ALTER TABLE mou_versions DROP COLUMN blob_id;
ALTER TABLE mou_version_documents DROP COLUMN blob_id;
ALTER TABLE activity_evidence DROP COLUMN blob_id;
DROP TABLE document_chunks;
DROP TABLE document_blobs;
DROP FUNCTION amity_document_chunks_guard();
DROP FUNCTION amity_document_blobs_guard();
