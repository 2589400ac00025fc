-- Witness cosignatures on the registry's checkpoints (docs/witnessing.md). Each row is one
-- C2SP cosignature line a witness returned for the checkpoint of `size`, verified before it was
-- stored. Witnesses are named by their key (name and key id), not by a policy's local name, so
-- the rows stay meaningful when the policy file changes. Append-only like the checkpoints.
CREATE TABLE checkpoint_cosignatures (
    size BIGINT NOT NULL REFERENCES checkpoints (size),
    witness TEXT NOT NULL,
    key_id BIGINT NOT NULL,
    -- The signature line as the witness sent it, final newline included.
    line TEXT NOT NULL,
    -- The time inside the cosignature (seconds) and when the registry received it (microseconds).
    cosigned_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (size, witness, key_id)
);
CREATE INDEX checkpoint_cosignatures_by_witness ON checkpoint_cosignatures (witness, key_id, size);
CREATE TRIGGER checkpoint_cosignatures_no_update BEFORE UPDATE ON checkpoint_cosignatures
BEGIN SELECT RAISE(ABORT, 'checkpoint_cosignatures is append-only'); END;
CREATE TRIGGER checkpoint_cosignatures_no_delete BEFORE DELETE ON checkpoint_cosignatures
BEGIN SELECT RAISE(ABORT, 'checkpoint_cosignatures is append-only'); END;
