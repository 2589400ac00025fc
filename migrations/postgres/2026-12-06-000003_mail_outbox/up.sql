-- E-mail to signatories (docs/notifications.md). Contact addresses are kept here, by the
-- offices, and never written to the public log. An e-mail is written to the outbox with the
-- log entry of its event, in its transaction, as the event and its data; the delivery worker
-- renders and sends it, so a message can be re-rendered but never lost.
CREATE TABLE signer_contacts (
    signer TEXT PRIMARY KEY,
    city TEXT NOT NULL REFERENCES cities (code),
    email TEXT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT NOT NULL
);
CREATE TABLE outbox_emails (
    id TEXT PRIMARY KEY,
    signer TEXT NOT NULL,
    recipient TEXT NOT NULL,
    event_type TEXT NOT NULL,
    data TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX outbox_emails_due ON outbox_emails (state, next_attempt_at);
