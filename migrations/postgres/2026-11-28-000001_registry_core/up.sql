-- PostgreSQL twin of migrations/sqlite: same tables; keys compare in "C" collation so that
-- their order matches the byte order the application sorts by.
-- Registry core: the log, cities, offices, tokens, partnerships and their status history.
-- Times are Unix microseconds (BIGINT); hashes are raw bytes; ids are UUIDv7 text made by the app.

-- Append-only tables refuse UPDATE, DELETE and TRUNCATE.
CREATE FUNCTION amity_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;

CREATE TABLE log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO log_head (id, size) VALUES (1, 0);

CREATE TABLE log_entries (
    idx BIGINT PRIMARY KEY,
    leaf_hash BYTEA NOT NULL UNIQUE,
    entry BYTEA NOT NULL,
    kind TEXT NOT NULL,
    logged_at BIGINT NOT NULL
);
CREATE TRIGGER log_entries_append_only BEFORE UPDATE OR DELETE ON log_entries
    FOR EACH ROW EXECUTE FUNCTION amity_append_only();
CREATE TRIGGER log_entries_no_truncate BEFORE TRUNCATE ON log_entries
    FOR EACH STATEMENT EXECUTE FUNCTION amity_append_only();

CREATE TABLE cities (
    code TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT COLLATE "C" NOT NULL,
    country TEXT NOT NULL,
    region TEXT,
    wikidata TEXT,
    geonames_id BIGINT,
    unlocode TEXT,
    lat_e6 BIGINT,
    lon_e6 BIGINT,
    created_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL
);
CREATE INDEX cities_country ON cities (country, code);
CREATE INDEX cities_name_key ON cities (name_key, code);

CREATE TABLE offices (
    id TEXT COLLATE "C" PRIMARY KEY,
    city TEXT NOT NULL REFERENCES cities (code),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL
);
CREATE INDEX offices_city ON offices (city);

CREATE TABLE tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,
    role TEXT NOT NULL,
    office_id TEXT REFERENCES offices (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    log_index BIGINT NOT NULL
);

CREATE TABLE partnerships (
    id TEXT COLLATE "C" PRIMARY KEY,
    city_a TEXT COLLATE "C" NOT NULL REFERENCES cities (code),
    city_b TEXT COLLATE "C" NOT NULL REFERENCES cities (code),
    country_a TEXT NOT NULL,
    country_b TEXT NOT NULL,
    kind TEXT NOT NULL,
    established TEXT,
    established_on TEXT,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    proposed_by TEXT REFERENCES cities (code),
    supersedes TEXT REFERENCES partnerships (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    CHECK (city_a < city_b)
);
-- At most one partnership per city pair and kind that is not cut off.
CREATE UNIQUE INDEX partnerships_open_pair ON partnerships (city_a, city_b, kind)
    WHERE status <> 'cut_off';
CREATE INDEX partnerships_city_a ON partnerships (city_a, id);
CREATE INDEX partnerships_city_b ON partnerships (city_b, id);
CREATE INDEX partnerships_status ON partnerships (status, id);

CREATE TABLE status_events (
    id TEXT COLLATE "C" PRIMARY KEY,
    partnership_id TEXT NOT NULL REFERENCES partnerships (id),
    seq INTEGER NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    decided_date TEXT,
    initiating_city TEXT,
    deciding_body TEXT,
    reason_category TEXT,
    reason TEXT,
    resumption_condition TEXT,
    decision_document_sha256 BYTEA,
    recorded_by TEXT,
    recorded_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    UNIQUE (partnership_id, seq)
);
CREATE TRIGGER status_events_append_only BEFORE UPDATE OR DELETE ON status_events
    FOR EACH ROW EXECUTE FUNCTION amity_append_only();
CREATE TRIGGER status_events_no_truncate BEFORE TRUNCATE ON status_events
    FOR EACH STATEMENT EXECUTE FUNCTION amity_append_only();
