//! Log entries: the kinds every write logs and the bound on an entry's size. Each kind's
//! fields are specified in docs/formats/log-entries.md.

/// The most an entry may weigh; larger writes are refused before anything is stored, and a
/// verifier refuses to read a larger one.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// The `type` of each kind of entry.
pub mod kinds {
    pub const CITY_CREATED: &str = "city.created";
    pub const OFFICE_CREATED: &str = "office.created";
    pub const TOKEN_ISSUED: &str = "token.issued";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    pub const PARTNERSHIP_REGISTERED: &str = "partnership.registered";
    pub const PARTNERSHIP_STATUS_CHANGED: &str = "partnership.status_changed";
    pub const ACTIVITY_RECORDED: &str = "activity.recorded";
    pub const ACTIVITY_EVIDENCE_ADDED: &str = "activity.evidence_added";
    pub const MOU_CREATED: &str = "mou.created";
    pub const MOU_VERSION_UPLOADED: &str = "mou.version_uploaded";
    pub const MOU_SIGNATURE_ADDED: &str = "mou.signature_added";
    pub const MOU_WITHDRAWN: &str = "mou.withdrawn";
    pub const KEY_REGISTERED: &str = "key.registered";
    pub const KEY_APPROVED: &str = "key.approved";
    pub const KEY_RETIRED: &str = "key.retired";
    pub const KEY_REVOKED: &str = "key.revoked";
}
