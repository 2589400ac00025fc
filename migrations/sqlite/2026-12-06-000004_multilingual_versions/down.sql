DROP TABLE mou_version_documents;
ALTER TABLE mou_versions DROP COLUMN language;
