//! The portable schema: written by hand with only the SQL types both backends share, so one
//! set of queries serves SQLite and PostgreSQL.

diesel::table! {
    log_head (id) {
        id -> Integer,
        size -> BigInt,
    }
}

diesel::table! {
    log_entries (idx) {
        idx -> BigInt,
        leaf_hash -> Binary,
        entry -> Binary,
        kind -> Text,
        logged_at -> BigInt,
    }
}

diesel::table! {
    cities (code) {
        code -> Text,
        name -> Text,
        name_key -> Text,
        country -> Text,
        region -> Nullable<Text>,
        wikidata -> Nullable<Text>,
        geonames_id -> Nullable<BigInt>,
        unlocode -> Nullable<Text>,
        lat_e6 -> Nullable<BigInt>,
        lon_e6 -> Nullable<BigInt>,
        created_at -> BigInt,
        log_index -> BigInt,
    }
}

diesel::table! {
    offices (id) {
        id -> Text,
        city -> Text,
        name -> Text,
        created_at -> BigInt,
        log_index -> BigInt,
    }
}

diesel::table! {
    tokens (id) {
        id -> Text,
        token_hash -> Binary,
        role -> Text,
        office_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        log_index -> BigInt,
    }
}

diesel::table! {
    partnerships (id) {
        id -> Text,
        city_a -> Text,
        city_b -> Text,
        country_a -> Text,
        country_b -> Text,
        kind -> Text,
        established -> Nullable<Text>,
        established_on -> Nullable<Text>,
        status -> Text,
        source -> Text,
        proposed_by -> Nullable<Text>,
        supersedes -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        log_index -> BigInt,
    }
}

diesel::table! {
    status_events (id) {
        id -> Text,
        partnership_id -> Text,
        seq -> Integer,
        from_status -> Nullable<Text>,
        to_status -> Text,
        effective_date -> Text,
        decided_date -> Nullable<Text>,
        initiating_city -> Nullable<Text>,
        deciding_body -> Nullable<Text>,
        reason_category -> Nullable<Text>,
        reason -> Nullable<Text>,
        resumption_condition -> Nullable<Text>,
        decision_document_sha256 -> Nullable<Binary>,
        recorded_by -> Nullable<Text>,
        recorded_at -> BigInt,
        log_index -> BigInt,
    }
}

diesel::joinable!(offices -> cities (city));
diesel::joinable!(tokens -> offices (office_id));
diesel::joinable!(status_events -> partnerships (partnership_id));

diesel::allow_tables_to_appear_in_same_query!(
    log_head,
    log_entries,
    cities,
    offices,
    tokens,
    partnerships,
    status_events,
);

diesel::table! {
    log_nodes (level, idx) {
        level -> Integer,
        idx -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    checkpoints (size) {
        size -> BigInt,
        root -> Binary,
        note -> Text,
        created_at -> BigInt,
    }
}
