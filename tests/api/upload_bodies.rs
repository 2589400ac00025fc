//! The upload operations accept every body their OpenAPI request body declares: for each
//! declared media type of each upload operation, a body of that type is sent as a generated
//! client would send it, and must be accepted.

use serde_json::Value;

use crate::signing::create_mou;
use crate::support::{Backend, Reply, TestServer, World, multipart};

/// The declared request media types of an operation, with their schemas.
fn declared(doc: &Value, path: &str) -> Vec<(String, Value)> {
    doc["paths"][path]["post"]["requestBody"]["content"]
        .as_object()
        .unwrap_or_else(|| panic!("{path} declares no request body"))
        .iter()
        .map(|(media_type, content)| {
            let schema = &content["schema"];
            let schema = match schema["$ref"].as_str() {
                Some(r) => {
                    &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")]
                }
                None => schema,
            };
            (media_type.clone(), schema.clone())
        })
        .collect()
}

/// POSTs `bytes` as a client sends them for `media_type`: the bytes themselves, or one file
/// part of a multipart form.
fn send_as(
    srv: &TestServer,
    token: &str,
    url: &str,
    media_type: &str,
    filename: &str,
    bytes: &[u8],
) -> Reply {
    let (content_type, body) = if media_type == "multipart/form-data" {
        multipart(&[("file", Some((filename, "application/octet-stream")), bytes)])
    } else {
        (media_type.to_string(), bytes.to_vec())
    };
    srv.send("POST", url, Some(token), Some((&content_type, body)))
}

fn every_declared_upload_body_is_accepted(backend: Backend) {
    let srv = TestServer::start(backend);
    let w = World::build(&srv);
    let doc = srv.get("/api/v1/openapi.json").json();
    let binary = serde_json::json!({"type": "string", "format": "binary"});

    // MOU versions: each declared type once, each a new version.
    let mou = create_mou(&srv, &w.a, &w.partnership);
    let versions = declared(&doc, "/api/v1/mous/{id}/versions");
    let types: Vec<&str> = versions.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "application/octet-stream",
            "application/pdf",
            "multipart/form-data",
            "text/plain"
        ]
    );
    for (n, (media_type, schema)) in versions.iter().enumerate() {
        if media_type == "multipart/form-data" {
            assert_eq!(schema["properties"]["file"], binary, "{schema}");
        } else {
            assert_eq!(schema, &binary, "{media_type}");
        }
        let text = format!("Version {n}: the cities agree to exchange students.");
        let url = format!("/api/v1/mous/{mou}/versions?filename=mou.pdf");
        let r = send_as(&srv, &w.a, &url, media_type, "mou.pdf", text.as_bytes());
        assert_eq!(r.status, 201, "{media_type}: {}", r.text());
    }

    // Activity evidence.
    let activity = srv
        .post(
            &format!("/api/v1/partnerships/{}/activities", w.partnership),
            Some(&w.a),
            &serde_json::json!({"kind": "delegation", "mode": "hybrid", "start_date": "2021-09-01"}),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (n, (media_type, _)) in declared(&doc, "/api/v1/activities/{id}/evidence")
        .iter()
        .enumerate()
    {
        let text = format!("Minutes {n}");
        let url = format!("/api/v1/activities/{activity}/evidence?filename=minutes.txt");
        let r = send_as(&srv, &w.a, &url, media_type, "minutes.txt", text.as_bytes());
        assert_eq!(r.status, 201, "{media_type}: {}", r.text());
    }

    // The CSV import, each declared way; the second and third find nothing new.
    let csv = "city1,country1,lat1,lng1,city2,country2,lat2,lng2\n\
               Berat,Albania,40.7,19.9,Fermo,Italy,43.1,13.7\n";
    let import = declared(&doc, "/api/v1/admin/import");
    let types: Vec<&str> = import.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "application/octet-stream",
            "multipart/form-data",
            "text/csv"
        ]
    );
    let mut created = Vec::new();
    for (media_type, _) in &import {
        let r = send_as(
            &srv,
            &w.admin,
            "/api/v1/admin/import",
            media_type,
            "twins.csv",
            csv.as_bytes(),
        );
        assert_eq!(r.status, 200, "{media_type}: {}", r.text());
        // The row was read each time (then refused as already registered after the first).
        assert_eq!(r.json()["rows"], 1, "{media_type}: {}", r.text());
        created.push(r.json()["partnerships"].as_u64().unwrap());
    }
    assert_eq!(created.iter().sum::<u64>(), 1, "{created:?}");
}

crate::on_both_backends!(every_declared_upload_body_is_accepted);
