-- Signing links (docs/browser-signing.md): the capability URL a requested signatory opens to
-- sign or decline in the browser. The token itself is never stored, only its SHA-256, so a
-- copy of the database gives nobody a working link. One link per signature request; it dies
-- when the request is answered through it (used_at), or at the request's deadline.
CREATE TABLE signing_links (
    link_sha256 TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE REFERENCES signature_requests (id),
    mou_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
