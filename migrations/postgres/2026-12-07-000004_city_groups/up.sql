-- PostgreSQL twin of migrations/sqlite. Named groups of cities for briefings (docs/engagement.md#city-groups): a list an admin
-- keeps. Each save is logged (`city_group.saved`, seq 1, 2, ...); the row holds the current
-- definition, the log every earlier one.
CREATE TABLE city_groups (
    id TEXT COLLATE "C" PRIMARY KEY,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    -- Lower-cased name: two groups are not named alike.
    name_key TEXT NOT NULL UNIQUE,
    -- City codes, ascending, comma-separated.
    cities TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    log_index BIGINT NOT NULL
);
