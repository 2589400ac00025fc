//! Group commit: writes sent at the same time share transactions, yet each is answered on
//! its own. A write refused by a rule (here a duplicate city) rolls back alone, and the log
//! holds exactly one entry per 201, each with its own index.

use std::collections::BTreeSet;

use serde_json::json;

use crate::both_backends;
use crate::support::World;

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
