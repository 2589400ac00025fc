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

diesel::table! {
    mous (id) {
        id -> Text,
        partnership_id -> Text,
        title -> Text,
        required_signers -> Text,
        state -> Text,
        current_version -> Integer,
        head_seq -> BigInt,
        head_hash -> Binary,
        created_by_city -> Text,
        created_by -> Nullable<Text>,
        withdrawn_reason -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        log_index -> BigInt,
    }
}

diesel::table! {
    mou_versions (mou_id, version) {
        mou_id -> Text,
        version -> Integer,
        media_type -> Text,
        filename -> Nullable<Text>,
        size -> BigInt,
        sha256 -> Binary,
        blob_id -> BigInt,
        uploaded_by -> Nullable<Text>,
        uploaded_at -> BigInt,
        log_index -> BigInt,
        language -> Nullable<Text>,
    }
}

diesel::table! {
    mou_version_documents (mou_id, version, position) {
        mou_id -> Text,
        version -> Integer,
        position -> Integer,
        language -> Text,
        media_type -> Text,
        filename -> Nullable<Text>,
        size -> BigInt,
        sha256 -> Binary,
        blob_id -> BigInt,
    }
}

diesel::table! {
    signatory_keys (id) {
        id -> Text,
        fingerprint -> Text,
        public_key -> Binary,
        city -> Text,
        signer -> Text,
        role -> Text,
        comment -> Nullable<Text>,
        status -> Text,
        registered_at -> BigInt,
        approved_at -> Nullable<BigInt>,
        retire_effective_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        compromised_since -> Nullable<BigInt>,
        proof_statement -> Binary,
        proof_signature -> Binary,
        registered_by -> Nullable<Text>,
        log_index -> BigInt,
    }
}

diesel::table! {
    key_events (id) {
        id -> Text,
        key_id -> Text,
        seq -> Integer,
        kind -> Text,
        effective_at -> Nullable<BigInt>,
        compromised_since -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        recorded_by -> Nullable<Text>,
        recorded_at -> BigInt,
        log_index -> BigInt,
    }
}

diesel::table! {
    key_challenges (challenge) {
        challenge -> Text,
        city -> Text,
        issued_by -> Nullable<Text>,
        issued_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    mou_signatures (id) {
        id -> Text,
        mou_id -> Text,
        seq -> BigInt,
        version -> Integer,
        statement -> Binary,
        statement_sha256 -> Binary,
        signature -> Binary,
        key_id -> Text,
        signer -> Text,
        signer_city -> Text,
        role -> Text,
        received_at -> BigInt,
        submitted_by -> Nullable<Text>,
        log_index -> BigInt,
    }
}

diesel::joinable!(offices -> cities (city));
diesel::joinable!(tokens -> offices (office_id));
diesel::joinable!(status_events -> partnerships (partnership_id));
diesel::joinable!(mous -> partnerships (partnership_id));
diesel::joinable!(mou_versions -> mous (mou_id));
diesel::joinable!(mou_signatures -> mous (mou_id));
diesel::joinable!(mou_signatures -> signatory_keys (key_id));
diesel::joinable!(key_events -> signatory_keys (key_id));

diesel::allow_tables_to_appear_in_same_query!(
    log_head,
    log_entries,
    cities,
    offices,
    tokens,
    partnerships,
    status_events,
    mous,
    mou_versions,
    mou_version_documents,
    signatory_keys,
    key_events,
    key_challenges,
    mou_signatures,
    activities,
    activity_evidence,
    activity_outcomes,
    activity_organisations,
    commitments,
    commitment_resolutions,
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

diesel::table! {
    activities (id) {
        id -> Text,
        partnership_id -> Text,
        kind -> Text,
        mode -> Text,
        start_date -> Text,
        end_date -> Nullable<Text>,
        participants -> Nullable<Integer>,
        outcome -> Nullable<Text>,
        city -> Text,
        recorded_by -> Nullable<Text>,
        created_at -> BigInt,
        log_index -> BigInt,
        cost -> Nullable<Text>,
        cost_currency -> Nullable<Text>,
    }
}

diesel::joinable!(activities -> partnerships (partnership_id));

diesel::table! {
    activity_evidence (activity_id, seq) {
        activity_id -> Text,
        seq -> Integer,
        media_type -> Text,
        filename -> Nullable<Text>,
        size -> BigInt,
        sha256 -> Binary,
        blob_id -> BigInt,
        added_by -> Nullable<Text>,
        added_at -> BigInt,
        log_index -> BigInt,
    }
}

diesel::joinable!(activity_evidence -> activities (activity_id));

diesel::table! {
    city_groups (id) {
        id -> Text,
        seq -> Integer,
        name -> Text,
        name_key -> Text,
        cities -> Text,
        updated_at -> BigInt,
        log_index -> BigInt,
        keeper -> Nullable<Text>,
    }
}

diesel::table! {
    activity_organisations (activity_id, seq) {
        activity_id -> Text,
        seq -> Integer,
        name -> Text,
        sector -> Text,
    }
}

diesel::table! {
    activity_outcomes (id) {
        id -> Text,
        activity_id -> Text,
        partnership_id -> Text,
        indicator -> Text,
        achieved_on -> Text,
        count -> Nullable<BigInt>,
        exchange_group -> Nullable<Text>,
        value -> Nullable<Text>,
        currency -> Nullable<Text>,
        mou_id -> Nullable<Text>,
        follow_up_id -> Nullable<Text>,
        description -> Nullable<Text>,
        evidence -> Text,
        city -> Text,
        recorded_by -> Nullable<Text>,
        created_at -> BigInt,
        log_index -> BigInt,
    }
}

diesel::table! {
    commitments (id) {
        id -> Text,
        activity_id -> Text,
        partnership_id -> Text,
        text -> Text,
        due_date -> Text,
        city -> Text,
        made_by -> Nullable<Text>,
        created_at -> BigInt,
        log_index -> BigInt,
    }
}

diesel::table! {
    commitment_resolutions (commitment_id) {
        commitment_id -> Text,
        result -> Text,
        resolved_on -> Text,
        kept_by_activity -> Nullable<Text>,
        kept_by_outcome -> Nullable<Text>,
        note -> Nullable<Text>,
        city -> Text,
        resolved_by -> Nullable<Text>,
        created_at -> BigInt,
        log_index -> BigInt,
    }
}

diesel::joinable!(commitment_resolutions -> commitments (commitment_id));

diesel::table! {
    checkpoint_cosignatures (size, witness, key_id) {
        size -> BigInt,
        witness -> Text,
        key_id -> BigInt,
        line -> Text,
        cosigned_at -> BigInt,
        received_at -> BigInt,
    }
}

diesel::joinable!(checkpoint_cosignatures -> checkpoints (size));
diesel::allow_tables_to_appear_in_same_query!(checkpoints, checkpoint_cosignatures);

diesel::table! {
    signature_requests (id) {
        id -> Text,
        mou_id -> Text,
        round -> Integer,
        version -> Integer,
        signer -> Text,
        signer_city -> Text,
        role -> Text,
        sequence_group -> Integer,
        deadline -> BigInt,
        state -> Text,
        requested_by_city -> Text,
        requested_by -> Nullable<Text>,
        requested_at -> BigInt,
        log_index -> BigInt,
        answered_at -> Nullable<BigInt>,
        answer_log_index -> Nullable<BigInt>,
        signature_seq -> Nullable<BigInt>,
        decline_reason -> Nullable<Text>,
        decline_statement -> Nullable<Binary>,
        decline_signature -> Nullable<Text>,
        remind_before_days -> Integer,
        remind_every_days -> Integer,
        remind_max -> Integer,
        reminders_sent -> Integer,
        next_reminder_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(signature_requests -> mous (mou_id));
diesel::allow_tables_to_appear_in_same_query!(signature_requests, mous);

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        city -> Text,
        url -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<BigInt>,
        event_types -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    outbox_messages (id) {
        id -> Text,
        endpoint_id -> Text,
        event_type -> Text,
        payload -> Text,
        log_index -> BigInt,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_attempts (message_id, attempt) {
        message_id -> Text,
        attempt -> Integer,
        attempted_at -> BigInt,
        status -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
    }
}

diesel::joinable!(outbox_messages -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_attempts -> outbox_messages (message_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_endpoints, outbox_messages, webhook_attempts);

diesel::table! {
    signer_contacts (signer) {
        signer -> Text,
        city -> Text,
        email -> Text,
        updated_by -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    outbox_emails (id) {
        id -> Text,
        signer -> Text,
        recipient -> Text,
        event_type -> Text,
        data -> Text,
        log_index -> BigInt,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    signing_links (link_sha256) {
        link_sha256 -> Text,
        request_id -> Text,
        mou_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

// Stored documents, chunked (migrations 2026-12-08-000001_chunked_documents; `db::blobs`).
diesel::table! {
    document_blobs (id) {
        id -> BigInt,
        staged_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    document_chunks (blob_id, seq) {
        blob_id -> BigInt,
        seq -> Integer,
        data -> Binary,
    }
}

diesel::joinable!(document_chunks -> document_blobs (blob_id));
diesel::allow_tables_to_appear_in_same_query!(document_blobs, document_chunks);
