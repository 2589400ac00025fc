-- Multilingual MOU versions (docs/formats/log-entries.md, mou.version_uploaded): a version
-- holds one document per language, the texts equally authentic. mou_versions keeps the first
-- document, as it always has, and now its language; the others are rows here, positions 2, 3,
-- ... Like mou_versions, not append-only by trigger: the audit recomputes every hash.
ALTER TABLE mou_versions ADD COLUMN language TEXT;

CREATE TABLE mou_version_documents (
    mou_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    language TEXT NOT NULL,
    media_type TEXT NOT NULL,
    filename TEXT,
    size BIGINT NOT NULL,
    sha256 BLOB NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (mou_id, version, position),
    FOREIGN KEY (mou_id, version) REFERENCES mou_versions (mou_id, version)
);
