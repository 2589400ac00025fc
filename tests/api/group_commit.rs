//! Group commit: writes sent at the same time share transactions, yet each is answered on
//! its own. A write refused by a rule (here a duplicate city) rolls back alone, and the log
//! holds exactly one entry per 201, each with its own index.

use std::collections::BTreeSet;

use serde_json::json;

use crate::support::World;
use crate::{both_backends, both_backends_with};

both_backends!(concurrent_writes_commit_alone_or_fail_alone, |srv| {
    let w = World::build(&srv);
    let before = srv.log_size();
    // 12 codes, each sent by two clients at once: one of each pair must win, one must get
    // 409, whatever batch they land in.
    let codes: Vec<String> = (0..12).map(|i| format!("fr-g{i:02}")).collect();
    let replies: Vec<(String, u16, Option<i64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = codes
            .iter()
            .chain(codes.iter())
            .map(|code| {
                let (srv, admin) = (&srv, &w.admin);
                s.spawn(move || {
                    let r = srv.post(
                        "/api/v1/admin/cities",
                        Some(admin),
                        &json!({"code": code, "name": format!("Ville {code}"), "country": "FR", "lat": 45.0, "lon": 2.0}),
                    );
                    let index = (r.status == 201).then(|| r.json()["log_index"].as_i64()).flatten();
                    (code.clone(), r.status, index)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    for code in &codes {
        let mut statuses: Vec<u16> = replies
            .iter()
            .filter(|(c, _, _)| c == code)
            .map(|(_, s, _)| *s)
            .collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "{code}: {replies:?}");
    }
    // One entry per success, at the index its reply named, and nothing else.
    let after = srv.log_size();
    assert_eq!(after - before, codes.len() as i64);
    let mut logged = BTreeSet::new();
    for (code, status, index) in &replies {
        if *status == 201 {
            let index = index.expect("a 201 names its log index");
            let entry = srv.entry(index);
            assert_eq!(entry["type"], "city.created");
            assert_eq!(entry["city"], code.as_str());
            assert!(logged.insert(index), "two writes share index {index}");
        }
    }
    assert_eq!(
        logged.into_iter().collect::<Vec<_>>(),
        (before..after).collect::<Vec<_>>()
    );
    // The refused writes left nothing behind.
    for code in &codes {
        assert_eq!(srv.get(&format!("/api/v1/cities/{code}")).status, 200);
    }
});

/// The `amity_write_queue_depth` gauge from /metrics.
fn queue_depth(srv: &crate::support::TestServer) -> i64 {
    let text = srv.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix("amity_write_queue_depth "))
        .unwrap_or_else(|| panic!("no amity_write_queue_depth in /metrics:\n{text}"))
        .trim()
        .parse()
        .expect("a number")
}

/// Queues a grouped write from the host that holds the writer until `release` is sent (or
/// dropped): every grouped write behind it waits in the queue.
fn hold_the_writer(
    srv: &crate::support::TestServer,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (taken, is_taken) = std::sync::mpsc::channel::<()>();
    let db = srv.state.db.clone();
    let holder = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime
            .block_on(db.write_grouped(move |_tx| {
                let _ = taken.send(());
                let _ = held.recv();
                Ok(())
            }))
            .expect("the holding write commits");
    });
    is_taken.recv().expect("the writer took the holding write");
    (release, holder)
}

fn city_body(code: &str) -> serde_json::Value {
    json!({"code": code, "name": format!("Ville {code}"), "country": "FR"})
}

both_backends_with!(
    full_write_queue_refuses_with_retry_after,
    |s| s.write_queue_capacity = 1,
    |srv| {
        let admin = srv.admin();
        let before = srv.log_size();
        assert_eq!(queue_depth(&srv), 0);
        let text = srv.get("/metrics").text();
        assert!(text.contains("amity_write_queue_capacity 1"), "{text}");

        let (release, holder) = hold_the_writer(&srv);
        std::thread::scope(|scope| {
            // Waits in the queue behind the held write: the one place there is.
            let queued =
                scope.spawn(|| srv.post("/api/v1/admin/cities", Some(&admin), &city_body("fr-qa")));
            let started = std::time::Instant::now();
            while queue_depth(&srv) != 1 {
                assert!(started.elapsed().as_secs() < 20, "the write never queued");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            // No room left: refused at once, before it ran.
            let refused = srv.post("/api/v1/admin/cities", Some(&admin), &city_body("fr-qb"));
            refused.assert_problem(503, "write_queue_full");
            assert_eq!(refused.header("retry-after"), Some("1"));

            release.send(()).expect("release the writer");
            assert_eq!(queued.join().expect("client").status, 201);
        });
        holder.join().expect("holder");
        assert_eq!(queue_depth(&srv), 0);
        // The refused write changed nothing; the queued one is the only new entry.
        assert_eq!(srv.get("/api/v1/cities/fr-qb").status, 404);
        assert_eq!(srv.get("/api/v1/cities/fr-qa").status, 200);
        assert_eq!(srv.log_size(), before + 1);

        // Under a burst the queue refuses some and commits the rest; each refusal changed nothing.
        let (release, holder) = hold_the_writer(&srv);
        let codes: Vec<String> = (0..8).map(|i| format!("fr-b{i}")).collect();
        let statuses: Vec<(String, u16)> = std::thread::scope(|scope| {
            let clients: Vec<_> = codes
                .iter()
                .map(|code| {
                    let (srv, admin) = (&srv, &admin);
                    scope.spawn(move || {
                        let r = srv.post("/api/v1/admin/cities", Some(admin), &city_body(code));
                        if r.status == 503 {
                            r.assert_problem(503, "write_queue_full");
                            assert_eq!(r.header("retry-after"), Some("1"));
                        }
                        (code.clone(), r.status)
                    })
                })
                .collect();
            // Let the burst meet the full queue, then let the writer go.
            let started = std::time::Instant::now();
            while queue_depth(&srv) != 1 && started.elapsed().as_secs() < 20 {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
            release.send(()).expect("release the writer");
            clients
                .into_iter()
                .map(|c| c.join().expect("client"))
                .collect()
        });
        holder.join().expect("holder");
        let committed = statuses.iter().filter(|(_, s)| *s == 201).count();
        assert!(
            statuses.iter().all(|(_, s)| *s == 201 || *s == 503),
            "{statuses:?}"
        );
        assert!(
            committed < codes.len(),
            "capacity 1 refused nothing: {statuses:?}"
        );
        for (code, status) in &statuses {
            let expect = if *status == 201 { 200 } else { 404 };
            assert_eq!(
                srv.get(&format!("/api/v1/cities/{code}")).status,
                expect,
                "{code}"
            );
        }
        assert_eq!(srv.log_size(), before + 1 + committed as i64);
    }
);

both_backends!(healthz_fails_when_the_writer_is_gone, |srv| {
    let admin = srv.admin();
    assert_eq!(
        srv.post("/api/v1/admin/cities", Some(&admin), &city_body("fr-ha"))
            .status,
        201
    );
    assert_eq!(srv.get("/healthz").status, 200);
    let before = srv.log_size();

    // On the host, as an embedding process shutting down would; nothing over HTTP can.
    srv.state.db.stop_group_writer();
    let started = std::time::Instant::now();
    let health = loop {
        let r = srv.get("/healthz");
        if r.status != 200 || started.elapsed().as_secs() > 20 {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    health.assert_problem(503, "writer_stopped");
    let refused = srv.post("/api/v1/admin/cities", Some(&admin), &city_body("fr-hb"));
    refused.assert_problem(503, "writer_stopped");
    // Reads still work and show nothing changed.
    assert_eq!(srv.get("/api/v1/cities/fr-hb").status, 404);
    let size = srv.state.db.read(amity::db::log::size).expect("log size");
    assert_eq!(size, before);
});

/// Queues `failing` (a grouped write that must fail) and then a city write over HTTP, both
/// behind a held writer so they share one batch; returns the failing write's error text after
/// checking that the city write committed at the log index the failed write would have had.
fn fail_then_create_in_one_batch<F>(
    srv: &crate::support::TestServer,
    admin: &str,
    code: &str,
    failing: F,
) -> String
where
    F: FnOnce(&mut amity::db::WriteTx<'_>) -> Result<(), amity::db::DbError> + Send + 'static,
{
    let before = srv.log_size();
    let (release, holder) = hold_the_writer(srv);
    let db = srv.state.db.clone();
    let failing = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(db.write_grouped(failing))
    });
    let started = std::time::Instant::now();
    while queue_depth(srv) != 1 {
        assert!(
            started.elapsed().as_secs() < 20,
            "the failing write never queued"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::scope(|scope| {
        let created =
            scope.spawn(|| srv.post("/api/v1/admin/cities", Some(admin), &city_body(code)));
        while queue_depth(srv) != 2 {
            assert!(
                started.elapsed().as_secs() < 20,
                "the city write never queued"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        release.send(()).expect("release the writer");
        let created = created.join().expect("client");
        assert_eq!(created.status, 201, "{}", created.text());
        assert_eq!(created.json()["log_index"], before);
    });
    holder.join().expect("holder");
    let refused = failing.join().expect("failing writer");
    assert_eq!(srv.log_size(), before + 1);
    assert_eq!(srv.entry(before)["city"], code);
    match refused {
        Ok(()) => panic!("the failing write succeeded"),
        Err(e) => e.to_string(),
    }
}

// A grouped write that appends entries and then fails, queued in one batch with a write that
// succeeds. Appends reach the tables only when the batch commits, from the writer's frontier
// kept in memory (`src/db/frontier.rs`), so the failed write's entries and Merkle nodes must
// go with its savepoint: the successful write gets the index the failed one had taken, the
// next batch appends after it, and the tree the server signs is the tree the entries make.
both_backends!(
    a_write_failing_after_its_appends_leaves_none_behind,
    |srv| {
        use amity::domain::entries::{CityCreated, EntryBody, LogEntry};
        use amity::domain::{DomainError, ErrorCode};

        let admin = srv.admin();
        let before = srv.log_size();
        let refused = fail_then_create_in_one_batch(&srv, &admin, "fr-real", |tx| {
            for code in ["fr-ghost-a", "fr-ghost-b", "fr-ghost-c"] {
                let entry = LogEntry::new(
                    tx.now,
                    EntryBody::CityCreated(CityCreated {
                        city: code.into(),
                        name: code.into(),
                        country: "FR".into(),
                        region: None,
                        wikidata: None,
                        geonames_id: None,
                        unlocode: None,
                        lat_e6: None,
                        lon_e6: None,
                    }),
                )?;
                tx.append(&entry)?;
            }
            Err(DomainError::new(ErrorCode::CityExists, "refused after appending").into())
        });
        assert!(refused.contains("refused after appending"), "{refused}");

        let next = srv.post("/api/v1/admin/cities", Some(&admin), &city_body("fr-next"));
        assert_eq!(next.status, 201, "{}", next.text());
        assert_eq!(next.json()["log_index"], before + 1);

        // The audit rebuilds the tree from the entries and compares it with the signed checkpoint
        // (whose root the server computes from the stored nodes) and every inclusion proof.
        let state = srv.db.dir.path().join("audit-state.json");
        let (ok, text) = crate::audit::audit(&srv, &state);
        assert!(ok, "{text}");
    }
);

// A grouped write whose statement fails in the database after it changed a row. PostgreSQL
// then refuses every further statement of the transaction until it is rolled back to a
// savepoint, so this proves the writer's own savepoint handling (`src/db/group.rs`): the
// change is undone, and the next write of the same batch runs and commits.
both_backends!(a_write_failing_in_the_database_rolls_back_alone, |srv| {
    use diesel::connection::SimpleConnection;

    let admin = srv.admin();
    let created = srv.post("/api/v1/admin/cities", Some(&admin), &city_body("fr-kept"));
    assert_eq!(created.status, 201, "{}", created.text());
    let refused = fail_then_create_in_one_batch(&srv, &admin, "fr-after", |tx| {
        tx.conn
            .batch_execute("UPDATE cities SET name = 'Overwritten' WHERE code = 'fr-kept'")?;
        tx.conn.batch_execute("SELECT no_such_column FROM cities")?;
        Ok(())
    });
    assert!(!refused.is_empty());
    let kept = srv.get("/api/v1/cities/fr-kept");
    assert_eq!(kept.status, 200, "{}", kept.text());
    assert_eq!(kept.json()["name"], "Ville fr-kept", "{}", kept.text());
    let state = srv.db.dir.path().join("audit-state.json");
    let (ok, text) = crate::audit::audit(&srv, &state);
    assert!(ok, "{text}");
});

// On PostgreSQL the group writer used to take its connection for each batch from the read
// pool, so with every read connection busy (a burst of reads) grouped writes queued behind
// them and, past the pool's timeout, failed. It has a connection of its own now.
both_backends_with!(
    grouped_writes_do_not_wait_for_a_read_connection,
    |s| s.pool_size = 1,
    |srv| {
        let before = srv.log_size();
        let held = srv.state.db.conn().expect("the one read connection");
        let db = srv.state.db.clone();
        let written = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            runtime.block_on(db.write_grouped(|_tx| Ok(())))
        })
        .join()
        .expect("the writing thread");
        assert!(
            written.is_ok(),
            "a grouped write waited for the read pool: {written:?}"
        );
        drop(held);
        assert_eq!(srv.log_size(), before);
    }
);
