-- Back to whole documents in their rows: the chunks of each blob, in order, joined again.
DROP TRIGGER document_chunks_no_update;
DROP TRIGGER document_chunks_attached_no_insert;
DROP TRIGGER document_chunks_attached_no_delete;
DROP TRIGGER document_blobs_attached_no_delete;
DROP TRIGGER document_blobs_attach_only;
ALTER TABLE mou_versions ADD COLUMN content BLOB NOT NULL DEFAULT x'';
ALTER TABLE mou_version_documents ADD COLUMN content BLOB NOT NULL DEFAULT x'';
ALTER TABLE activity_evidence ADD COLUMN content BLOB NOT NULL DEFAULT x'';

UPDATE mou_versions SET content = COALESCE((
    SELECT unhex(group_concat(hex(data), '' ORDER BY seq)) FROM document_chunks
    WHERE document_chunks.blob_id = mou_versions.blob_id), x'');
UPDATE mou_version_documents SET content = COALESCE((
    SELECT unhex(group_concat(hex(data), '' ORDER BY seq)) FROM document_chunks
    WHERE document_chunks.blob_id = mou_version_documents.blob_id), x'');
DROP TRIGGER activity_evidence_no_update;
UPDATE activity_evidence SET content = COALESCE((
    SELECT unhex(group_concat(hex(data), '' ORDER BY seq)) FROM document_chunks
    WHERE document_chunks.blob_id = activity_evidence.blob_id), x'');
ALTER TABLE activity_evidence DROP COLUMN blob_id;
CREATE TRIGGER activity_evidence_no_update BEFORE UPDATE ON activity_evidence
BEGIN SELECT RAISE(ABORT, 'activity_evidence is append-only'); END;
ALTER TABLE mou_version_documents DROP COLUMN blob_id;
ALTER TABLE mou_versions DROP COLUMN blob_id;

DROP TABLE document_chunks;
DROP TABLE document_blobs;
