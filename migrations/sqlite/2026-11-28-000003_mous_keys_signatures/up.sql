-- MOUs, their document versions and signature chains; signatory keys, their events and the
-- single-use challenges of key registration. Times are Unix microseconds; hashes, keys and the
-- exact signed bytes are stored raw.

CREATE TABLE mous (
    id TEXT PRIMARY KEY,
    partnership_id TEXT NOT NULL REFERENCES partnerships (id),
    title TEXT NOT NULL,
    -- Canonical JSON list of {city, role, count}, fixed at creation.
    required_signers TEXT NOT NULL,
    state TEXT NOT NULL,
    -- 0 while the MOU is a draft without any version.
    current_version INTEGER NOT NULL,
    -- The chain head: seq 0 and 32 zero bytes before the first signature.
    head_seq BIGINT NOT NULL,
    head_hash BLOB NOT NULL,
    created_by_city TEXT NOT NULL REFERENCES cities (code),
    created_by TEXT,
    withdrawn_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL
);
CREATE INDEX mous_partnership ON mous (partnership_id, id);

-- Not append-only by trigger: the bytes are immutable by the application, and the audit report
-- is what proves it (it recomputes every hash from the stored bytes).
CREATE TABLE mou_versions (
    mou_id TEXT NOT NULL REFERENCES mous (id),
    version INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    filename TEXT,
    size BIGINT NOT NULL,
    sha256 BLOB NOT NULL,
    content BLOB NOT NULL,
    uploaded_by TEXT,
    uploaded_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    PRIMARY KEY (mou_id, version)
);

CREATE TABLE signatory_keys (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    public_key BLOB NOT NULL UNIQUE,
    city TEXT NOT NULL REFERENCES cities (code),
    signer TEXT NOT NULL,
    role TEXT NOT NULL,
    comment TEXT,
    status TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    approved_at BIGINT,
    retire_effective_at BIGINT,
    revoked_at BIGINT,
    compromised_since BIGINT,
    proof_statement BLOB NOT NULL,
    proof_signature BLOB NOT NULL,
    registered_by TEXT,
    log_index BIGINT NOT NULL
);
CREATE INDEX signatory_keys_city ON signatory_keys (city, id);
CREATE INDEX signatory_keys_signer ON signatory_keys (signer, id);

CREATE TABLE key_events (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES signatory_keys (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    effective_at BIGINT,
    compromised_since BIGINT,
    reason TEXT,
    recorded_by TEXT,
    recorded_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    UNIQUE (key_id, seq)
);
CREATE TRIGGER key_events_no_update BEFORE UPDATE ON key_events
BEGIN SELECT RAISE(ABORT, 'key_events is append-only'); END;
CREATE TRIGGER key_events_no_delete BEFORE DELETE ON key_events
BEGIN SELECT RAISE(ABORT, 'key_events is append-only'); END;

-- Ephemeral: not registry data, so issuing one is not a log entry.
CREATE TABLE key_challenges (
    challenge TEXT PRIMARY KEY,
    city TEXT NOT NULL REFERENCES cities (code),
    issued_by TEXT,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE mou_signatures (
    id TEXT PRIMARY KEY,
    mou_id TEXT NOT NULL REFERENCES mous (id),
    seq BIGINT NOT NULL,
    version INTEGER NOT NULL,
    statement BLOB NOT NULL,
    statement_sha256 BLOB NOT NULL UNIQUE,
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
CREATE TRIGGER mou_signatures_no_update BEFORE UPDATE ON mou_signatures
BEGIN SELECT RAISE(ABORT, 'mou_signatures is append-only'); END;
CREATE TRIGGER mou_signatures_no_delete BEFORE DELETE ON mou_signatures
BEGIN SELECT RAISE(ABORT, 'mou_signatures is append-only'); END;
