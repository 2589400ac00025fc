//! The briefing report in its three formats, checked against the data that went in.

use serde_json::json;

use crate::both_backends;
use crate::support::{World, status_body};

both_backends!(briefing_in_three_formats, |srv| {
    let w = World::build(&srv);
    // Houston: Shanghai curtailed, Berlin cut off, Osaka active with activities.
    srv.city(&w.admin, "jp-osa", "Osaka <script>alert(1)</script>");
    let osa = srv.office(&w.admin, "jp-osa");
    // A partner whose name is outside Windows-1252, for the PDF's embedded fonts.
    srv.city(&w.admin, "pl-lodz", "Łódź");
    srv.propose(&w.a, "us-hou", "pl-lodz");
    let sha = &w.partnership;
    srv.post(
        &format!("/api/v1/partnerships/{sha}/confirm"),
        Some(&w.b),
        &json!({}),
    );
    let mut curtail = status_body("curtailed", Some("Consulate closures; exchanges suspended"));
    curtail["effective_date"] = json!("2020-07-24");
    assert_eq!(
        srv.post(
            &format!("/api/v1/partnerships/{sha}/status"),
            Some(&w.a),
            &curtail
        )
        .status,
        201
    );
    let ber = srv.propose(&w.c, "de-ber", "us-hou");
    let mut cut = status_body("cut_off", Some("Council vote"));
    cut["effective_date"] = json!("2020-03-01");
    assert_eq!(
        srv.post(
            &format!("/api/v1/partnerships/{ber}/status"),
            Some(&w.a),
            &cut
        )
        .status,
        201
    );
    let osaka = srv.propose(&osa, "jp-osa", "us-hou");
    srv.post(
        &format!("/api/v1/partnerships/{osaka}/confirm"),
        Some(&w.a),
        &json!({}),
    );
    for (mode, date, n, outcome) in [
        (
            "virtual",
            "2020-05-01",
            20,
            "Shared pandemic response plans",
        ),
        (
            "in_person",
            "2020-09-10",
            15,
            "Youth orchestra exchange agreed",
        ),
        ("hybrid", "2019-01-10", 5, "Outside the period"),
    ] {
        let r = srv.post(
            &format!("/api/v1/partnerships/{osaka}/activities"),
            Some(&osa),
            &json!({"kind": "exchange", "mode": mode, "start_date": date, "participants": n, "outcome": outcome}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let base = "/api/v1/cities/us-hou/briefing?from=2020-01-01&to=2020-12-31";

    let md = srv.get(base);
    assert_eq!(md.status, 200, "{}", md.text());
    assert!(
        md.header("content-type")
            .unwrap()
            .starts_with("text/markdown")
    );
    let md = md.text();
    assert!(
        md.contains("# Briefing: Houston (US), 2020-01-01 to 2020-12-31"),
        "{md}"
    );
    assert!(md.contains("## Partnerships (4)"), "{md}");
    // The signed checkpoint the figures were read at, which verifies and is the log's size.
    let note = md
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the checkpoint block");
    let seen = crate::log_checks::open(note, &crate::log_checks::verifier(&srv));
    assert_eq!(seen.size, srv.log_size() as u64);
    assert!(md.contains(&format!("at size {}", seen.size)), "{md}");
    assert!(
        md.contains("### curtailed (1)")
            && md.contains("### cut_off (1)")
            && md.contains("### active (1)"),
        "{md}"
    );
    assert!(md.contains("## Status changes in the period (2)"), "{md}");
    assert!(md.contains("2020-07-24: Shanghai from active to curtailed (political): Consulate closures; exchanges suspended"), "{md}");
    assert!(
        md.contains("| virtual | 1 |")
            && md.contains("| in person | 1 |")
            && md.contains("| hybrid | 0 |"),
        "{md}"
    );
    assert!(
        md.contains("2 activities, 35 participants, 50% virtual or hybrid."),
        "{md}"
    );
    assert!(
        md.contains("Youth orchestra exchange agreed") && !md.contains("Outside the period"),
        "{md}"
    );
    assert!(
        md.contains("Osaka \\<script\\>alert(1)\\</script\\>"),
        "markdown escapes: {md}"
    );

    let html = srv.get(&format!("{base}&format=html"));
    assert!(
        html.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = html.text();
    assert!(
        html.contains("Osaka &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains(&format!(
            "<pre id=\"checkpoint\">{}",
            note.lines().next().unwrap()
        )),
        "{html}"
    );
    assert!(
        html.contains("<td>Consulate closures; exchanges suspended</td>"),
        "{html}"
    );

    let csv = srv.get(&format!("{base}&format=csv"));
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        csv.header("content-disposition")
            .unwrap()
            .contains("briefing-us-hou-2020-01-01-2020-12-31.csv")
    );
    let csv = csv.text();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "section,date,partner,status,kind,detail");
    assert_eq!(
        rows[1],
        format!("checkpoint,,,,{},{}", seen.size, hex::encode(seen.root))
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.starts_with("partnership,"))
            .count(),
        4
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.starts_with("status_change,"))
            .count(),
        2
    );
    assert!(rows.contains(&"engagement,,,,virtual,1"), "{csv}");
    assert_eq!(
        rows.iter()
            .filter(|r| r.starts_with("achievement,"))
            .count(),
        2
    );

    // The PDF: its text the Markdown's, the checkpoint included, and
    // Łódź spelt as it is (embedded fonts, not the WinAnsi-only standard ones).
    let r = srv.get(&format!("{base}&format=pdf"));
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    let pdf = lopdf::Document::load_mem(&r.body).expect("a PDF lopdf reads");
    let pages = pdf.get_pages().len() as u32;
    assert_eq!(
        pages, 2,
        "the checkpoint and one city's figures on two pages"
    );
    let text = pdf.extract_text(&[1, 2]).expect("its text");
    assert!(text.contains("Briefing: Houston (US)"), "{text}");
    assert!(text.contains("Łódź (PL)"), "{text}");
    assert!(text.contains(&format!("at size {}", seen.size)), "{text}");
    assert!(text.contains(note.lines().next().unwrap()), "{text}");
    srv.get("/api/v1/cities/us-hou/briefing?format=docx")
        .assert_problem(400, "invalid_format");
    srv.get("/api/v1/cities/us-hou/briefing?from=2021-01-01&to=2020-01-01")
        .assert_problem(422, "invalid_period");
    srv.get("/api/v1/cities/xx-none/briefing")
        .assert_problem(404, "city_not_found");
});
