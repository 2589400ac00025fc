-- Notifications (docs/notifications.md). An office's webhook endpoints, and the outbox: one
-- row per message to one endpoint, written in the same transaction as the log entry of the
-- event it tells about, so a committed event is never without its message. Delivery state
-- (attempts, next attempt, outcome) is working state, not registry data: nothing here is in
-- the log, and the secrets never leave this table except to the office that registered them.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    city TEXT NOT NULL REFERENCES cities (code),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until BIGINT,
    event_types TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_city ON webhook_endpoints (city);
CREATE TABLE outbox_messages (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
-- The delivery worker's scan: pending messages by due time.
CREATE INDEX outbox_messages_due ON outbox_messages (state, next_attempt_at);
CREATE INDEX outbox_messages_by_endpoint ON outbox_messages (endpoint_id, created_at);
CREATE TABLE webhook_attempts (
    message_id TEXT NOT NULL REFERENCES outbox_messages (id),
    attempt INTEGER NOT NULL,
    attempted_at BIGINT NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (message_id, attempt)
);
