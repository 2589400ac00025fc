//! The pages' forms: sign-in and sign-out, and the office's writes (status change, activity,
//! proposal, MOU version, activity evidence). Each checks the CSRF token first, then calls the
//! same use case as the API (`crate::app`).

use crate::domain::{ErrorCode, PartnershipId};
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

use super::layout::error_page;
use super::session;
use crate::api::AppState;
use crate::error::ApiError;

/// The MOU page's upload form: multipart with the CSRF field before the files, checked before
/// a byte of a document is read; one file, or one per language with their tags in the
/// `languages` field; then the same storage path and rules as the API.
#[post("/mous/{id}/versions")]
pub(super) async fn version_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let id = id.into_inner();
    let who = session::principal(&state, &req).await;
    let limit = state.settings.max_document_bytes;
    let received = crate::api::documents::receive_multipart_files(
        &state.db,
        &req,
        payload,
        limit,
        amity_verify::statement::MAX_DOCUMENTS_PER_VERSION,
        |fields| {
            let csrf = fields
                .iter()
                .find(|(name, _)| name == "csrf")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            session::check_csrf(&req, csrf)?;
            crate::domain::access::require_office(who.as_ref())?;
            Ok(())
        },
    )
    .await;
    let (received, fields) = match received {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let languages = fields
        .into_iter()
        .find(|(name, _)| name == "languages")
        .map(|(_, v)| v);
    let mou = match crate::domain::MouId::from_path(&id) {
        Ok(mou) => mou,
        Err(e) => {
            let staged = crate::api::documents::blobs_of(&received);
            crate::api::documents::discard(&state.db, staged).await;
            return error_page(e.into());
        }
    };
    match crate::api::mous::store_version(&state, who, mou, received, None, languages.as_deref())
        .await
    {
        Ok(_) => session::see_other(&format!("/mous/{id}")),
        Err(e) => error_page(e),
    }
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    /// Missing is the same as wrong: refused by the CSRF check with a page, not a parse error.
    #[serde(default)]
    csrf: String,
    token: String,
}

#[post("/signin")]
pub(super) async fn signin(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    if let Err(e) = session::check_csrf(&req, &form.csrf) {
        return error_page(e);
    }
    match session::sign_in(&state, &req, &form.token).await {
        Ok(cookie) => {
            let mut res = session::see_other("/signin");
            let _ = res.add_cookie(&cookie);
            res
        }
        Err(e) => error_page(e),
    }
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    /// Missing is the same as wrong: refused by the CSRF check with a page, not a parse error.
    #[serde(default)]
    csrf: String,
}

#[post("/signout")]
pub(super) async fn signout(req: HttpRequest, form: web::Form<CsrfForm>) -> HttpResponse {
    if let Err(e) = session::check_csrf(&req, &form.csrf) {
        return error_page(e);
    }
    let mut res = session::see_other("/");
    let mut gone = session::private_cookie(session::SESSION_COOKIE, String::new());
    gone.make_removal();
    let _ = res.add_cookie(&gone);
    res
}

/// The signed-in office for a form post, after the CSRF check.
async fn form_office(
    state: &AppState,
    req: &HttpRequest,
    csrf: &str,
) -> Result<crate::domain::tokens::Principal, ApiError> {
    session::check_csrf(req, csrf)?;
    let who = session::principal(state, req).await;
    crate::domain::access::require_office(who.as_ref())?;
    who.ok_or_else(ApiError::internal)
}

fn blank(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.trim().is_empty())
}

#[derive(Debug, Deserialize)]
struct StatusForm {
    /// Missing is the same as wrong: refused by the CSRF check with a page, not a parse error.
    #[serde(default)]
    csrf: String,
    status: String,
    effective_date: String,
    decided_date: Option<String>,
    deciding_body: Option<String>,
    reason_category: String,
    reason: Option<String>,
}

#[post("/partnerships/{id}/status")]
pub(super) async fn status_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<StatusForm>,
) -> HttpResponse {
    use crate::domain::partnerships::{ReasonCategory, Status, StatusChange, StatusChangeInput};
    let f = form.into_inner();
    let principal = match form_office(&state, &req, &f.csrf).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let change = StatusChange::validate(StatusChangeInput {
        status: Status::parse(&f.status),
        effective_date: f.effective_date.clone(),
        decided_date: blank(&f.decided_date),
        deciding_body: blank(&f.deciding_body),
        reason_category: ReasonCategory::parse(&f.reason_category),
        reason: blank(&f.reason),
        resumption_condition: None,
        decision_document_sha256: None,
    });
    let change = match change {
        Ok(c) => c,
        Err(e) => return error_page(e.into()),
    };
    let id = id.into_inner();
    let target = match PartnershipId::from_path(&id) {
        Ok(target) => target,
        Err(e) => return error_page(e.into()),
    };
    let result = state
        .write(move |tx| {
            crate::app::partnerships::change_status(tx, Some(&principal), &target, change)
        })
        .await;
    match result {
        Ok(_) => session::see_other(&format!("/partnerships/{id}")),
        Err(e) => error_page(e),
    }
}

#[derive(Debug, Deserialize)]
struct ActivityForm {
    /// Missing is the same as wrong: refused by the CSRF check with a page, not a parse error.
    #[serde(default)]
    csrf: String,
    kind: String,
    mode: String,
    start_date: String,
    participants: Option<String>,
    outcome: Option<String>,
    /// One organisation per line, `sector: name`.
    organisations: Option<String>,
    cost: Option<String>,
    cost_currency: Option<String>,
}

#[post("/partnerships/{id}/activities")]
pub(super) async fn activity_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ActivityForm>,
) -> HttpResponse {
    use crate::domain::DomainError;
    use crate::domain::activities::{ActivityKind, Mode, NewActivity};
    let f = form.into_inner();
    let principal = match form_office(&state, &req, &f.csrf).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let parsed = (|| {
        let kind = ActivityKind::parse(&f.kind)
            .ok_or_else(|| DomainError::new(ErrorCode::InvalidKind, "unknown activity kind"))?;
        let mode = Mode::parse(&f.mode)
            .ok_or_else(|| DomainError::new(ErrorCode::InvalidMode, "unknown mode"))?;
        let participants = match blank(&f.participants) {
            None => None,
            Some(p) => Some(p.trim().parse::<i64>().map_err(|_| {
                DomainError::new(
                    ErrorCode::InvalidParticipants,
                    "participants must be a whole number",
                )
            })?),
        };
        let lines = f.organisations.as_deref().unwrap_or_default();
        let organisations = lines
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                l.split_once(':').map(|(s, n)| (n, s)).ok_or_else(|| {
                    DomainError::new(
                        ErrorCode::InvalidOrganisation,
                        format!("write each organisation as `sector: name`, not {l:?}"),
                    )
                })
            })
            .collect::<Result<Vec<(&str, &str)>, _>>()?;
        NewActivity::validate(
            kind,
            mode,
            &f.start_date,
            None,
            participants,
            blank(&f.outcome).as_deref(),
        )?
        .with_organisations(&organisations)?
        .with_cost(f.cost.as_deref(), f.cost_currency.as_deref())
    })();
    let activity = match parsed {
        Ok(a) => a,
        Err(e) => return error_page(e.into()),
    };
    let id = id.into_inner();
    let target = match PartnershipId::from_path(&id) {
        Ok(target) => target,
        Err(e) => return error_page(e.into()),
    };
    let result = state
        .write(move |tx| crate::app::activities::record(tx, Some(&principal), &target, activity))
        .await;
    match result {
        Ok(_) => session::see_other(&format!("/partnerships/{id}")),
        Err(e) => error_page(e),
    }
}

#[derive(Debug, Deserialize)]
struct ProposeForm {
    /// Missing is the same as wrong: refused by the CSRF check with a page, not a parse error.
    #[serde(default)]
    csrf: String,
    partner: String,
    kind: String,
    established: Option<String>,
}

#[post("/cities/{code}/propose")]
pub(super) async fn propose_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
    form: web::Form<ProposeForm>,
) -> HttpResponse {
    use crate::domain::DomainError;
    use crate::domain::partnerships::{Kind, Proposal};
    let f = form.into_inner();
    let principal = match form_office(&state, &req, &f.csrf).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let proposal = Kind::parse(&f.kind)
        .ok_or_else(|| DomainError::new(ErrorCode::InvalidKind, "unknown partnership kind"))
        .and_then(|kind| {
            Proposal::validate(
                &[code.into_inner(), f.partner.trim().to_string()],
                kind,
                blank(&f.established).as_deref(),
            )
        });
    let proposal = match proposal {
        Ok(p) => p,
        Err(e) => return error_page(e.into()),
    };
    match state
        .write(move |tx| crate::app::partnerships::propose(tx, Some(&principal), proposal))
        .await
    {
        Ok(p) => session::see_other(&format!("/partnerships/{}", p.id)),
        Err(e) => error_page(e),
    }
}

/// The partnership page's evidence form: multipart with the CSRF field and the activity before
/// the file; the CSRF check runs before a byte of the document is read, then the API's rules.
#[post("/partnerships/{id}/evidence")]
pub(super) async fn evidence_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let id = id.into_inner();
    let who = session::principal(&state, &req).await;
    let limit = state.settings.max_document_bytes;
    let mut activity = String::new();
    let received =
        crate::api::documents::receive_multipart(&state.db, &req, payload, limit, |fields| {
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            session::check_csrf(&req, &field("csrf"))?;
            crate::domain::access::require_office(who.as_ref())?;
            activity = field("activity");
            Ok(())
        })
        .await;
    let received = match received {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let staged = vec![received.blob];
    let db = state.db.clone();
    let page = id.clone();
    let store = async move {
        let document = received.into_upload(None)?;
        let partnership = PartnershipId::from_path(&id)?;
        state
            .write(move |tx| {
                // The activity must belong to this page's partnership.
                let on = Some(&partnership);
                crate::app::activities::add_evidence(tx, who.as_ref(), &activity, document, on)
            })
            .await
    };
    let result = crate::api::documents::or_discard(&db, staged, store).await;
    match result {
        Ok(_) => session::see_other(&format!("/partnerships/{page}")),
        Err(e) => error_page(e),
    }
}

#[derive(Debug, Deserialize)]
struct RoundForm {
    /// Missing is the same as wrong: refused by the CSRF check with a page, not a parse error.
    #[serde(default)]
    csrf: String,
    deadline: String,
    /// One signatory per line: `handle@city [group] [role]`.
    signatories: String,
}

/// One line of the round form: `handle@city`, then optionally the group and the role, in
/// either order (a number is the group). Anything more is refused, not dropped.
fn ask_line(line: &str) -> Result<crate::api::requests::AskBody, ApiError> {
    let mut words = line.split_whitespace();
    let signer = words.next().unwrap_or_default().to_string();
    let (mut group, mut role) = (None, None);
    for word in words {
        let taken = match word.parse::<i64>() {
            Ok(n) => group.replace(n).is_some(),
            Err(_) => role.replace(word.to_string()).is_some(),
        };
        if taken {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                format!("{line:?}: each line is `handle@city`, then at most a group and a role"),
            ));
        }
    }
    Ok(crate::api::requests::AskBody {
        signer,
        role,
        group,
    })
}

/// The MOU page's "send for signature" form: the same use case and rules as
/// `POST /api/v1/mous/{id}/signature-requests`.
#[post("/mous/{id}/signature-requests")]
pub(super) async fn round_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<RoundForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let principal = match form_office(&state, &req, &f.csrf).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let requests = f
        .signatories
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(ask_line)
        .collect::<Result<Vec<_>, ApiError>>();
    let requests = match requests {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let body = crate::api::requests::RoundBody {
        deadline: f.deadline.trim().to_string(),
        requests,
        reminders: None,
    };
    let defaults = crate::api::requests::default_reminders(&state.settings);
    let round = match crate::api::requests::new_round(body, defaults) {
        Ok(r) => r,
        Err(e) => return error_page(e.into()),
    };
    let id = id.into_inner();
    let mou = match crate::domain::MouId::from_path(&id) {
        Ok(mou) => mou,
        Err(e) => return error_page(e.into()),
    };
    let links = state.links.clone();
    let result = state
        .write(move |tx| {
            crate::app::requests::send_round(tx, Some(&principal), &mou, round, &links)
        })
        .await;
    match result {
        Ok(_) => session::see_other(&format!("/mous/{id}")),
        Err(e) => error_page(e),
    }
}

#[derive(Debug, Deserialize)]
struct CancelForm {
    /// Missing is the same as wrong: refused by the CSRF check with a page, not a parse error.
    #[serde(default)]
    csrf: String,
    reason: String,
}

/// The MOU page's "cancel the pending requests" form.
#[post("/mous/{id}/cancel-requests")]
pub(super) async fn cancel_requests_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CancelForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let principal = match form_office(&state, &req, &f.csrf).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let reason = match crate::domain::mous::validate_withdraw_reason(&f.reason) {
        Ok(r) => r,
        Err(e) => return error_page(e.into()),
    };
    let id = id.into_inner();
    let mou = match crate::domain::MouId::from_path(&id) {
        Ok(mou) => mou,
        Err(e) => return error_page(e.into()),
    };
    let result = state
        .write(move |tx| crate::app::requests::cancel(tx, Some(&principal), &mou, reason))
        .await;
    match result {
        Ok(_) => session::see_other(&format!("/mous/{id}")),
        Err(e) => error_page(e),
    }
}

/// A partnership page's form that records something for the signed-in office: the CSRF
/// check, the input (already validated, or its refusal), the partnership in the path, the use
/// case `write`, then back to the page at `anchor`. Refusals are pages, as everywhere.
async fn partnership_write<I, T>(
    state: &AppState,
    req: &HttpRequest,
    csrf: &str,
    id: String,
    anchor: &str,
    input: Result<I, crate::domain::DomainError>,
    write: impl FnOnce(
        &mut crate::db::WriteTx<'_>,
        &crate::domain::tokens::Principal,
        &PartnershipId,
        I,
    ) -> Result<T, crate::db::DbError>
    + Send
    + 'static,
) -> HttpResponse
where
    I: Send + 'static,
    T: Send + 'static,
{
    let principal = match form_office(state, req, csrf).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let input = match input {
        Ok(i) => i,
        Err(e) => return error_page(e.into()),
    };
    let target = match PartnershipId::from_path(&id) {
        Ok(target) => target,
        Err(e) => return error_page(e.into()),
    };
    match state
        .write(move |tx| write(tx, &principal, &target, input))
        .await
    {
        Ok(_) => session::see_other(&format!("/partnerships/{id}#{anchor}")),
        Err(e) => error_page(e),
    }
}

/// A form's whole number, blank for none.
fn form_count(value: &Option<String>) -> Result<Option<i64>, crate::domain::DomainError> {
    match blank(value) {
        None => Ok(None),
        Some(n) => n.trim().parse::<i64>().map(Some).map_err(|_| {
            crate::domain::DomainError::new(
                ErrorCode::InvalidOutcomeCount,
                "the count must be a whole number",
            )
        }),
    }
}

#[derive(Debug, Deserialize)]
struct OutcomeForm {
    #[serde(default)]
    csrf: String,
    activity: String,
    indicator: String,
    achieved_on: String,
    count: Option<String>,
    exchange_group: Option<String>,
    value: Option<String>,
    currency: Option<String>,
    mou: Option<String>,
    follow_up: Option<String>,
    description: Option<String>,
}

/// Records an outcome from the partnership page: the same use case as
/// `POST /api/v1/partnerships/{id}/activities/{activity}/outcomes`.
#[post("/partnerships/{id}/outcomes")]
pub(super) async fn outcome_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<OutcomeForm>,
) -> HttpResponse {
    use crate::domain::outcomes::{NewOutcome, OutcomeInput};
    let f = form.into_inner();
    let parsed = form_count(&f.count).and_then(|count| {
        NewOutcome::validate(&OutcomeInput {
            indicator: &f.indicator,
            achieved_on: &f.achieved_on,
            count,
            exchange_group: f.exchange_group.as_deref(),
            value: f.value.as_deref(),
            currency: f.currency.as_deref(),
            mou: f.mou.as_deref(),
            follow_up: f.follow_up.as_deref(),
            description: blank(&f.description).as_deref(),
            evidence: &[],
        })
    });
    let activity = f.activity;
    partnership_write(
        &state,
        &req,
        &f.csrf,
        id.into_inner(),
        "outcomes",
        parsed,
        move |tx, who, target, outcome| {
            crate::app::activities::record_outcome(tx, Some(who), target, &activity, outcome)
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct CommitmentForm {
    #[serde(default)]
    csrf: String,
    activity: String,
    text: String,
    due_date: String,
}

/// Records a commitment from the partnership page.
#[post("/partnerships/{id}/commitments")]
pub(super) async fn commitment_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CommitmentForm>,
) -> HttpResponse {
    use crate::domain::outcomes::NewCommitment;
    let f = form.into_inner();
    let parsed = NewCommitment::validate(&f.text, &f.due_date);
    let activity = f.activity;
    partnership_write(
        &state,
        &req,
        &f.csrf,
        id.into_inner(),
        "commitments",
        parsed,
        move |tx, who, target, commitment| {
            crate::app::activities::make_commitment(tx, Some(who), target, &activity, commitment)
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct ResolutionForm {
    #[serde(default)]
    csrf: String,
    commitment: String,
    result: String,
    resolved_on: String,
    kept_by_activity: Option<String>,
    note: Option<String>,
}

/// Marks a commitment kept, partly kept or not kept from the partnership page.
#[post("/partnerships/{id}/resolutions")]
pub(super) async fn resolution_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ResolutionForm>,
) -> HttpResponse {
    use crate::domain::outcomes::Resolution;
    let f = form.into_inner();
    let parsed = Resolution::validate(
        &f.result,
        &f.resolved_on,
        f.kept_by_activity.as_deref(),
        None,
        blank(&f.note).as_deref(),
    );
    let commitment = f.commitment;
    partnership_write(
        &state,
        &req,
        &f.csrf,
        id.into_inner(),
        "commitments",
        parsed,
        move |tx, who, target, resolution| {
            crate::app::activities::resolve_commitment(
                tx,
                Some(who),
                target,
                &commitment,
                resolution,
            )
        },
    )
    .await
}
