-- PostgreSQL twin of migrations/sqlite: witness cosignatures on the registry's checkpoints.
CREATE TABLE checkpoint_cosignatures (
    size BIGINT NOT NULL REFERENCES checkpoints (size),
    witness TEXT NOT NULL,
    key_id BIGINT NOT NULL,
    line TEXT NOT NULL,
    cosigned_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (size, witness, key_id)
);
CREATE INDEX checkpoint_cosignatures_by_witness ON checkpoint_cosignatures (witness, key_id, size);
CREATE TRIGGER checkpoint_cosignatures_append_only BEFORE UPDATE OR DELETE ON checkpoint_cosignatures
    FOR EACH ROW EXECUTE FUNCTION amity_append_only();
CREATE TRIGGER checkpoint_cosignatures_no_truncate BEFORE TRUNCATE ON checkpoint_cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION amity_append_only();
