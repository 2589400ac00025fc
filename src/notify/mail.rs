//! E-mail delivery over SMTP (docs/notifications.md): claims due e-mails from the outbox,
//! renders each (plain text and HTML) from its event, and sends it with `lettre`. A transient
//! SMTP failure (the server down, a 4xx) is retried on the webhook schedule; a permanent one
//! (5xx: no such mailbox) fails the e-mail at once.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport, Transport};
use maud::html;
use serde_json::Value;

use crate::crypto::signing_link::{self, LinkKey};
use crate::db::mail::{self as store, Email};
use crate::db::{Db, DbError};
use crate::domain::webhooks::{EventType, MessageState};

/// How the worker sends.
#[derive(Debug, Clone)]
pub struct Mailer {
    /// `smtp://host:port` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host` (TLS from the start): lettre's connection URL.
    pub smtp_url: String,
    pub from: String,
    /// Where the registry's pages are, for the links in the text.
    pub public_url: String,
    pub timeout: Duration,
    /// Computes each request's signing link for the request and reminder e-mails.
    pub links: LinkKey,
}

/// A rendered e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The subject and the two bodies of an e-mail about `event`, addressed to `signer`. The
/// request and reminder e-mails carry the signatory's signing link (docs/browser-signing.md),
/// computed here from the request id with `links`, as it is never stored.
pub fn render(
    event: &str,
    data: &Value,
    signer: &str,
    public_url: &str,
    links: &LinkKey,
) -> Rendered {
    let s = |key: &str| data.get(key).and_then(Value::as_str).unwrap_or_default();
    let title = s("title");
    let mou = s("mou");
    let link = format!("{}/mous/{mou}", public_url.trim_end_matches('/'));
    let signing_page = |request: Option<&str>| match request {
        Some(request) => format!(
            "Sign or decline in your browser: {}",
            signing_link::url(public_url, &links.token(request))
        ),
        None => "Your office will tell you how to sign.".to_string(),
    };
    let (subject, lines): (String, Vec<String>) = match EventType::parse(event) {
        Some(EventType::SignatureRequestSent) => {
            let mine = data["requests"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["signer"] == signer));
            let role = mine.and_then(|r| r["role"].as_str()).unwrap_or("signatory");
            let group = mine.and_then(|r| r["group"].as_i64()).unwrap_or(1);
            (
                format!("Please sign: {title}"),
                vec![
                    format!("You ({signer}) are asked to sign \"{title}\" as {role}."),
                    format!(
                        "The request comes from the office of {}; the partnership is {}.",
                        s("requested_by_city"),
                        s("partnership")
                    ),
                    version_line(data),
                    format!("You sign in group {group}: earlier groups sign first."),
                    format!("Deadline: {}.", s("deadline")),
                    "Check each document's SHA-256 against the text you reviewed before you sign, or decline with a reason.".to_string(),
                    signing_page(mine.and_then(|r| r["id"].as_str())),
                ],
            )
        }
        Some(EventType::SignatureRequestReminder) => (
            format!("Reminder: please sign {title}"),
            vec![
                format!(
                    "You ({signer}) are still asked to sign \"{title}\" as {}, by {}.",
                    s("role"),
                    s("deadline")
                ),
                format!("This is reminder {}.", data["reminder"]),
                "If you have signed or declined meanwhile, no further reminder follows.".to_string(),
                signing_page(data["request"].as_str()),
            ],
        ),
        Some(EventType::KeyUsed) => {
            let action = if s("action") == "decline" {
                "decline"
            } else {
                "sign"
            };
            (
                format!("Your key was used to {action}: {title}"),
                vec![
                    format!(
                        "Your signing key {} ({signer}) was used to {action} \"{title}\", version {}.",
                        s("key_fingerprint"),
                        data["version"]
                    ),
                    format!(
                        "It was submitted {}.",
                        if s("submitted_through") == "signing_link" {
                            "through your signing link"
                        } else {
                            "by your city's office"
                        }
                    ),
                    "If this was not you, tell your office at once: it revokes the key, and the signatures made with it since it was compromised become void.".to_string(),
                ],
            )
        }
        Some(EventType::SignatureRequestDeclined) => (
            format!("Declined: {title}"),
            vec![
                format!("{} declined to sign \"{title}\".", s("signer")),
                format!("Their reason: {}", s("reason")),
                "The round of requests has ended; the office may send a new version or a new round.".to_string(),
            ],
        ),
        Some(EventType::SignatureRequestExpired) => (
            format!("Expired: {title}"),
            vec![
                format!(
                    "The request to sign \"{title}\" expired unanswered at {}.",
                    s("deadline")
                ),
                "The office may send a new round.".to_string(),
            ],
        ),
        Some(EventType::MouExecuted) => (
            format!("Executed: {title}"),
            vec![
                format!("\"{title}\" has every required signature and is executed."),
                version_line(data),
            ],
        ),
        _ => (format!("Amity: {event}"), vec![format!("Event {event}.")]),
    };
    let mut text = lines.join("\n\n");
    text.push_str(&format!(
        "\n\nThe MOU and its evidence: {link}\nLog entry {} of the registry's transparency log.\n",
        data["log_index"]
    ));
    let html = html! {
        @for line in &lines { p { (line) } }
        p { "The MOU and its evidence: " a href=(link) { (link) } }
        p { "Log entry " (data["log_index"].to_string()) " of the registry's transparency log." }
    }
    .into_string();
    Rendered {
        subject,
        text,
        html,
    }
}

/// Sends every due e-mail once; returns how many were attempted.
pub fn deliver_due(db: &Db, mailer: &Mailer) -> Result<usize, DbError> {
    // One transport for the round; a URL that does not parse fails every e-mail for good.
    let transport = SmtpTransport::from_url(&mailer.smtp_url)
        .map(|b| b.timeout(Some(mailer.timeout)).build())
        .map_err(|x| format!("AMITY_SMTP_URL: {x}"));
    super::drain(db, mailer.timeout, store::claim_due, |batch| {
        for email in batch {
            let result = match &transport {
                Ok(t) => send(t, &email, mailer),
                Err(why) => Err((true, why.clone())),
            };
            let at = db.now();
            let failed = u32::try_from(email.attempts).unwrap_or(0) + 1;
            let (state, next, error) = match result {
                Ok(()) => (MessageState::Delivered, at, None),
                Err((permanent, why)) => {
                    match super::retry_time(failed, at, 0).filter(|_| !permanent) {
                        Some(next) => (MessageState::Pending, next, Some(why)),
                        None => (MessageState::Failed, at, Some(why)),
                    }
                }
            };
            db.side_write(|c| store::record(c, &email, state, next, error, at))?;
        }
        Ok(())
    })
}

/// One attempt; the error says whether it is permanent.
fn send(transport: &SmtpTransport, e: &Email, mailer: &Mailer) -> Result<(), (bool, String)> {
    let data: Value = serde_json::from_str(&e.data).map_err(|x| (true, x.to_string()))?;
    let r = render(
        &e.event_type,
        &data,
        &e.signer,
        &mailer.public_url,
        &mailer.links,
    );
    let from: Mailbox = mailer
        .from
        .parse()
        .map_err(|x| (true, format!("AMITY_MAIL_FROM: {x}")))?;
    let to: Mailbox = e
        .recipient
        .parse()
        .map_err(|x| (true, format!("recipient: {x}")))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(r.subject)
        .multipart(MultiPart::alternative_plain_html(r.text, r.html))
        .map_err(|x| (true, x.to_string()))?;
    transport
        .send(&message)
        .map(|_| ())
        .map_err(|x| (x.is_permanent(), x.to_string()))
}

/// The version and its documents' hashes: one document by its SHA-256, a multilingual
/// version's each with its language.
fn version_line(data: &Value) -> String {
    let documents: Vec<String> = data["documents"]
        .as_array()
        .map(|docs| {
            docs.iter()
                .map(|d| match d["language"].as_str() {
                    Some(language) => {
                        format!("{language} {}", d["sha256"].as_str().unwrap_or_default())
                    }
                    None => d["sha256"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    match documents.as_slice() {
        [] | [_] => format!(
            "Version {}, document SHA-256 {}.",
            data["version"],
            data["doc_sha256"].as_str().unwrap_or_default()
        ),
        several => format!(
            "Version {}, {} documents, equally authentic, SHA-256: {}.",
            data["version"],
            several.len(),
            several.join("; ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_names_the_mou_its_document_the_deadline_and_the_link() {
        let data = json!({
            "mou": "m-1", "title": "Friendship <MOU>", "partnership": "p-1",
            "requested_by_city": "gb-cov", "version": 2, "doc_sha256": "ab".repeat(32),
            "deadline": "2026-12-20T17:00:00.000000Z", "log_index": 41,
            "requests": [{"id": "r-7", "signer": "mayor@ru-vgg", "role": "signatory", "group": 2}],
        });
        let links = LinkKey::derive(b"test registry key");
        let r = render(
            "signature_request.sent",
            &data,
            "mayor@ru-vgg",
            "https://amity.example/",
            &links,
        );
        assert_eq!(r.subject, "Please sign: Friendship <MOU>");
        for needle in [
            "gb-cov",
            &"ab".repeat(32),
            "2026-12-20T17:00:00.000000Z",
            "group 2",
            "https://amity.example/mous/m-1",
            &format!("https://amity.example/sign/{}", links.token("r-7")),
        ] {
            assert!(r.text.contains(needle), "{needle} in {}", r.text);
        }
        // The title is escaped in HTML, as text.
        assert!(r.html.contains("Friendship &lt;MOU&gt;"), "{}", r.html);
        assert!(!r.html.contains("<MOU>"));
    }

    /// docs/notifications.md shows the request e-mail of the README's signing walkthrough's
    /// second round; it is what `render` writes for that event (the page leaves out the blank
    /// lines), and its hash is the walkthrough's version 2.
    #[test]
    fn the_docs_show_the_request_mail_as_rendered() {
        use sha2::{Digest, Sha256};
        let page = include_str!("../../docs/notifications.md");
        let start = page
            .find("```text\nSubject: Please sign")
            .expect("the sample")
            + 8;
        let sample: Vec<&str> = page[start..].lines().take_while(|l| *l != "```").collect();
        let version_2 = "Memorandum of Understanding on Friendship between Houston and Shanghai\n\
                         Article 2: an exchange of 20 students a year.\n";
        let data = json!({
            "mou": "01a23d55-9f21-7c0a-b3d8-2e6f4a1c9b57", "title": "Friendship MOU",
            "partnership": "01a23d55-8e3b-7f61-a0c4-6b2f1d9e7a10", "requested_by_city": "us-hou",
            "version": 2, "doc_sha256": hex::encode(Sha256::digest(version_2)),
            "deadline": "2026-12-20T17:00:00.000000Z", "log_index": 58,
            "requests": [{"id": "01a23d55-a7c2-7d13-9e58-4b1f0c6d2e84", "signer": "mayor@us-hou",
                          "role": "signatory", "group": 1},
                         {"id": "01a23d55-a7c2-7d13-9e58-4b1f0c6d2e85", "signer": "mayor@cn-sha",
                          "role": "signatory", "group": 2}],
        });
        // The README's link is computed with this key, as a registry computes its own.
        let links = LinkKey::derive(b"the README's registry");
        let r = render(
            "signature_request.sent",
            &data,
            "mayor@cn-sha",
            "https://amity.example",
            &links,
        );
        let subject = format!("Subject: {}", r.subject);
        let rendered: Vec<&str> = std::iter::once(subject.as_str())
            .chain(r.text.lines().filter(|l| !l.is_empty()))
            .collect();
        assert_eq!(sample, rendered);
    }

    #[test]
    fn a_key_use_notice_names_the_key_the_mou_and_what_to_do() {
        let data = json!({
            "signer": "mayor@cn-sha", "key": "k-1", "key_fingerprint": "SHA256:abc",
            "action": "decline", "mou": "m-1", "title": "Friendship MOU", "version": 2,
            "submitted_through": "signing_link", "log_index": 9,
        });
        let r = render(
            "key.used",
            &data,
            "mayor@cn-sha",
            "https://amity.example",
            &LinkKey::derive(b"k"),
        );
        assert_eq!(r.subject, "Your key was used to decline: Friendship MOU");
        for needle in [
            "SHA256:abc",
            "version 2",
            "through your signing link",
            "revokes the key",
        ] {
            assert!(r.text.contains(needle), "{needle} in {}", r.text);
        }
    }
}
