//! MOUs, their document versions and their append-only signature chains.

use crate::domain::ErrorCode;
use crate::domain::ids::{KeyId, MouId, PartnershipId, TokenId};
use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Binary, Text};
use serde_json::json;

use super::error::is_unique_violation;
use super::schema::{
    mou_signatures, mou_version_documents, mou_versions, mous, partnerships as partnerships_table,
    signatory_keys,
};
use super::{DbConn, DbError, WriteTx, keys, partnerships, requests, webhooks};
use crate::domain::DomainError;
use crate::domain::audit::StoredVersion;
use crate::domain::cities::CityCode;
use crate::domain::entries::{
    EntryBody, LogEntry, LoggedDocument, MouCreated, MouSignatureAdded, MouVersionUploaded,
    MouWithdrawn,
};
use crate::domain::keys::{SignatoryKey, revocation_voids};
use crate::domain::mous::{
    Mou, MouState, NewMou, RequiredSigner, SignedBy, Version, VersionDocument, check_new_version,
    is_executed,
};
use crate::domain::partnerships::{Partnership, Status, StatusChange, Trigger};
use crate::domain::requests::CancelCause;
use crate::domain::signatures::{AcceptContext, Submission, accept};
use crate::domain::webhooks::EventType;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mous)]
pub struct MouRow {
    pub id: String,
    pub partnership_id: String,
    pub title: String,
    pub required_signers: String,
    pub state: String,
    pub current_version: i32,
    pub head_seq: i64,
    pub head_hash: Vec<u8>,
    pub created_by_city: String,
    pub created_by: Option<String>,
    pub withdrawn_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub log_index: i64,
}

impl TryFrom<MouRow> for Mou {
    type Error = DbError;

    fn try_from(r: MouRow) -> Result<Self, DbError> {
        let required: Vec<RequiredSigner> = serde_json::from_str(&r.required_signers)
            .map_err(|e| DbError::corrupt(format!("required signers of {}: {e}", r.id)))?;
        Ok(Mou {
            state: MouState::parse(&r.state)
                .ok_or_else(|| DbError::corrupt(format!("MOU state {:?}", r.state)))?,
            head_hash: r
                .head_hash
                .as_slice()
                .try_into()
                .map_err(|_| DbError::corrupt(format!("chain head of {}", r.id)))?,
            created_by_city: CityCode::parse(&r.created_by_city)
                .map_err(|e| DbError::corrupt(e.message))?,
            required,
            id: MouId::from_db(r.id),
            partnership_id: PartnershipId::from_db(r.partnership_id),
            title: r.title,
            current_version: r.current_version,
            head_seq: r.head_seq,
            created_by: r.created_by,
            withdrawn_reason: r.withdrawn_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
            log_index: r.log_index,
        })
    }
}

/// Version metadata without the bytes.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mou_versions)]
pub struct VersionRow {
    pub mou_id: String,
    pub version: i32,
    pub media_type: String,
    pub filename: Option<String>,
    pub size: i64,
    pub sha256: Vec<u8>,
    pub uploaded_by: Option<String>,
    pub uploaded_at: i64,
    pub log_index: i64,
    pub language: Option<String>,
}

/// A document of a multilingual version beyond the first, without its bytes.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mou_version_documents)]
pub struct VersionDocumentRow {
    pub mou_id: String,
    pub version: i32,
    pub position: i32,
    pub language: String,
    pub media_type: String,
    pub filename: Option<String>,
    pub size: i64,
    pub sha256: Vec<u8>,
}

impl TryFrom<VersionDocumentRow> for VersionDocument {
    type Error = DbError;

    fn try_from(r: VersionDocumentRow) -> Result<Self, DbError> {
        Ok(VersionDocument {
            sha256: r.sha256.as_slice().try_into().map_err(|_| {
                DbError::corrupt(format!(
                    "hash of {} v{} document {}",
                    r.mou_id, r.version, r.position
                ))
            })?,
            position: r.position,
            language: r.language,
            media_type: r.media_type,
            filename: r.filename,
            size: r.size,
        })
    }
}

/// Fills in the additional documents of multilingual versions among `versions`, with one
/// query for all of them.
fn attach_additional(conn: &mut DbConn, versions: &mut [Version]) -> Result<(), DbError> {
    if versions.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<&str> = versions.iter().map(|v| v.mou_id.as_str()).collect();
    ids.dedup();
    let rows: Vec<VersionDocumentRow> = per_backend!(conn, |c| mou_version_documents::table
        .filter(mou_version_documents::mou_id.eq_any(&ids))
        .order((
            mou_version_documents::mou_id.asc(),
            mou_version_documents::version.asc(),
            mou_version_documents::position.asc(),
        ))
        .select(VersionDocumentRow::as_select())
        .load(c))?;
    for row in rows {
        let owner = versions
            .iter_mut()
            .find(|v| v.mou_id.as_str() == row.mou_id && v.version == row.version);
        if let Some(owner) = owner {
            owner.additional.push(VersionDocument::try_from(row)?);
        }
    }
    Ok(())
}

impl TryFrom<VersionRow> for Version {
    type Error = DbError;

    fn try_from(r: VersionRow) -> Result<Self, DbError> {
        Ok(Version {
            sha256: r
                .sha256
                .as_slice()
                .try_into()
                .map_err(|_| DbError::corrupt(format!("hash of {} v{}", r.mou_id, r.version)))?,
            mou_id: MouId::from_db(r.mou_id),
            version: r.version,
            media_type: r.media_type,
            filename: r.filename,
            size: r.size,
            language: r.language,
            additional: Vec::new(),
            uploaded_by: r.uploaded_by,
            uploaded_at: r.uploaded_at,
            log_index: r.log_index,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mou_signatures)]
// A `None` is inserted as NULL rather than left out, so the INSERT's SQL is always the same and
// diesel can cache its prepared statement by type (it runs for every signature).
#[diesel(treat_none_as_null = true)]
pub struct SignatureRow {
    pub id: String,
    pub mou_id: String,
    pub seq: i64,
    pub version: i32,
    pub statement: Vec<u8>,
    pub statement_sha256: Vec<u8>,
    pub signature: Vec<u8>,
    pub key_id: String,
    pub signer: String,
    pub signer_city: String,
    pub role: String,
    pub received_at: i64,
    pub submitted_by: Option<String>,
    pub log_index: i64,
}

/// The refusal of an MOU for a partnership id (well-formed or not) that names none.
pub fn unknown_partnership(id: &str) -> DomainError {
    DomainError::new(
        ErrorCode::UnknownPartnership,
        format!("there is no partnership `{id}`"),
    )
}

fn mou_not_found(id: &MouId) -> DbError {
    MouId::not_found(id.as_str()).into()
}

pub fn get(conn: &mut DbConn, id: &MouId) -> Result<Option<Mou>, DbError> {
    per_backend!(conn, |c| mous::table
        .filter(mous::id.eq(id.as_str()))
        .select(MouRow::as_select())
        .first(c)
        .optional())?
    .map(Mou::try_from)
    .transpose()
}

/// One page of every MOU, in id (creation) order after `after`, `limit` of them (the caller
/// asks for one more to learn whether a next page exists), each with its versions: two
/// queries for the page, not one per MOU.
pub fn list(
    conn: &mut DbConn,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(Mou, Vec<Version>)>, DbError> {
    let rows: Vec<MouRow> = per_backend!(conn, |c| {
        let mut q = mous::table
            .select(MouRow::as_select())
            .order(mous::id.asc())
            .limit(limit)
            .into_boxed();
        if let Some(after) = after {
            q = q.filter(mous::id.gt(after));
        }
        q.load(c)
    })?;
    let mous: Vec<Mou> = rows
        .into_iter()
        .map(Mou::try_from)
        .collect::<Result<_, _>>()?;
    let ids: Vec<&str> = mous.iter().map(|m| m.id.as_str()).collect();
    let mut versions: Vec<Version> = mou_versions::table
        .filter(mou_versions::mou_id.eq_any(&ids))
        .order((mou_versions::mou_id.asc(), mou_versions::version.asc()))
        .select(VersionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Version::try_from)
        .collect::<Result<_, _>>()?;
    attach_additional(conn, &mut versions)?;
    let mut page = Vec::with_capacity(mous.len());
    for mou in mous {
        let split = versions
            .iter()
            .position(|v| v.mou_id != mou.id)
            .unwrap_or(versions.len());
        let rest = versions.split_off(split);
        page.push((mou, std::mem::replace(&mut versions, rest)));
    }
    Ok(page)
}

pub fn require(conn: &mut DbConn, id: &MouId) -> Result<Mou, DbError> {
    get(conn, id)?.ok_or_else(|| mou_not_found(id))
}

/// An MOU with its partnership (whose cities are the parties).
pub fn require_with_partnership(
    conn: &mut DbConn,
    id: &MouId,
) -> Result<(Mou, Partnership), DbError> {
    // One joined statement: this runs inside every signature's write on the serial writer.
    let (mou, p): (MouRow, partnerships::PartnershipRow) = per_backend!(conn, |c| mous::table
        .inner_join(partnerships_table::table)
        .filter(mous::id.eq(id.as_str()))
        .select((
            MouRow::as_select(),
            partnerships::PartnershipRow::as_select(),
        ))
        .first(c)
        .optional())?
    .ok_or_else(|| mou_not_found(id))?;
    Ok((Mou::try_from(mou)?, Partnership::try_from(p)?))
}

/// An MOU with its partnership and its current version (with that version's documents), as
/// a signature's acceptance needs them: one joined statement, one row per document, because
/// it runs inside every signature's write on the serial writer.
fn require_for_signature(
    conn: &mut DbConn,
    id: &MouId,
    key_fingerprint: &str,
) -> Result<ForSignature, DbError> {
    type Row = (
        MouRow,
        partnerships::PartnershipRow,
        Option<VersionRow>,
        Option<VersionDocumentRow>,
        Option<keys::KeyRow>,
    );
    let rows: Vec<Row> = per_backend!(conn, |c| mous::table
        .inner_join(partnerships_table::table)
        .left_join(
            mou_versions::table.on(mou_versions::mou_id
                .eq(mous::id)
                .and(mou_versions::version.eq(mous::current_version))),
        )
        .left_join(
            mou_version_documents::table.on(mou_version_documents::mou_id
                .eq(mou_versions::mou_id)
                .and(mou_version_documents::version.eq(mou_versions::version))),
        )
        // At most one row (the fingerprint is unique), repeated beside each document.
        .left_join(signatory_keys::table.on(signatory_keys::fingerprint.eq(key_fingerprint)),)
        .filter(mous::id.eq(id.as_str()))
        .order(mou_version_documents::position.asc())
        .select((
            MouRow::as_select(),
            partnerships::PartnershipRow::as_select(),
            Option::<VersionRow>::as_select(),
            Option::<VersionDocumentRow>::as_select(),
            Option::<keys::KeyRow>::as_select(),
        ))
        .load(c))?;
    let mut rows = rows.into_iter();
    let (mou, p, version, first, key) = rows.next().ok_or_else(|| mou_not_found(id))?;
    // As `current_version`: none before the first version.
    let version = match version {
        Some(v) => Some(with_documents(
            v,
            std::iter::once(first).chain(rows.map(|(.., d, _)| d)),
        )?),
        None => None,
    };
    Ok(ForSignature {
        mou: Mou::try_from(mou)?,
        partnership: Partnership::try_from(p)?,
        current_version: version,
        key: key.map(SignatoryKey::try_from).transpose()?,
    })
}

/// What the acceptance of a signature reads before anything else, in one statement (a round
/// trip fewer on the serial writer for each of the MOU, its partnership, its current version
/// with documents, and the signing key).
struct ForSignature {
    mou: Mou,
    partnership: Partnership,
    /// As `current_version`: none before the first version.
    current_version: Option<Version>,
    /// The key the statement names, if it is registered.
    key: Option<SignatoryKey>,
}

/// Creates a draft MOU. `authorize` sees the partnership and returns the acting city.
pub fn create(
    tx: &mut WriteTx<'_>,
    partnership_id: &PartnershipId,
    validate: impl FnOnce(&Partnership) -> Result<(NewMou, CityCode), DomainError>,
    token_id: Option<TokenId>,
) -> Result<(Mou, Partnership), DbError> {
    let token_id = token_id.map(TokenId::into_string);
    let p = partnerships::get(tx.conn, partnership_id)?
        .ok_or_else(|| unknown_partnership(partnership_id.as_str()))?;
    let (new, city) = validate(&p)?;
    if p.status == Status::CutOff {
        return Err(DomainError::new(
            ErrorCode::PartnershipCutOff,
            "this partnership is cut off; an MOU needs a living partnership",
        )
        .into());
    }
    let required_json = String::from_utf8(crate::domain::entries::canonical_json(&json!(
        new.required
    ))?)
    .map_err(|_| DbError::corrupt("required signers JSON"))?;
    let id = MouId::generate();
    let entry = LogEntry::new(
        tx.now,
        EntryBody::MouCreated(MouCreated {
            mou: id.to_string(),
            partnership: p.id.to_string(),
            title: new.title.clone(),
            required_signers: new.required.clone(),
            city: city.to_string(),
            by: token_id.clone(),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    let row = MouRow {
        id: id.into_string(),
        partnership_id: p.id.to_string(),
        title: new.title,
        required_signers: required_json,
        state: MouState::Draft.as_str().into(),
        current_version: 0,
        head_seq: 0,
        head_hash: vec![0; 32],
        created_by_city: city.to_string(),
        created_by: token_id,
        withdrawn_reason: None,
        created_at: tx.now,
        updated_at: tx.now,
        log_index,
    };
    diesel::insert_into(mous::table)
        .values(&row)
        .execute(tx.conn)?;
    Ok((Mou::try_from(row)?, p))
}

pub fn versions(conn: &mut DbConn, id: &MouId) -> Result<Vec<Version>, DbError> {
    let mut versions: Vec<Version> = mou_versions::table
        .filter(mou_versions::mou_id.eq(id.as_str()))
        .order(mou_versions::version.asc())
        .select(VersionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Version::try_from)
        .collect::<Result<_, _>>()?;
    attach_additional(conn, &mut versions)?;
    Ok(versions)
}

/// One version's metadata with every document's, or `None` when there is no such version:
/// one query, the version's row joined with its additional documents.
pub fn version(conn: &mut DbConn, id: &MouId, version: i32) -> Result<Option<Version>, DbError> {
    let rows: Vec<(VersionRow, Option<VersionDocumentRow>)> = per_backend!(conn, |c| {
        mou_versions::table
            .left_join(
                mou_version_documents::table.on(mou_version_documents::mou_id
                    .eq(mou_versions::mou_id)
                    .and(mou_version_documents::version.eq(mou_versions::version))),
            )
            .filter(mou_versions::mou_id.eq(id.as_str()))
            .filter(mou_versions::version.eq(version))
            .order(mou_version_documents::position.asc())
            .select((
                VersionRow::as_select(),
                Option::<VersionDocumentRow>::as_select(),
            ))
            .load(c)
    })?;
    let mut rows = rows.into_iter();
    let Some((row, first)) = rows.next() else {
        return Ok(None);
    };
    with_documents(row, std::iter::once(first).chain(rows.map(|(_, d)| d))).map(Some)
}

/// A version from its row and its left-joined document rows (none when it has one document).
fn with_documents(
    row: VersionRow,
    documents: impl Iterator<Item = Option<VersionDocumentRow>>,
) -> Result<Version, DbError> {
    let mut found = Version::try_from(row)?;
    for document in documents.flatten() {
        found.additional.push(VersionDocument::try_from(document)?);
    }
    Ok(found)
}

/// What a statement on version `version` commits to (`Version::commitment`), or `None`
/// when there is no such version.
pub fn version_commitment(
    conn: &mut DbConn,
    id: &MouId,
    version: i32,
) -> Result<Option<Vec<String>>, DbError> {
    Ok(self::version(conn, id, version)?.map(|v| v.commitment()))
}

/// The current version with its documents, if there is a version.
pub fn current_version(conn: &mut DbConn, mou: &Mou) -> Result<Option<Version>, DbError> {
    if mou.current_version == 0 {
        return Ok(None);
    }
    version(conn, &mou.id, mou.current_version)
}

/// One stored document, with what a download says of it: its bytes are in blob `blob_id`,
/// whose first chunk comes along (all of a document of up to one chunk, as most are).
pub struct StoredDocument {
    pub sha256: [u8; 32],
    pub media_type: String,
    pub filename: Option<String>,
    pub size: i64,
    pub blob_id: i64,
    pub first_chunk: Vec<u8>,
}

/// Document `position` (1 for the first) of a version; `None` when the version or the
/// document does not exist.
pub fn document(
    conn: &mut DbConn,
    id: &MouId,
    version: i32,
    position: i32,
) -> Result<Option<StoredDocument>, DbError> {
    type Row = (Vec<u8>, String, Option<String>, i64, i64);
    let row: Option<Row> = if position == 1 {
        per_backend!(conn, |c| mou_versions::table
            .filter(mou_versions::mou_id.eq(id.as_str()))
            .filter(mou_versions::version.eq(version))
            .select((
                mou_versions::sha256,
                mou_versions::media_type,
                mou_versions::filename,
                mou_versions::size,
                mou_versions::blob_id,
            ))
            .first(c)
            .optional())?
    } else {
        per_backend!(conn, |c| mou_version_documents::table
            .filter(mou_version_documents::mou_id.eq(id.as_str()))
            .filter(mou_version_documents::version.eq(version))
            .filter(mou_version_documents::position.eq(position))
            .select((
                mou_version_documents::sha256,
                mou_version_documents::media_type,
                mou_version_documents::filename,
                mou_version_documents::size,
                mou_version_documents::blob_id,
            ))
            .first(c)
            .optional())?
    };
    let Some((sha256, media_type, filename, size, blob_id)) = row else {
        return Ok(None);
    };
    let sha256 = sha256
        .as_slice()
        .try_into()
        .map_err(|_| DbError::corrupt(format!("hash of {id} v{version} document {position}")))?;
    let first_chunk = super::blobs::chunk(conn, blob_id, 0)?.unwrap_or_default();
    Ok(Some(StoredDocument {
        sha256,
        media_type,
        filename,
        size,
        blob_id,
        first_chunk,
    }))
}

/// A received document, hashed while it streamed into staged blob `blob` (`db::blobs`), with
/// the language the uploader gave it.
pub struct Upload {
    pub media_type: String,
    pub filename: Option<String>,
    pub language: Option<String>,
    pub blob: i64,
    pub size: i64,
    pub sha256: [u8; 32],
}

/// Stores version n+1, of one document or of several (one per language): signatures on
/// earlier versions stay in the chain but stop counting, so an executed MOU is open again.
pub fn upload(
    tx: &mut WriteTx<'_>,
    id: &MouId,
    documents: Vec<Upload>,
    token_id: Option<TokenId>,
    authorize: impl FnOnce(&Mou, &Partnership) -> Result<(), DomainError>,
) -> Result<(Version, Mou), DbError> {
    let token_id = token_id.map(TokenId::into_string);
    let (mou, p) = require_with_partnership(tx.conn, id)?;
    authorize(&mou, &p)?;
    let mut documents = documents.into_iter();
    let first = documents
        .next()
        .ok_or_else(|| DbError::corrupt("a version without documents"))?;
    let additional: Vec<(VersionDocument, i64)> = documents
        .zip(2..)
        .map(|(u, position)| {
            let doc = VersionDocument {
                position,
                language: u.language.clone().unwrap_or_default(),
                media_type: u.media_type.clone(),
                filename: u.filename.clone(),
                size: u.size,
                sha256: u.sha256,
            };
            (doc, u.blob)
        })
        .collect();
    let version = mou.current_version + 1;
    let mut v = Version {
        mou_id: id.clone(),
        version,
        media_type: first.media_type.clone(),
        filename: first.filename.clone(),
        size: first.size,
        sha256: first.sha256,
        language: first.language.clone(),
        additional: additional.iter().map(|(d, _)| d.clone()).collect(),
        uploaded_by: token_id.clone(),
        uploaded_at: tx.now,
        log_index: 0,
    };
    let current = current_version(tx.conn, &mou)?.map(|c| c.commitment());
    check_new_version(&mou, current.as_deref(), &v.commitment())?;
    // Requests to sign the old version can no longer be answered: they end first, logged.
    requests::cancel_pending(
        tx,
        id.as_str(),
        CancelCause::NewVersion,
        None,
        None,
        token_id.clone(),
    )?;
    let logged_additional = (!v.additional.is_empty()).then(|| {
        v.additional
            .iter()
            .map(|d| LoggedDocument {
                sha256: hex::encode(d.sha256),
                size: d.size,
                media_type: d.media_type.clone(),
                filename: d.filename.clone(),
                language: d.language.clone(),
            })
            .collect()
    });
    let entry = LogEntry::new(
        tx.now,
        EntryBody::MouVersionUploaded(MouVersionUploaded {
            mou: id.to_string(),
            version: i64::from(version),
            sha256: hex::encode(v.sha256),
            size: v.size,
            media_type: v.media_type.clone(),
            filename: v.filename.clone(),
            language: v.language.clone(),
            additional_documents: logged_additional,
            by: token_id.clone(),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    v.log_index = log_index;
    diesel::insert_into(mou_versions::table)
        .values((
            mou_versions::mou_id.eq(id.as_str()),
            mou_versions::version.eq(version),
            mou_versions::media_type.eq(&v.media_type),
            mou_versions::filename.eq(&v.filename),
            mou_versions::size.eq(v.size),
            mou_versions::sha256.eq(v.sha256.to_vec()),
            mou_versions::blob_id.eq(first.blob),
            mou_versions::uploaded_by.eq(&token_id),
            mou_versions::uploaded_at.eq(tx.now),
            mou_versions::log_index.eq(log_index),
            mou_versions::language.eq(&v.language),
        ))
        .execute(tx.conn)?;
    super::blobs::attach(tx.conn, first.blob)?;
    for (doc, blob) in &additional {
        diesel::insert_into(mou_version_documents::table)
            .values((
                mou_version_documents::mou_id.eq(id.as_str()),
                mou_version_documents::version.eq(version),
                mou_version_documents::position.eq(doc.position),
                mou_version_documents::language.eq(&doc.language),
                mou_version_documents::media_type.eq(&doc.media_type),
                mou_version_documents::filename.eq(&doc.filename),
                mou_version_documents::size.eq(doc.size),
                mou_version_documents::sha256.eq(doc.sha256.to_vec()),
                mou_version_documents::blob_id.eq(blob),
            ))
            .execute(tx.conn)?;
        super::blobs::attach(tx.conn, *blob)?;
    }
    diesel::update(mous::table.filter(mous::id.eq(id.as_str())))
        .set((
            mous::current_version.eq(version),
            mous::state.eq(MouState::Open.as_str()),
            mous::updated_at.eq(tx.now),
        ))
        .execute(tx.conn)?;
    Ok((v, require(tx.conn, id)?))
}

/// Withdraws an MOU (terminal).
pub fn withdraw(
    tx: &mut WriteTx<'_>,
    id: &MouId,
    reason: String,
    token_id: Option<TokenId>,
    authorize: impl FnOnce(&Partnership) -> Result<CityCode, DomainError>,
) -> Result<(Mou, i64), DbError> {
    let token_id = token_id.map(TokenId::into_string);
    let (mou, p) = require_with_partnership(tx.conn, id)?;
    let city = authorize(&p)?;
    mou.check_not_withdrawn()?;
    requests::cancel_pending(
        tx,
        id.as_str(),
        CancelCause::Withdrawn,
        Some(&city),
        None,
        token_id.clone(),
    )?;
    let entry = LogEntry::new(
        tx.now,
        EntryBody::MouWithdrawn(MouWithdrawn {
            mou: id.to_string(),
            city: city.to_string(),
            reason: reason.clone(),
            from: mou.state.as_str().to_string(),
            by: token_id,
        }),
    )?;
    let log_index = tx.append(&entry)?;
    diesel::update(mous::table.filter(mous::id.eq(id.as_str())))
        .set((
            mous::state.eq(MouState::Withdrawn.as_str()),
            mous::withdrawn_reason.eq(Some(&reason)),
            mous::updated_at.eq(tx.now),
        ))
        .execute(tx.conn)?;
    Ok((require(tx.conn, id)?, log_index))
}

/// The codes of a partnership's two cities, whose offices hear about its MOUs.
pub fn party_codes(p: &Partnership) -> Vec<String> {
    p.parties().iter().map(|c| c.to_string()).collect()
}

/// Sets an MOU's state (a workflow step that the caller has logged).
pub fn set_state(tx: &mut WriteTx<'_>, id: &MouId, state: MouState) -> Result<(), DbError> {
    diesel::update(mous::table.filter(mous::id.eq(id.as_str())))
        .set((mous::state.eq(state.as_str()), mous::updated_at.eq(tx.now)))
        .execute(tx.conn)?;
    Ok(())
}

/// Who signed `version` so far, as counted against the requirements.
pub fn signers_of(conn: &mut DbConn, id: &MouId, version: i32) -> Result<Vec<SignedBy>, DbError> {
    signed_by(conn, id, version)
}

/// A signature's signer, city, role and receive time, and its key's revocation time and
/// compromise time.
type SignerRow = (String, String, String, i64, Option<i64>, Option<i64>);

/// Who signed `version`, as counted against the requirements: a signature whose key was
/// later revoked as compromised at or before its time is void and does not count
/// (docs/audit-rules.md, `key_active`).
fn signed_by(conn: &mut DbConn, id: &MouId, version: i32) -> Result<Vec<SignedBy>, DbError> {
    // One query with the signing keys' revocation, since every accepted signature calls this.
    let rows: Vec<SignerRow> = per_backend!(conn, |c| mou_signatures::table
        .inner_join(signatory_keys::table)
        .filter(mou_signatures::mou_id.eq(id.as_str()))
        .filter(mou_signatures::version.eq(version))
        .select((
            mou_signatures::signer,
            mou_signatures::signer_city,
            mou_signatures::role,
            mou_signatures::received_at,
            signatory_keys::revoked_at,
            signatory_keys::compromised_since,
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, _, received_at, revoked_at, compromised_since)| {
            !revocation_voids(*revoked_at, *compromised_since, *received_at)
        })
        .map(|(signer, city, role, ..)| SignedBy { signer, city, role })
        .collect())
}

/// After key `key_id` was revoked as compromised: every executed MOU whose current version
/// no longer has its required signers, once the void signatures are left out, is open again.
/// The state is derived from the log (rule `state_consistent`), so this logs nothing.
pub fn reopen_after_revocation(tx: &mut WriteTx<'_>, key_id: &KeyId) -> Result<(), DbError> {
    let ids: Vec<String> = per_backend!(tx.conn, |c| mou_signatures::table
        .inner_join(mous::table)
        .filter(mou_signatures::key_id.eq(key_id.as_str()))
        .filter(mous::state.eq(MouState::Executed.as_str()))
        .filter(mou_signatures::version.eq(mous::current_version))
        .select(mous::id)
        .distinct()
        .load(c))?;
    for id in ids.into_iter().map(MouId::from_db) {
        let mou = require(tx.conn, &id)?;
        let signed = signed_by(tx.conn, &id, mou.current_version)?;
        if !is_executed(&mou.required, &signed) {
            diesel::update(mous::table.filter(mous::id.eq(id.as_str())))
                .set((
                    mous::state.eq(MouState::Open.as_str()),
                    mous::updated_at.eq(tx.now),
                ))
                .execute(tx.conn)?;
        }
    }
    Ok(())
}

/// Moves an MOU's chain head: `UPDATE mous SET head_seq, head_hash, state, updated_at`.
///
/// A hand-written statement with a fixed identity, because diesel never caches the prepared
/// statement of its own UPDATE (a changeset may skip columns, so the SQL may differ), nor of
/// `sql_query`: re-preparing this one for every signature was a tenth of the serial writer's
/// time. Binds go through the backend's placeholders, so the one text serves both backends.
struct MoveHead<'a> {
    id: &'a str,
    seq: i64,
    head_hash: &'a [u8],
    state: &'a str,
    now: i64,
}

/// `MoveHead`'s cache identity.
struct MoveHeadQuery;

impl QueryId for MoveHead<'_> {
    type QueryId = MoveHeadQuery;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> QueryFragment<DB> for MoveHead<'_>
where
    DB: Backend,
    i64: ToSql<BigInt, DB>,
    [u8]: ToSql<Binary, DB>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE mous SET head_seq = ");
        out.push_bind_param::<BigInt, _>(&self.seq)?;
        out.push_sql(", head_hash = ");
        out.push_bind_param::<Binary, _>(self.head_hash)?;
        out.push_sql(", state = ");
        out.push_bind_param::<Text, _>(self.state)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for MoveHead<'_> {}

fn move_head(
    conn: &mut DbConn,
    id: &MouId,
    seq: i64,
    head_hash: &[u8; 32],
    state: MouState,
    now: i64,
) -> Result<(), DbError> {
    let update = MoveHead {
        id: id.as_str(),
        seq,
        head_hash,
        state: state.as_str(),
        now,
    };
    per_backend!(conn, |c| update.execute(c))?;
    Ok(())
}

/// What an accepted signature did.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub seq: i64,
    pub statement_sha256: [u8; 32],
    pub log_index: i64,
    pub mou: Mou,
    /// The partnership's status event when this signature executed the MOU of a proposed one.
    pub partnership_activated: Option<i64>,
}

/// Runs the acceptance algorithm inside the write transaction (which holds the log head, so
/// racing signers are checked one after the other against the chain head), then stores the
/// statement and signature bytes, appends the entry and moves the MOU (and maybe its
/// partnership) on. `token_id` is the submitting office's token, or none for a signature
/// that came through its request's signing link.
pub fn add_signature(
    tx: &mut WriteTx<'_>,
    id: &MouId,
    sub: Submission,
    caller_city: &CityCode,
    registry: &str,
    token_id: Option<TokenId>,
) -> Result<Accepted, DbError> {
    let ForSignature {
        mou,
        partnership: p,
        current_version,
        key,
    } = require_for_signature(tx.conn, id, &sub.statement.signer_key)?;
    let current = current_version
        .as_ref()
        .map(Version::commitment)
        .unwrap_or_default();
    // Who signed the current version so far answers "already signed?" now and, with this
    // signer added, "executed?" after the insert: one walk of the MOU's chain per signature
    // on the serial writer instead of two.
    let mut signed = signed_by(tx.conn, id, mou.current_version)?;
    let already = signed.iter().any(|s| s.signer == sub.statement.signer);
    // The same statement bytes name the same MOU (checked against the path when parsed) and
    // the same seq, so a replay can only sit at that one chain position, and only if the
    // chain already reaches it: a fresh signature (seq = head + 1) costs no look-up, a
    // possible replay one probe of the (mou_id, seq) key.
    let replay = match i64::try_from(sub.statement.seq) {
        Ok(claimed_seq) if claimed_seq <= mou.head_seq => {
            let at_position: Option<Vec<u8>> = per_backend!(&mut *tx.conn, |c| {
                mou_signatures::table
                    .filter(mou_signatures::mou_id.eq(id.as_str()))
                    .filter(mou_signatures::seq.eq(claimed_seq))
                    .select(mou_signatures::statement_sha256)
                    .first(c)
                    .optional()
            })?;
            at_position.is_some_and(|h| h == sub.statement_sha256)
        }
        // Beyond the head (or beyond i64): no signature is stored there.
        _ => false,
    };
    let round = requests::latest_round(tx.conn, id.as_str())?;
    let request = accept(
        &sub,
        &AcceptContext {
            mou: &mou,
            parties: p.parties(),
            caller_city,
            current_documents: current,
            key: key.as_ref(),
            replay,
            already_signed: already,
            registry,
            now: tx.now,
            round: &round,
        },
    )?;
    let key = key.ok_or_else(|| DbError::corrupt("accepted signature without key"))?;
    let seq = mou.head_seq + 1;
    let entry = LogEntry::new(
        tx.now,
        EntryBody::MouSignatureAdded(MouSignatureAdded {
            mou: id.to_string(),
            seq,
            version: i64::from(mou.current_version),
            statement_sha256: hex::encode(sub.statement_sha256),
            key_fingerprint: key.fingerprint.clone(),
            key: key.id.to_string(),
            signer: sub.statement.signer.clone(),
            role: sub.statement.role.clone(),
            request: request.clone(),
            by: token_id.as_ref().map(TokenId::to_string),
        }),
    )?;
    let log_index = tx.append(&entry)?;
    keys::emit_used(
        tx,
        &key,
        keys::KeyUse::Sign,
        id.as_str(),
        &mou.title,
        mou.current_version,
        token_id.is_none(),
        log_index,
    )?;
    if let Some(request) = &request {
        requests::mark_signed(tx.conn, request, seq, tx.now, log_index)?;
        webhooks::emit(
            tx,
            webhooks::Event {
                event_type: EventType::SignatureRequestSigned,
                cities: party_codes(&p),
                data: json!({
                    "mou": id.as_str(),
                    "title": mou.title,
                    "request": request,
                    "signer": sub.statement.signer,
                    "role": sub.statement.role,
                    "version": mou.current_version,
                    "seq": seq,
                    "log_index": log_index,
                }),
            },
            log_index,
        )?;
    }
    let row = SignatureRow {
        id: uuid::Uuid::now_v7().to_string(),
        mou_id: id.to_string(),
        seq,
        version: mou.current_version,
        statement: sub.bytes.clone(),
        statement_sha256: sub.statement_sha256.to_vec(),
        signature: sub.armored.into_bytes(),
        key_id: key.id.to_string(),
        signer: sub.statement.signer.clone(),
        signer_city: sub.statement.signer_city.clone(),
        role: sub.statement.role.clone(),
        received_at: tx.now,
        submitted_by: token_id.as_ref().map(TokenId::to_string),
        log_index,
    };
    per_backend!(&mut *tx.conn, |c| diesel::insert_into(
        mou_signatures::table
    )
    .values(&row)
    .execute(c))
    .map_err(|e| {
        // Unreachable while the log head serializes writers; kept as the final guard.
        if is_unique_violation(&e) {
            DomainError::new(
                ErrorCode::StaleChainHead,
                "another signature took this chain position",
            )
            .with_extra(json!({ "head": mou.head_json() }))
            .into()
        } else {
            DbError::from(e)
        }
    })?;
    signed.push(SignedBy {
        signer: row.signer.clone(),
        city: row.signer_city.clone(),
        role: row.role.clone(),
    });
    let state = if is_executed(&mou.required, &signed) {
        MouState::Executed
    } else {
        MouState::Open
    };
    move_head(tx.conn, id, seq, &sub.statement_sha256, state, tx.now)?;
    if state == MouState::Executed && mou.state != MouState::Executed {
        webhooks::emit(
            tx,
            webhooks::Event {
                event_type: EventType::MouExecuted,
                cities: party_codes(&p),
                data: json!({
                    "mou": id.as_str(),
                    "title": mou.title,
                    "partnership": p.id.as_str(),
                    "version": mou.current_version,
                    "doc_sha256": current_version.as_ref().map(|v| hex::encode(v.sha256)),
                    "documents": current_version.as_ref().map(Version::documents_json),
                    "log_index": log_index,
                }),
            },
            log_index,
        )?;
    }
    let mut partnership_activated = None;
    if state == MouState::Executed && p.status == Status::Proposed {
        let change =
            StatusChange::activation("MOU executed", current_version.as_ref().map(|v| v.sha256));
        let city = caller_city.clone();
        let (_, event) = partnerships::change_status(
            tx,
            &p.id,
            change,
            Trigger::MouExecuted,
            token_id.as_ref(),
            |_| Ok(Some(city)),
        )?;
        partnership_activated = Some(event.log_index);
    }
    // The MOU as just updated, built here instead of read back: one statement less per
    // signature on the serial writer (a partnership's activation does not touch the MOU row).
    let mou = Mou {
        head_seq: seq,
        head_hash: sub.statement_sha256,
        state,
        updated_at: tx.now,
        ..mou
    };
    Ok(Accepted {
        seq,
        statement_sha256: sub.statement_sha256,
        log_index,
        mou,
        partnership_activated,
    })
}

/// The whole chain, oldest first.
pub fn chain(conn: &mut DbConn, id: &MouId) -> Result<Vec<SignatureRow>, DbError> {
    Ok(per_backend!(conn, |c| mou_signatures::table
        .filter(mou_signatures::mou_id.eq(id.as_str()))
        .order(mou_signatures::seq.asc())
        .select(SignatureRow::as_select())
        .load(c))?)
}

/// A page of every MOU's signatures, MOU by MOU and each chain oldest first: the rows after
/// position `after` (an MOU id and a `seq`), at most `limit`. The row-value comparison is
/// one range of the `(mou_id, seq)` unique index on both backends (SQLite's plan: `SEARCH
/// mou_signatures USING INDEX ... ((mou_id,seq)>(?,?))`), so a page costs its own rows only.
pub fn signatures_after(
    conn: &mut DbConn,
    after: Option<(&str, i64)>,
    limit: i64,
) -> Result<Vec<SignatureRow>, DbError> {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    Ok(per_backend!(conn, |c| {
        let mut q = mou_signatures::table
            .order((mou_signatures::mou_id.asc(), mou_signatures::seq.asc()))
            .select(SignatureRow::as_select())
            .limit(limit)
            .into_boxed();
        if let Some((mou, seq)) = after {
            q = q.filter(
                sql::<Bool>("(mou_signatures.mou_id, mou_signatures.seq) > (")
                    .bind::<Text, _>(mou.to_string())
                    .sql(", ")
                    .bind::<BigInt, _>(seq)
                    .sql(")"),
            );
        }
        q.load(c)
    })?)
}

/// Every document of every version of MOU `id` as stored, its bytes hashed again chunk by
/// chunk, for the audit report.
pub fn stored_versions(conn: &mut DbConn, id: &MouId) -> Result<Vec<StoredVersion>, DbError> {
    let rows: Vec<(i32, Vec<u8>, i64, i64)> = mou_versions::table
        .filter(mou_versions::mou_id.eq(id.as_str()))
        .order(mou_versions::version.asc())
        .select((
            mou_versions::version,
            mou_versions::sha256,
            mou_versions::blob_id,
            mou_versions::log_index,
        ))
        .load(conn)?;
    let additional: Vec<(i32, i32, Vec<u8>, i64)> = mou_version_documents::table
        .filter(mou_version_documents::mou_id.eq(id.as_str()))
        .order((
            mou_version_documents::version.asc(),
            mou_version_documents::position.asc(),
        ))
        .select((
            mou_version_documents::version,
            mou_version_documents::position,
            mou_version_documents::sha256,
            mou_version_documents::blob_id,
        ))
        .load(conn)?;
    let mut stored = Vec::with_capacity(rows.len() + additional.len());
    for (version, sha256, blob, log_index) in rows {
        let several = additional.iter().any(|(v, ..)| *v == version);
        stored.push(StoredVersion {
            version,
            position: several.then_some(1),
            stored_sha256: sha256,
            recomputed_sha256: super::blobs::sha256(conn, blob)?,
            log_index,
        });
        for (_, position, sha256, blob) in additional.iter().filter(|(v, ..)| *v == version) {
            stored.push(StoredVersion {
                version,
                position: Some(*position),
                stored_sha256: sha256.clone(),
                recomputed_sha256: super::blobs::sha256(conn, *blob)?,
                log_index,
            });
        }
    }
    Ok(stored)
}
