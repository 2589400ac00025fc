-- Signature requests (docs/formats/log-entries.md, `mou.signatures_requested` and after): who
-- an office asked to sign which version of an MOU, in which sequence group, by when, and how
-- each request ended. A row's state only moves on from `pending`, always together with the log
-- entry that records the move, so an auditor can rebuild every row from the log.
CREATE TABLE signature_requests (
    id TEXT PRIMARY KEY,
    mou_id TEXT NOT NULL REFERENCES mous (id),
    round INTEGER NOT NULL,
    version INTEGER NOT NULL,
    signer TEXT NOT NULL,
    signer_city TEXT NOT NULL,
    role TEXT NOT NULL,
    sequence_group INTEGER NOT NULL,
    deadline BIGINT NOT NULL,
    state TEXT NOT NULL,
    requested_by_city TEXT NOT NULL,
    requested_by TEXT,
    requested_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    answered_at BIGINT,
    answer_log_index BIGINT,
    signature_seq BIGINT,
    decline_reason TEXT,
    decline_statement BYTEA,
    decline_signature TEXT,
    -- Reminders (docs/signing-workflow.md): the round's plan, how many were sent, and when
    -- the next is due (NULL: none).
    remind_before_days INTEGER NOT NULL,
    remind_every_days INTEGER NOT NULL,
    remind_max INTEGER NOT NULL,
    reminders_sent INTEGER NOT NULL,
    next_reminder_at BIGINT,
    UNIQUE (mou_id, round, signer)
);
-- The expiry sweep looks for pending requests past their deadline.
CREATE INDEX signature_requests_due ON signature_requests (state, deadline);
-- The reminder sweep looks for pending requests whose next reminder is due.
CREATE INDEX signature_requests_reminders ON signature_requests (state, next_reminder_at);
