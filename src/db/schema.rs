//! Table definitions shared by both engines (common SQL types only).

diesel::table! {
    /// Every customer name a case has carried (kept by triggers on `cases`).
    customers (name) {
        name -> Text,
    }
}

diesel::table! {
    app_settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        aliases -> Text,
        role -> Text,
        password_hash -> Text,
        disabled -> Bool,
        session_epoch -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        scope -> Text,
    }
}

diesel::table! {
    login_attempts (key) {
        key -> Text,
        window_start -> Timestamp,
        failures -> BigInt,
    }
}

diesel::table! {
    raw_messages (id) {
        id -> BigInt,
        sha256 -> Text,
        size -> BigInt,
        source -> Text,
        received_at -> Timestamp,
        data -> Nullable<Binary>,
    }
}

diesel::table! {
    cases (id) {
        id -> BigInt,
        number -> Text,
        subject -> Text,
        customer -> Nullable<Text>,
        oem -> Nullable<Text>,
        status -> Text,
        priority -> Text,
        tracking_token -> Text,
        assignee_id -> Nullable<BigInt>,
        language -> Text,
        parent_case_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        first_customer_at -> Nullable<Timestamp>,
        first_response_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        contact_email -> Nullable<Text>,
        imported -> Bool,
        merged_into -> Nullable<BigInt>,
        message_count -> BigInt,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        case_id -> BigInt,
        kind -> Text,
        message_row_id -> Nullable<BigInt>,
        actor -> Text,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
        mailed_at -> Nullable<Timestamp>,
        mail_state -> Nullable<Text>,
        hold_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    blobs (sha256) {
        sha256 -> Text,
        bytes -> Binary,
        size -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    signatures (user_id) {
        user_id -> BigInt,
        body -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    presence (case_id, user_id) {
        case_id -> BigInt,
        user_id -> BigInt,
        seen_at -> Timestamp,
    }
}

diesel::table! {
    watchers (case_id, user_id) {
        case_id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_prefs (user_id) {
        user_id -> BigInt,
        language -> Text,
        notify_customer_reply -> Bool,
        notify_rnd_answer -> Bool,
        notify_mention -> Bool,
        notify_sla -> Bool,
        notify_overdue -> Bool,
        digest_minutes -> BigInt,
    }
}

diesel::table! {
    canned_replies (id) {
        id -> BigInt,
        owner_id -> Nullable<BigInt>,
        name -> Text,
        language -> Text,
        code -> Nullable<Text>,
        body -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    report_views (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        query -> Text,
        language -> Text,
        weekly -> Bool,
        last_sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    message_html (message_row_id) {
        message_row_id -> BigInt,
        html -> Text,
        quoted -> Nullable<Text>,
        blocked_images -> BigInt,
    }
}

diesel::table! {
    thumbnails (attachment_id) {
        attachment_id -> BigInt,
        sha256 -> Text,
        width -> BigInt,
        height -> BigInt,
    }
}

diesel::table! {
    merges (id) {
        id -> BigInt,
        survivor_id -> BigInt,
        merged_id -> BigInt,
        actor -> Text,
        automatic -> Bool,
        moved -> Text,
        created_at -> Timestamp,
        undone_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    case_links (case_id, other_id) {
        case_id -> BigInt,
        other_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        case_id -> BigInt,
        raw_id -> Nullable<BigInt>,
        message_id -> Text,
        content_hash -> Text,
        reuses_id_of -> Nullable<BigInt>,
        in_reply_to -> Nullable<Text>,
        refs -> Text,
        thread_key -> Nullable<Text>,
        from_name -> Text,
        from_address -> Text,
        to_addrs -> Text,
        subject -> Text,
        sent_at -> Timestamp,
        received_at -> Timestamp,
        direction -> Text,
        is_auto_reply -> Bool,
        body_text -> Text,
        source -> Text,
        proposal -> Nullable<Text>,
        counted -> Bool,
    }
}

diesel::table! {
    people (id) {
        id -> BigInt,
        name -> Text,
        address -> Nullable<Text>,
        side -> Text,
        evidence -> Text,
        case_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    person_keys (key) {
        key -> Text,
        person_id -> BigInt,
    }
}

diesel::table! {
    message_refs (ref_id, message_row_id) {
        ref_id -> Text,
        message_row_id -> BigInt,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        message_row_id -> BigInt,
        case_id -> BigInt,
        filename -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        is_tnef -> Bool,
        bundle_status -> Nullable<Text>,
        bundle_note -> Nullable<Text>,
    }
}

diesel::table! {
    bundle_entries (id) {
        id -> BigInt,
        attachment_id -> BigInt,
        path -> Text,
        size -> BigInt,
        compressed_size -> BigInt,
        is_text -> Bool,
        depth -> BigInt,
    }
}

diesel::table! {
    bundle_findings (id) {
        id -> BigInt,
        case_id -> BigInt,
        attachment_id -> BigInt,
        entry_path -> Text,
        line -> BigInt,
        kind -> Text,
        value -> Text,
    }
}

diesel::table! {
    case_codes (id) {
        id -> BigInt,
        case_id -> BigInt,
        code -> Text,
        found_in -> Text,
        closed -> Bool,
    }
}

diesel::table! {
    case_serials (id) {
        id -> BigInt,
        case_id -> BigInt,
        serial -> Text,
        kind -> Text,
        closed -> Bool,
        prefix -> Text,
    }
}

diesel::table! {
    scopes (id) {
        id -> BigInt,
        case_id -> BigInt,
        problem_definition -> Text,
        problem_scope -> Text,
        log_instructions -> Nullable<Text>,
        author -> Text,
        message_row_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    closures (id) {
        id -> BigInt,
        case_id -> BigInt,
        problem_definition -> Text,
        resolution -> Text,
        root_cause -> Nullable<Text>,
        customer_agreed -> Bool,
        author -> Text,
        message_row_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    escalations (id) {
        id -> BigInt,
        case_id -> BigInt,
        status -> Text,
        question -> Text,
        serial_number -> Nullable<Text>,
        opened_by -> Text,
        message_row_id -> Nullable<BigInt>,
        opened_at -> Timestamp,
        first_answered_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        help_needed -> Nullable<Text>,
        attachment_ids -> Text,
        last_activity_at -> Nullable<Timestamp>,
        live -> Bool,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        case_id -> Nullable<BigInt>,
        message_row_id -> Nullable<BigInt>,
        kind -> Text,
        message_id -> Text,
        envelope_from -> Text,
        envelope_to -> Text,
        subject -> Text,
        raw -> Text,
        state -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        claimed_at -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    escalation_entries (id) {
        id -> BigInt,
        escalation_id -> BigInt,
        kind -> Text,
        author_name -> Text,
        body_text -> Text,
        message_row_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    quarantine (id) {
        id -> BigInt,
        raw_id -> BigInt,
        source -> Text,
        reason -> Text,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        resolution -> Nullable<Text>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        case_id -> Nullable<BigInt>,
        actor -> Text,
        action -> Text,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    activation_records (id) {
        id -> BigInt,
        fingerprint -> Text,
        serial_number -> Text,
        product_key -> Nullable<Text>,
        machine_serial -> Nullable<Text>,
        oem -> Nullable<Text>,
        customer -> Nullable<Text>,
        product -> Nullable<Text>,
        activated_at -> Nullable<Timestamp>,
        method -> Nullable<Text>,
        result -> Nullable<Text>,
        error_code -> Nullable<Text>,
        source -> Text,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    code_notes (code) {
        code -> Text,
        note -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mailboxes (id) {
        id -> BigInt,
        name -> Text,
        host -> Text,
        port -> BigInt,
        tls -> Text,
        username -> Text,
        password_enc -> Nullable<Text>,
        password_file -> Nullable<Text>,
        folder -> Text,
        move_to -> Nullable<Text>,
        poll_seconds -> BigInt,
        enabled -> Bool,
        uidvalidity -> Nullable<BigInt>,
        last_uid -> BigInt,
        last_error -> Nullable<Text>,
        last_ok_at -> Nullable<Timestamp>,
        next_attempt_at -> Timestamp,
        failures -> BigInt,
        claimed_by -> Nullable<Text>,
        claimed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        internal -> Bool,
        auth -> Text,
        oauth_token_url -> Nullable<Text>,
        oauth_client_id -> Nullable<Text>,
        oauth_client_secret_enc -> Nullable<Text>,
        oauth_refresh_enc -> Nullable<Text>,
        oauth_access_enc -> Nullable<Text>,
        oauth_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    senders (key) {
        key -> Text,
        name -> Text,
        address -> Nullable<Text>,
        messages -> BigInt,
        cases -> BigInt,
        last_case_id -> Nullable<BigInt>,
        first_seen -> Timestamp,
        last_seen -> Timestamp,
    }
}

diesel::table! {
    sender_cases (sender_key, case_id) {
        sender_key -> Text,
        case_id -> BigInt,
    }
}

diesel::table! {
    staff_domains (domain) {
        domain -> Text,
        added_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    reanalysis_jobs (id) {
        id -> BigInt,
        scope -> Text,
        reason -> Text,
        actor -> Text,
        state -> Text,
        total -> BigInt,
        done -> BigInt,
        changed -> BigInt,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    import_rereads (case_id) {
        case_id -> BigInt,
        marked_at -> Timestamp,
    }
}

diesel::table! {
    reanalysis_queue (job_id, case_id) {
        job_id -> BigInt,
        case_id -> BigInt,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(messages -> cases (case_id));
diesel::joinable!(attachments -> messages (message_row_id));
diesel::joinable!(message_refs -> messages (message_row_id));
diesel::joinable!(person_keys -> people (person_id));
diesel::joinable!(escalation_entries -> escalations (escalation_id));
diesel::joinable!(quarantine -> raw_messages (raw_id));

diesel::joinable!(report_views -> users (user_id));
diesel::joinable!(notifications -> cases (case_id));
diesel::joinable!(watchers -> cases (case_id));
diesel::joinable!(presence -> cases (case_id));
diesel::joinable!(presence -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    presence,
    signatures,
    app_settings,
    senders,
    sender_cases,
    staff_domains,
    reanalysis_jobs,
    reanalysis_queue,
    merges,
    case_links,
    people,
    person_keys,
    message_refs,
    users,
    api_tokens,
    login_attempts,
    raw_messages,
    thumbnails,
    message_html,
    cases,
    messages,
    attachments,
    case_codes,
    case_serials,
    scopes,
    closures,
    escalations,
    escalation_entries,
    quarantine,
    audit_events,
    outbox,
    activation_records,
    report_views,
    canned_replies,
    notifications,
    watchers,
    user_prefs,
    code_notes,
    bundle_entries,
    bundle_findings,
    mailboxes,
);
