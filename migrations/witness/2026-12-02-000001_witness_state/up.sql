-- The state of an `amity witness`: the logs it cosigns for, the keys it trusts for each, and
-- the checkpoint it cosigned last for each. A separate SQLite database (DIR/witness.db), never
-- the registry's.

-- One row per log. `size` and `root` are the checkpoint cosigned last: both NULL before the
-- first cosignature. They only ever move forward, and only in the transaction that checked the
-- request against them (see src/witness/store.rs).
CREATE TABLE witness_logs (
    origin TEXT PRIMARY KEY NOT NULL,
    size BIGINT,
    root BLOB,
    -- Unix seconds of the last change (log added, key added, checkpoint cosigned).
    updated_at BIGINT NOT NULL,
    CHECK ((size IS NULL) = (root IS NULL)),
    CHECK (size IS NULL OR size >= 0),
    CHECK (root IS NULL OR length(root) = 32)
);

-- The log's keys the witness trusts (C2SP vkeys, Ed25519 type 0x01): one or more per log, a
-- note signed by any one of them is the log's.
CREATE TABLE witness_log_keys (
    origin TEXT NOT NULL REFERENCES witness_logs (origin),
    vkey TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (origin, vkey)
);

-- Requests whose checkpoint carried a valid signature by the log but that the witness refused
-- as a fork: a consistency proof that does not verify (422), or another root for the size the
-- witness cosigned (409). Kept as evidence that the log misbehaved (the spec allows it).
CREATE TABLE witness_refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    origin TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    body BLOB NOT NULL,
    at BIGINT NOT NULL
);
