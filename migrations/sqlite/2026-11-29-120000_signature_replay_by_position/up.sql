-- A replayed statement names its MOU and chain position, and the MOU's id is checked against
-- the path before anything else, so "is this statement already in the chain?" is answered
-- by the (mou_id, seq) key that guards the chain anyway. The table-wide UNIQUE index on
-- statement_sha256 duplicated that guard, at the price of an insert at a random place in one
-- more B-tree for every signature on the serial writer.
--
-- SQLite cannot drop a column's UNIQUE constraint, so the table is rebuilt with the same
-- columns in the same order. Nothing references mou_signatures, and the implicit delete of
-- DROP TABLE fires no trigger.
CREATE TABLE mou_signatures_rebuilt (
    id TEXT PRIMARY KEY,
    mou_id TEXT NOT NULL REFERENCES mous (id),
    seq BIGINT NOT NULL,
    version INTEGER NOT NULL,
    statement BLOB NOT NULL,
    statement_sha256 BLOB NOT NULL,
    signature BLOB NOT NULL,
    key_id TEXT NOT NULL REFERENCES signatory_keys (id),
    signer TEXT NOT NULL,
    signer_city TEXT NOT NULL,
    role TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    submitted_by TEXT,
    log_index BIGINT NOT NULL,
    -- The final guard of the chain: two racing signers can never both take one position.
    UNIQUE (mou_id, seq)
);
INSERT INTO mou_signatures_rebuilt SELECT * FROM mou_signatures ORDER BY rowid;
DROP TABLE mou_signatures;
ALTER TABLE mou_signatures_rebuilt RENAME TO mou_signatures;
CREATE INDEX mou_signatures_signers ON mou_signatures (mou_id, version, signer, signer_city, role);
CREATE TRIGGER mou_signatures_no_update BEFORE UPDATE ON mou_signatures
BEGIN SELECT RAISE(ABORT, 'mou_signatures is append-only'); END;
CREATE TRIGGER mou_signatures_no_delete BEFORE DELETE ON mou_signatures
BEGIN SELECT RAISE(ABORT, 'mou_signatures is append-only'); END;
