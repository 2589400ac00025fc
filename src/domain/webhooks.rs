//! Webhooks as the Standard Webhooks specification defines them (docs/notifications.md): the
//! event types an office may subscribe to, `whsec_` secrets, the `v1` signature over
//! `id.timestamp.body`, the address guard, and the retry schedule. Pure: the delivery worker
//! (`notify`) and the use cases (`app::webhooks`) call these.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::DomainError;
use crate::domain::ErrorCode;

/// What a webhook endpoint may subscribe to. Named as the specification's examples name
/// events (`noun.verb`), so serde and the schema spell each one out.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub enum EventType {
    #[serde(rename = "signature_request.sent")]
    SignatureRequestSent,
    #[serde(rename = "signature_request.signed")]
    SignatureRequestSigned,
    #[serde(rename = "signature_request.declined")]
    SignatureRequestDeclined,
    #[serde(rename = "signature_request.expired")]
    SignatureRequestExpired,
    #[serde(rename = "signature_request.reminder")]
    SignatureRequestReminder,
    #[serde(rename = "mou.executed")]
    MouExecuted,
    #[serde(rename = "partnership.status_changed")]
    PartnershipStatusChanged,
    /// A signatory key signed or declined: its signer hears of every use (docs/notifications.md).
    #[serde(rename = "key.used")]
    KeyUsed,
}

impl EventType {
    pub const ALL: &'static [EventType] = &[
        EventType::SignatureRequestSent,
        EventType::SignatureRequestSigned,
        EventType::SignatureRequestDeclined,
        EventType::SignatureRequestExpired,
        EventType::SignatureRequestReminder,
        EventType::MouExecuted,
        EventType::PartnershipStatusChanged,
        EventType::KeyUsed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SignatureRequestSent => "signature_request.sent",
            EventType::SignatureRequestSigned => "signature_request.signed",
            EventType::SignatureRequestDeclined => "signature_request.declined",
            EventType::SignatureRequestExpired => "signature_request.expired",
            EventType::SignatureRequestReminder => "signature_request.reminder",
            EventType::MouExecuted => "mou.executed",
            EventType::PartnershipStatusChanged => "partnership.status_changed",
            EventType::KeyUsed => "key.used",
        }
    }

    pub fn parse(value: &str) -> Option<EventType> {
        EventType::ALL.iter().copied().find(|t| t.as_str() == value)
    }
}

/// The longest endpoint URL taken.
pub const MAX_URL_LEN: usize = 2000;
/// Secrets are 32 random bytes (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;
/// The secret prefix the specification uses.
pub const SECRET_PREFIX: &str = "whsec_";

/// A webhook secret: the bytes HMAC keys with, and its `whsec_` text.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    pub fn generate() -> WebhookSecret {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::thread_rng().fill_bytes(&mut bytes);
        WebhookSecret(bytes)
    }

    /// `whsec_` and standard base64 of the key bytes.
    pub fn parse(text: &str) -> Option<WebhookSecret> {
        let b64 = text.strip_prefix(SECRET_PREFIX)?;
        let bytes = STANDARD.decode(b64).ok()?;
        (!bytes.is_empty()).then_some(WebhookSecret(bytes))
    }

    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `v1,<base64>` signature of message `id` sent at `timestamp` (Unix seconds).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one `v1,` signature per live secret, space separated, so a
/// receiver that has either secret during a rotation accepts the message.
pub fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses the event types an endpoint subscribes to: at least one, each known, each once.
pub fn parse_event_types(values: &[String]) -> Result<Vec<EventType>, DomainError> {
    if values.is_empty() {
        return Err(DomainError::new(
            ErrorCode::InvalidEventType,
            "subscribe to at least one event type",
        ));
    }
    let mut out: Vec<EventType> = Vec::new();
    for v in values {
        let t = EventType::parse(v).ok_or_else(|| {
            DomainError::new(
                ErrorCode::InvalidEventType,
                format!(
                    "unknown event type {v:?}; known: {}",
                    EventType::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out.sort_by_key(|t| t.as_str());
    Ok(out)
}

/// Whether an address is one the guard refuses by default: loopback, private (RFC 1918, unique
/// local), link-local, unspecified, shared (RFC 6598), multicast or broadcast. Webhooks there
/// would let anyone who can register an endpoint probe the registry's own network.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// A parsed endpoint URL: scheme `http` or `https`, a host, no user info or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    pub url: String,
    pub host: String,
    pub port: u16,
}

fn bad_url(why: &str) -> DomainError {
    DomainError::new(
        ErrorCode::InvalidWebhookUrl,
        format!("the endpoint URL {why}"),
    )
}

/// Checks an endpoint URL; with `allow_internal` false, a host that is an internal address
/// (or `localhost`) is refused here, and every address a name resolves to is checked again at
/// each delivery.
pub fn parse_endpoint_url(text: &str, allow_internal: bool) -> Result<EndpointUrl, DomainError> {
    if text.len() > MAX_URL_LEN || text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad_url(
            "must be at most 2000 characters, without spaces or control characters",
        ));
    }
    let url = url::Url::parse(text).map_err(|_| bad_url("is not an absolute URL"))?;
    let default_port = match url.scheme() {
        "https" => 443,
        "http" => 80,
        _ => return Err(bad_url("must start with https:// or http://")),
    };
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(bad_url("must not carry user info or a fragment"));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(bad_url("has no host")),
    };
    if !allow_internal {
        let internal = match host.parse::<IpAddr>() {
            Ok(ip) => is_internal(ip),
            Err(_) => {
                let h = host.trim_end_matches('.').to_ascii_lowercase();
                h == "localhost" || h.ends_with(".localhost")
            }
        };
        if internal {
            return Err(DomainError::new(
                ErrorCode::WebhookAddressRefused,
                format!(
                    "`{host}` is a loopback, private or link-local address; this registry does not deliver there (AMITY_WEBHOOK_ALLOW_INTERNAL)"
                ),
            ));
        }
    }
    Ok(EndpointUrl {
        url: url.to_string(),
        host,
        port: url.port().unwrap_or(default_port),
    })
}

/// Seconds to wait before attempt `n + 1` after `n` failed attempts (n from 1), about three
/// days in all; `None` once the schedule is spent. Each delay is spread by up to a fifth either
/// way, so endpoints that failed together are not retried together.
pub fn retry_delay_secs(failed_attempts: u32, jitter: f64) -> Option<i64> {
    const SCHEDULE: [i64; 12] = [
        5,
        60,
        5 * 60,
        30 * 60,
        2 * 3600,
        5 * 3600,
        10 * 3600,
        10 * 3600,
        12 * 3600,
        12 * 3600,
        12 * 3600,
        12 * 3600,
    ];
    let base = *SCHEDULE.get(usize::try_from(failed_attempts).ok()?.checked_sub(1)?)?;
    let spread = jitter.clamp(-1.0, 1.0) * 0.2;
    Some(((base as f64) * (1.0 + spread)).round().max(1.0) as i64)
}

/// The most attempts a message gets: the first and one per step of the schedule.
pub fn max_attempts() -> u32 {
    13
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks specification.
    #[test]
    fn signs_the_specification_vector() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let fresh = WebhookSecret::generate();
        assert_eq!(WebhookSecret::parse(&fresh.to_text()), Some(fresh.clone()));
        let both = signature_header(&[secret, fresh], "msg_1", 1, b"{}");
        assert_eq!(both.split(' ').count(), 2);
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
    }

    #[test]
    fn the_address_guard_refuses_internal_hosts() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "https://10.1.2.3/",
            "https://192.168.0.10/",
            "https://172.16.5.4/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
        ] {
            let err = parse_endpoint_url(url, false).unwrap_err();
            assert_eq!(err.code, ErrorCode::WebhookAddressRefused, "{url}");
            assert!(parse_endpoint_url(url, true).is_ok(), "{url}");
        }
        for url in [
            "https://hooks.example.org/amity",
            "http://203.0.113.7:8443/x?y=1",
        ] {
            assert!(parse_endpoint_url(url, false).is_ok(), "{url}");
        }
        for url in [
            "ftp://example.org/",
            "https://user:pw@example.org/",
            "https://example.org/#frag",
            "not a url",
            "https://example.org/a b",
        ] {
            assert_eq!(
                parse_endpoint_url(url, true).unwrap_err().code,
                ErrorCode::InvalidWebhookUrl,
                "{url}"
            );
        }
    }

    #[test]
    fn retries_spread_over_about_three_days() {
        let total: i64 = (1..max_attempts())
            .map(|n| retry_delay_secs(n, 0.0).unwrap())
            .sum();
        assert!((60 * 3600..=84 * 3600).contains(&total), "{total}");
        assert_eq!(retry_delay_secs(max_attempts(), 0.0), None);
        assert_eq!(retry_delay_secs(0, 0.0), None);
        assert_eq!(retry_delay_secs(1, 1.0), Some(6));
        assert_eq!(retry_delay_secs(1, -1.0), Some(4));
    }

    #[test]
    fn event_type_names_are_the_same_everywhere() {
        for t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
        }
    }

    #[test]
    fn event_types_are_a_closed_list() {
        let ok = parse_event_types(&["mou.executed".into(), "mou.executed".into()]).unwrap();
        assert_eq!(ok, [EventType::MouExecuted]);
        assert!(parse_event_types(&[]).is_err());
        assert!(parse_event_types(&["mou.signed".into()]).is_err());
    }
}

/// A registered webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub city: String,
    pub url: String,
    pub secret: WebhookSecret,
    /// The secret before the last rotation, still signing until `previous_secret_until`.
    pub previous_secret: Option<WebhookSecret>,
    pub previous_secret_until: Option<i64>,
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Endpoint {
    /// The secrets a message sent at `now` is signed with.
    pub fn live_secrets(&self, now: i64) -> Vec<WebhookSecret> {
        let mut out = vec![self.secret.clone()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && now < until
        {
            out.push(previous.clone());
        }
        out
    }
}

/// How long the previous secret keeps signing after a rotation: a receiver has a day to
/// switch.
pub const ROTATION_OVERLAP_MICROS: i64 = 24 * 3600 * 1_000_000;

string_enum! {
    /// Where a message stands.
    MessageState {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
}

/// One message to one endpoint, as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The `webhook-id`: the same on every attempt.
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    /// The exact body sent.
    pub payload: String,
    pub log_index: i64,
    pub state: MessageState,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub attempt: i32,
    pub attempted_at: i64,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// The longest e-mail address taken (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Checks a signatory's e-mail address: one address, as SMTP takes it (`local@domain`).
pub fn validate_email(value: &str) -> Result<String, DomainError> {
    let ok = value.len() <= MAX_EMAIL_LEN
        && !value.chars().any(|c| c.is_control() || c.is_whitespace())
        && value.parse::<lettre::Address>().is_ok();
    if ok {
        Ok(value.to_string())
    } else {
        Err(DomainError::new(
            ErrorCode::InvalidEmail,
            format!("{value:?} is not an e-mail address such as mayor@coventry.gov.uk"),
        ))
    }
}
