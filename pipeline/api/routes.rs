//! The handlers: check the role, parse, call the service, shape the answer.

use super::auth::Principal;
use super::error::{ApiError, ApiQuery};
use super::image::{render, ImageRegion};
use super::{AppState, BodyTimedOut};
use crate::crypto::CHUNK_BYTES;
use crate::intake::{Declared, Intake};
use crate::notify::{event_name, Feed};
use crate::review::{parse_items, Resolution};
use crate::store::{ReceivedUpload, Submitted, UploadWriter};
use axum::extract::multipart::{Field as FormField, MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream};
use intake_models::config::Role;
use intake_models::{Account, Decision, DocumentKind, Job, JobId, JobState, OutboxEvent, Profile};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

type ApiResult<T> = Result<T, ApiError>;

/// Runs blocking service work (sled, the pipeline) off the async threads.
async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce(&Intake) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let intake = state.intake.clone();
    tokio::task::spawn_blocking(move || work(&intake)).await?
}

/// The service's rule for account ids, as a `400`.
fn checked_account(account: &str) -> ApiResult<()> {
    crate::intake::check_account(account).map_err(|e| ApiError::BadRequest(e.to_string()))
}

fn job_id(raw: &str) -> ApiResult<JobId> {
    if raw.len() == 32 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(JobId(raw.to_string()))
    } else {
        Err(ApiError::NotFound("no such job".into()))
    }
}

fn multipart_error(e: MultipartError, limit: u64) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(error) = cause {
        if let Some(stalled) = error.downcast_ref::<BodyTimedOut>() {
            return ApiError::TimedOut(stalled.to_string());
        }
        cause = error.source();
    }
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge { limit }
    } else {
        ApiError::BadRequest(format!(
            "the multipart body cannot be read: {}",
            e.body_text()
        ))
    }
}

/// Reads a form field's text, at most `max` bytes.
async fn text_field(field: FormField<'_>, name: &str, max: usize, limit: u64) -> ApiResult<String> {
    let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
    if bytes.len() > max {
        return Err(ApiError::BadRequest(format!(
            "the {name} field is longer than {max} bytes"
        )));
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::BadRequest(format!("the {name} field is not UTF-8 text")))
}

/// The parts of an upload form, its file received into the store.
struct UploadForm {
    received: ReceivedUpload,
    file_name: String,
    kind: DocumentKind,
    profile: Option<Profile>,
}

/// Seals and writes a batch of the file's bytes on a blocking thread; the
/// batch comes back emptied, to be filled again.
async fn write_batch(
    mut writer: UploadWriter,
    mut batch: Vec<u8>,
) -> ApiResult<(UploadWriter, Vec<u8>)> {
    tokio::task::spawn_blocking(move || {
        writer.write(&batch)?;
        batch.clear();
        Ok((writer, batch))
    })
    .await?
}

/// Streams the file field into the store as it arrives (sealed, hashed on
/// the way: never whole in memory), refused as soon as it passes `limit`.
async fn receive_file(
    intake: &Arc<Intake>,
    field: &mut FormField<'_>,
    limit: u64,
) -> ApiResult<ReceivedUpload> {
    let intake = intake.clone();
    let mut writer = tokio::task::spawn_blocking(move || intake.receive_upload()).await??;
    let mut batch = Vec::with_capacity(CHUNK_BYTES);
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
        if writer.len() + (batch.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::TooLarge { limit });
        }
        batch.extend_from_slice(&chunk);
        if batch.len() >= CHUNK_BYTES {
            (writer, batch) = write_batch(writer, batch).await?;
        }
    }
    let (writer, _) = write_batch(writer, batch).await?;
    Ok(tokio::task::spawn_blocking(move || writer.finish()).await??)
}

/// Reads the form: `file` (streamed into the store, refused as soon as it
/// passes `limit`), `kind`, `profile`.
async fn read_form(
    intake: &Arc<Intake>,
    form: &mut Multipart,
    limit: u64,
) -> ApiResult<UploadForm> {
    let (mut file, mut file_name, mut kind, mut profile) = (None, String::new(), None, None);
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        match field.name().unwrap_or_default() {
            "file" => {
                if file.is_some() {
                    return Err(ApiError::BadRequest(
                        "the form has more than one file field; send one file per upload".into(),
                    ));
                }
                file_name = field.file_name().unwrap_or("upload").to_string();
                file = Some(receive_file(intake, &mut field, limit).await?);
            }
            "kind" => {
                let text = text_field(field, "kind", 64, limit).await?;
                let parsed = text
                    .trim()
                    .parse::<DocumentKind>()
                    .map_err(ApiError::BadRequest)?;
                kind = Some(parsed);
            }
            "profile" => {
                let text = text_field(field, "profile", 16 * 1024, limit).await?;
                let parsed = serde_json::from_str::<Profile>(&text).map_err(|e| {
                    ApiError::BadRequest(format!(
                        "the profile is not valid ({e}); expected a JSON object with any of: {}",
                        Profile::keys().collect::<Vec<_>>().join(", ")
                    ))
                })?;
                profile = Some(parsed);
            }
            other => {
                let other: String = other.chars().take(40).collect();
                return Err(ApiError::BadRequest(format!(
                    "unknown form field {other:?}: send file, kind and profile"
                )));
            }
        }
    }
    let received = file.ok_or_else(|| ApiError::BadRequest("the form has no file field".into()))?;
    let kind = kind.ok_or_else(|| {
        ApiError::BadRequest(format!(
            "the form has no kind field ({})",
            DocumentKind::listed()
        ))
    })?;
    Ok(UploadForm {
        received,
        file_name,
        kind,
        profile,
    })
}

/// Reads what is left of a refused form (the body limit bounds it), so that
/// a client still sending gets the answer rather than a reset connection.
async fn drain(form: &mut Multipart) {
    while let Ok(Some(mut field)) = form.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}

/// `POST /v1/accounts/{account}/documents`: multipart `file`, `kind`, `profile`.
pub async fn upload(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(account): Path<String>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    principal.require(&[Role::Uploader])?;
    let limit = state.max_upload;
    // A declared length over the limit is refused before a byte is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + super::MULTIPART_SLACK) {
        return Err(ApiError::TooLarge { limit });
    }
    require_content_type(&headers, "multipart/form-data")?;
    let mut form = form.map_err(|e| {
        ApiError::BadRequest(format!(
            "send the upload as multipart/form-data with file, kind and profile ({})",
            e.body_text()
        ))
    })?;
    let allowed = checked_account(&account).and_then(|()| principal.require_account(&account));
    let retry_after_s = state.retry_after_s;
    let read = match allowed {
        Ok(()) => {
            // Uploads being received at once are capped (each holds buffers
            // and a file): past it the client comes back later, its body unread.
            let Ok(_receiving) = state.receiving.clone().try_acquire_owned() else {
                return Err(ApiError::Busy { retry_after_s });
            };
            read_form(&state.intake, &mut form, limit).await
        }
        Err(e) => Err(e),
    };
    let UploadForm {
        received,
        file_name,
        kind,
        profile,
    } = match read {
        Ok(parts) => parts,
        Err(e) => {
            if !matches!(e, ApiError::TooLarge { .. }) {
                drain(&mut form).await;
            }
            return Err(e);
        }
    };
    let declared = Declared {
        account,
        kind,
        profile,
        file_name,
    };
    let submitted = blocking(&state, move |intake| {
        let submitted = intake.submit_received(declared, received);
        submitted.map_err(|e| match ApiError::from(e) {
            ApiError::Busy { .. } => ApiError::Busy { retry_after_s },
            other => other,
        })
    })
    .await?;
    let (job, resubmitted) = match &submitted {
        Submitted::New(job) => (job, false),
        Submitted::Existing(job) => (job, true),
    };
    let body = json!({
        "job_id": job.id,
        "state": job_state(job),
        "resubmitted": resubmitted,
    });
    let location = format!("/v1/jobs/{}", job.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

/// `415` unless the request's `Content-Type` is `expected` (parameters
/// such as a boundary or a charset aside).
fn require_content_type(headers: &HeaderMap, expected: &str) -> ApiResult<()> {
    let sent = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = sent.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "send the body as {expected}, not {}",
            if media_type.is_empty() {
                "without a Content-Type"
            } else {
                media_type
            }
        )))
    }
}

/// Any path the API does not have.
pub async fn no_such_route() -> ApiError {
    ApiError::NotFound("no such route; the routes are in /openapi.json".into())
}

/// A route asked with a method it does not take.
pub async fn wrong_method() -> ApiError {
    ApiError::MethodNotAllowed
}

/// `PUT /v1/accounts/{account}/profile`: a JSON profile whose fields replace
/// those the account's documents were checked against; each document whose
/// profile changes is checked again as a new job.
pub async fn update_profile(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    principal.require(&[Role::Uploader])?;
    require_content_type(&headers, "application/json")?;
    checked_account(&account)?;
    principal.require_account(&account)?;
    if body.len() > 16 * 1024 {
        return Err(ApiError::BadRequest(
            "the profile is longer than 16384 bytes".into(),
        ));
    }
    let update = serde_json::from_slice::<Profile>(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the profile is not valid ({e}); expected a JSON object with any of: {}",
            Profile::keys().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let by = intake_models::Actor::Uploader(principal.name.clone());
    let retry_after_s = state.retry_after_s;
    let outcome = blocking(&state, move |intake| {
        intake
            .update_profile(&account, &update, by)
            .map_err(|e| match ApiError::from(e) {
                ApiError::Busy { .. } => ApiError::Busy { retry_after_s },
                other => other,
            })
    })
    .await?;
    let rechecked: Vec<Value> = outcome
        .rechecked
        .iter()
        .map(|(kind, submitted)| {
            let job = submitted.job();
            json!({
                "kind": kind,
                "job_id": job.id,
                "state": job_state(job),
                "resubmitted": matches!(submitted, Submitted::Existing(_)),
            })
        })
        .collect();
    let body = json!({
        "rechecked": rechecked,
        "unchanged": outcome.unchanged,
        "upload_missing": outcome.upload_missing,
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

fn job_state(job: &Job) -> &'static str {
    match (job.state, job.review_seq) {
        (JobState::Pending, _) => "pending",
        (JobState::Done, Some(_)) => "reviewed",
        (JobState::Done, None) => "done",
    }
}

/// Loads a job the caller may see.
fn visible_job(intake: &Intake, principal: &Principal, id: &JobId) -> ApiResult<Job> {
    let job = intake
        .store()
        .job(id)?
        .ok_or_else(|| ApiError::NotFound("no such job".into()))?;
    // An uploader limited to some accounts learns nothing of the others' jobs.
    principal
        .require_account(&job.account)
        .map_err(|_| ApiError::NotFound("no such job".into()))?;
    Ok(job)
}

/// `GET /v1/jobs/{job}`: the state and, once done, the verdict.
pub async fn job(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Uploader, Role::Reviewer, Role::Auditor])?;
    let id = job_id(&raw)?;
    blocking(&state, move |intake| {
        let job = visible_job(intake, &principal, &id)?;
        let verdict = match job.verdict_seq {
            Some(seq) => intake.verdict(seq)?,
            None => None,
        };
        let review = match job.review_seq {
            Some(seq) => intake.verdict(seq)?,
            None => None,
        };
        let in_review = intake
            .review_queue()?
            .into_iter()
            .any(|item| item.job == job.id);
        Ok(Json(json!({
            "job_id": job.id,
            "account": job.account,
            "kind": job.kind,
            "file_name": job.file_name,
            "received_at": job.received_at,
            "state": if in_review { "in_review" } else { job_state(&job) },
            "declared": job.profile,
            "verdict": verdict.and_then(|e| e.report),
            "review": review.map(|e| json!({
                "seq": e.seq,
                "verdict": e.verdict,
                "by": e.by,
                "at": e.at,
                "items": e.findings,
                "comment": e.comment,
            })),
        })))
    })
    .await
}

fn account_body(id: &str, account: Option<Account>) -> Value {
    let account = account.unwrap_or_else(|| Account {
        id: id.to_string(),
        ..Account::default()
    });
    json!({
        "account": account.id,
        "status": account.status,
        "items": account.items,
        "documents": account.documents,
    })
}

/// `GET /v1/accounts/{account}`: the status and the items to fix.
pub async fn account(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(account): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Uploader, Role::Reviewer, Role::Auditor])?;
    checked_account(&account)?;
    principal.require_account(&account)?;
    blocking(&state, move |intake| {
        let stored = intake.status(&account)?;
        if stored.is_none() && !intake.knows_account(&account)? {
            return Err(ApiError::NotFound(format!(
                "no upload was ever made for account {account}"
            )));
        }
        Ok(Json(account_body(&account, stored)))
    })
    .await
}

/// `GET /v1/accounts/{account}/audit`: the account's audit log (the
/// reviewer's console shows it as the case history).
pub async fn audit(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(account): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Reviewer, Role::Auditor])?;
    checked_account(&account)?;
    blocking(&state, move |intake| {
        Ok(Json(json!(intake.audit(&account)?)))
    })
    .await
}

/// Where a client resumes the event stream: after the `Last-Event-ID` it
/// saw (a browser's reconnection), else after `?after=SEQ`, else from the start.
fn resume_from(headers: &HeaderMap, after: Option<u64>) -> u64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(after)
        .map_or(0, |seen| seen.saturating_add(1))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<u64>,
}

/// The outbox as server-sent events from `next`, those `keep` accepts: the
/// event id is the outbox seq, the name `verdict` or `status`, the data the
/// webhook's body. Fed by the store's flushes, not by a timer.
fn event_stream(
    state: &Arc<AppState>,
    next: u64,
    keep: impl Fn(&OutboxEvent) -> bool + Send + 'static,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let feed = Feed::new(state.intake.clone(), next);
    let start = (feed, VecDeque::new(), keep, state.closing.subscribe());
    let stream = stream::unfold(
        start,
        |(mut feed, mut ready, keep, mut closing)| async move {
            loop {
                if let Some(event) = ready.pop_front() {
                    return Some((Ok(sse_event(&event)), (feed, ready, keep, closing)));
                }
                let stopped = async {
                    let _ = closing.wait_for(|closing| *closing).await;
                };
                // A store failure or a shutdown ends the stream; the client
                // resumes with Last-Event-ID.
                let batch = tokio::select! {
                    batch = feed.next_batch() => batch.ok()?,
                    () = stopped => return None,
                };
                ready.extend(batch.into_iter().filter(|e| keep(e)));
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn sse_event(event: &OutboxEvent) -> Event {
    Event::default()
        .id(event.seq.to_string())
        .event(event_name(event))
        .data(serde_json::to_string(event).unwrap_or_default())
}

/// `GET /v1/events`: every account's verdicts and status changes, in
/// order (an uploader limited to some accounts sees only theirs).
pub async fn all_events(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    principal.require(&[Role::Uploader, Role::Reviewer, Role::Auditor])?;
    let next = resume_from(&headers, query.after);
    Ok(event_stream(&state, next, move |event| {
        principal.require_account(&event.notice.account).is_ok()
    }))
}

/// `GET /v1/accounts/{account}/events`: the same stream, one account's events.
pub async fn events(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(account): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    principal.require(&[Role::Uploader, Role::Reviewer, Role::Auditor])?;
    checked_account(&account)?;
    principal.require_account(&account)?;
    let next = resume_from(&headers, query.after);
    Ok(event_stream(&state, next, move |event| {
        event.notice.account == account
    }))
}

#[derive(Deserialize)]
pub struct ImageQuery {
    region: Option<String>,
}

/// `GET /v1/jobs/{job}/image?region=mrz|page`: a PNG for the console.
pub async fn image(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(raw): Path<String>,
    ApiQuery(query): ApiQuery<ImageQuery>,
) -> ApiResult<Response> {
    principal.require(&[Role::Uploader, Role::Reviewer])?;
    let id = job_id(&raw)?;
    let region = match query.region.as_deref().unwrap_or("page") {
        "page" => ImageRegion::Page,
        "mrz" => ImageRegion::Mrz,
        _ => return Err(ApiError::BadRequest("region is mrz or page".into())),
    };
    let png = blocking(&state, move |intake| {
        let job = visible_job(intake, &principal, &id)?;
        render(intake, &job, region)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

/// `GET /v1/review`: the flagged documents, oldest first.
pub async fn review_queue(
    State(state): State<Arc<AppState>>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Reviewer])?;
    blocking(&state, move |intake| {
        let now = intake.now_ms();
        let items: Vec<Value> = intake
            .review_queue()?
            .into_iter()
            .map(|item| {
                let holder = item.holder(now);
                let lease = item.claim.as_ref().filter(|_| holder.is_some());
                json!({
                    "job_id": item.job,
                    "account": item.account,
                    "kind": item.kind,
                    "seq": item.seq,
                    "since": item.since,
                    "findings": item.findings,
                    "claimed_by": holder,
                    "claimed_since": lease.map(|c| c.since),
                    "claimed_until": lease.map(|c| c.until),
                })
            })
            .collect();
        Ok(Json(json!(items)))
    })
    .await
}

/// `POST /v1/review/{job}/claim`: the caller takes the lease.
pub async fn claim(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Reviewer])?;
    let id = job_id(&raw)?;
    blocking(&state, move |intake| {
        let item = intake.claim(&id, &principal.name)?;
        Ok(Json(json!({
            "job_id": item.job,
            "claimed_by": principal.name,
            "claimed_until": item.claim.map(|c| c.until),
        })))
    })
    .await
}

/// `POST /v1/review/{job}/release`: the claimant gives the item back.
pub async fn release(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Reviewer])?;
    let id = job_id(&raw)?;
    blocking(&state, move |intake| {
        intake.release(&id, &principal.name)?;
        Ok(Json(json!({"job_id": id, "released_by": principal.name})))
    })
    .await
}

/// `GET /v1/me`: who the token is, for the console to say who is signed
/// in, and the service's clock (which `--today` may set), to measure ages by.
pub async fn me(State(state): State<Arc<AppState>>, principal: Principal) -> Json<Value> {
    Json(json!({
        "name": principal.name,
        "role": principal.role.as_str(),
        "now": state.intake.now_ms(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    decision: Decision,
    #[serde(default)]
    items: Vec<String>,
    #[serde(default)]
    comment: Option<String>,
}

/// `POST /v1/review/{job}/decision`: the claimant decides.
pub async fn decide(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(raw): Path<String>,
    body: Result<Json<DecisionBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Reviewer])?;
    let id = job_id(&raw)?;
    let Json(body) = body.map_err(|e| match e {
        axum::extract::rejection::JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("send the decision as application/json".into())
        }
        e => ApiError::BadRequest(format!(
            "the decision is not valid: {}; send {{\"decision\": \"accept|correct|reject\", \"items\": [...], \"comment\": \"...\"}}",
            e.body_text()
        )),
    })?;
    let comment = body.comment.map(|c| c.chars().take(2000).collect());
    let resolution = Resolution {
        decision: body.decision,
        items: parse_items(&body.items)?,
        comment,
    };
    blocking(&state, move |intake| {
        let seq = intake.resolve(&id, &principal.name, &resolution)?;
        let job = intake
            .store()
            .job(&id)?
            .ok_or_else(|| ApiError::NotFound("no such job".into()))?;
        let account = intake.status(&job.account)?;
        Ok(Json(json!({
            "seq": seq,
            "job_id": id,
            "account": account_body(&job.account, account),
        })))
    })
    .await
}

#[derive(Deserialize)]
pub struct QueuePage {
    /// The first sequence number wanted (0: from the start).
    #[serde(default)]
    from: u64,
    /// At most this many entries (1 to 1000; 100 if not given).
    limit: Option<usize>,
}

/// `GET /v1/queue?from=SEQ&limit=N`: the verdict queue, oldest first, with
/// the `from` of the next page.
pub async fn verdict_queue(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    ApiQuery(page): ApiQuery<QueuePage>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Auditor])?;
    let limit = page.limit.unwrap_or(100).clamp(1, 1000);
    blocking(&state, move |intake| {
        let entries = intake.verdicts(page.from, limit)?;
        let next = entries.last().map_or(page.from, |e| e.seq + 1);
        Ok(Json(json!({"entries": entries, "next": next})))
    })
    .await
}

/// `GET /v1/admin/audit/verify`: the audit log's hash chain walked.
pub async fn verify_audit(
    State(state): State<Arc<AppState>>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Auditor])?;
    blocking(&state, move |intake| {
        let check = intake.verify_audit()?;
        let broken = check
            .broken
            .map(|(seq, reason)| json!({"seq": seq, "reason": reason}));
        Ok(Json(json!({"entries": check.entries, "broken": broken})))
    })
    .await
}

/// `GET /v1/admin/accounts/verify`: every stored status against the one
/// the verdicts give.
pub async fn verify_accounts(
    State(state): State<Arc<AppState>>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Auditor])?;
    blocking(&state, move |intake| {
        Ok(Json(json!({"differences": intake.verify_accounts()?})))
    })
    .await
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    principal: Principal,
) -> ApiResult<Response> {
    principal.require(&[Role::Auditor])?;
    let metrics = state.metrics.clone();
    let text = blocking(&state, move |intake| Ok(metrics.render(intake)?)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// The store's state, for `/healthz` and `/readyz`: `None` when it writes.
fn store_problem(intake: &Intake) -> Option<Value> {
    intake.outage().map(|outage| {
        json!({
            "state": outage.cause.as_str(),
            "message": outage.cause.to_string(),
            "since_ms": outage.since_ms,
        })
    })
}

/// `GET /healthz`: the process answers (always `200`); `status` is
/// `degraded`, with the reason, while the store cannot write.
pub async fn healthz(State(state): State<Arc<AppState>>) -> Json<Value> {
    match store_problem(&state.intake) {
        None => Json(json!({"status": "ok"})),
        Some(store) => Json(json!({"status": "degraded", "store": store})),
    }
}

/// `GET /readyz`: `200` when uploads can be taken, else `503` with the
/// reason, for load balancers to route around this instance.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let store = store_problem(&state.intake);
    let workers = state.intake.is_running();
    if store.is_none() && workers {
        return Json(json!({"status": "ready"})).into_response();
    }
    let body = json!({
        "status": "not_ready",
        "store": store,
        "workers": if workers { "running" } else { "stopped" },
    });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// `GET /openapi.json`: the contract the tests hold every response to.
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

/// `GET /review`: the reviewer console (one page; the token stays in the browser).
pub async fn console() -> Html<&'static str> {
    Html(include_str!("console.html"))
}
