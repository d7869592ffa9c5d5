//! The handlers: check the role, parse, call the service, shape the answer.

use super::auth::Principal;
use super::bodies::*;
use super::error::{ApiError, ApiQuery};
use super::image::{render, ImageRegion};
use super::{AppState, BodyTimedOut};
use crate::service::notify::{event_name, Feed};
use crate::service::review::{parse_items, Resolution};
use crate::service::{
    Declared, Intake, ReceivedUpload, Submitted, Unavailable, UploadWriter, CHUNK_BYTES,
};
use axum::extract::multipart::{Field as FormField, MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream};
use intake_models::config::Role;
use intake_models::{DocumentKind, Job, JobId, JobState, OutboxEvent, Profile};
use serde::Deserialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use utoipa::IntoParams;

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
    crate::service::check_account(account).map_err(|e| ApiError::BadRequest(e.to_string()))
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
struct UploadParts {
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
) -> ApiResult<UploadParts> {
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
    Ok(UploadParts {
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

/// Upload a document scan for an account (uploader): multipart `file`,
/// `kind`, `profile`.
#[utoipa::path(post, path = "/v1/accounts/{account}/documents", operation_id = "uploadDocument", tag = "uploads",
    params(("account" = String, Path, description = "The applicant's account id.")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Stored durably; the job will get exactly one verdict.", body = UploadAccepted,
            headers(("Location" = String, description = "The job: `/v1/jobs/{job}`."))),
        (status = 400, description = "A bad kind, profile, form or account id.", body = ErrorBody),
        (status = 408, description = "The body stalled: nothing arrived for `server.body_timeout_ms`; nothing was stored.", body = ErrorBody),
        (status = 413, description = "The body is over the size limit (refused while streaming).", body = ErrorBody),
        (status = 415, description = "The body is not multipart/form-data.", body = ErrorBody),
        (status = 503, description = "The pipeline is full (`busy`), `server.max_receiving` uploads are being received already, or the store's disk is full (`storage_full`); nothing was stored. Retry after `Retry-After` seconds.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ),
    security(("bearer" = [])))]
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
    let UploadParts {
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
    let body = UploadAccepted {
        job_id: job.id.clone(),
        state: job_state(job),
        resubmitted,
    };
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

/// Update the profile the applicant declared (uploader): the fields given
/// replace those the account's documents were checked against, the others
/// stay; every document whose profile changes is checked again as a new
/// job. Audited (who, which fields).
#[utoipa::path(put, path = "/v1/accounts/{account}/profile", operation_id = "updateProfile", tag = "uploads",
    params(("account" = String, Path, description = "The applicant's account id.")),
    request_body(content = Profile, content_type = "application/json"),
    responses(
        (status = 202, description = "The documents are queued to be checked again.", body = ProfileUpdated),
        (status = 400, description = "The profile is not valid JSON of the profile's keys, or the account id is bad.", body = ErrorBody),
        (status = 404, description = "The account has no checked document.", body = ErrorBody),
        (status = 415, description = "The body is not application/json.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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
    let rechecked = outcome
        .rechecked
        .iter()
        .map(|(kind, submitted)| {
            let job = submitted.job();
            Recheck {
                kind: *kind,
                job_id: job.id.clone(),
                state: job_state(job),
                resubmitted: matches!(submitted, Submitted::Existing(_)),
            }
        })
        .collect();
    let body = ProfileUpdated {
        rechecked,
        unchanged: outcome.unchanged,
        upload_missing: outcome.upload_missing,
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

fn job_state(job: &Job) -> JobStatus {
    match (job.state, job.review_seq) {
        (JobState::Pending, _) => JobStatus::Pending,
        (JobState::Done, Some(_)) => JobStatus::Reviewed,
        (JobState::Done, None) => JobStatus::Done,
    }
}

/// Loads a job the caller may see.
fn visible_job(intake: &Intake, principal: &Principal, id: &JobId) -> ApiResult<Job> {
    let job = intake
        .job(id)?
        .ok_or_else(|| ApiError::NotFound("no such job".into()))?;
    // An uploader limited to some accounts learns nothing of the others' jobs.
    principal
        .require_account(&job.account)
        .map_err(|_| ApiError::NotFound("no such job".into()))?;
    Ok(job)
}

/// A job's state and, once done, its verdict in the `intake check --json`
/// shape (uploader, reviewer, auditor).
#[utoipa::path(get, path = "/v1/jobs/{job}", operation_id = "getJob", tag = "uploads",
    params(("job" = String, Path, description = "The job id of the upload's `202`.")),
    responses(
        (status = 200, description = "The job.", body = JobBody),
        (status = 404, description = "No such job (or not the caller's).", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn job(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(raw): Path<String>,
) -> ApiResult<Json<JobBody>> {
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
        // A job is in review once its verdict is committed: on JetStream
        // its review item is written a moment before the job is marked done.
        let in_review = job.verdict_seq.is_some()
            && intake
                .review_queue()?
                .into_iter()
                .any(|item| item.job == job.id);
        Ok(Json(JobBody {
            state: if in_review {
                JobStatus::InReview
            } else {
                job_state(&job)
            },
            job_id: job.id,
            account: job.account,
            kind: job.kind,
            file_name: job.file_name,
            received_at: job.received_at,
            declared: job.profile,
            verdict: verdict.and_then(|e| e.report),
            review: review.map(|e| Review {
                seq: e.seq,
                verdict: e.verdict,
                by: e.by,
                at: e.at,
                items: e.findings,
                comment: e.comment,
            }),
        }))
    })
    .await
}

/// The account's status and the items to fix (uploader, reviewer, auditor).
#[utoipa::path(get, path = "/v1/accounts/{account}", operation_id = "getAccount", tag = "accounts",
    params(("account" = String, Path, description = "The applicant's account id.")),
    responses(
        (status = 200, description = "The status.", body = AccountBody),
        (status = 400, description = "A bad account id.", body = ErrorBody),
        (status = 404, description = "No upload was ever made for this account.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn account(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(account): Path<String>,
) -> ApiResult<Json<AccountBody>> {
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
        Ok(Json(AccountBody::new(&account, stored)))
    })
    .await
}

/// The account's audit log, oldest first, a page at a time (reviewer,
/// auditor): the console shows it as the case history.
#[utoipa::path(get, path = "/v1/accounts/{account}/audit", operation_id = "listAccountAudit", tag = "accounts",
    params(("account" = String, Path, description = "The applicant's account id."), PageQuery),
    responses(
        (status = 200, description = "One page, oldest first.", body = AuditPage),
        (status = 400, description = "A bad account id or cursor.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn audit(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(account): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<AuditPage>> {
    principal.require(&[Role::Reviewer, Role::Auditor])?;
    checked_account(&account)?;
    page.after().map_err(ApiError::BadRequest)?;
    blocking(&state, move |intake| {
        let (items, next_cursor) = page
            .take(intake.audit(&account)?, |e| e.seq)
            .map_err(ApiError::BadRequest)?;
        Ok(Json(AuditPage { items, next_cursor }))
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this event id (the outbox seq); `Last-Event-ID` wins.
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

/// Server-sent events of every account (an uploader limited to some
/// accounts sees theirs): each verdict and each status change in commit
/// order; resumable by `Last-Event-ID` or `?after=`.
#[utoipa::path(get, path = "/v1/events", operation_id = "streamEvents", tag = "events",
    params(
        ("Last-Event-ID" = Option<u64>, Header, description = "The last event id seen: the stream resumes after it."),
        EventsQuery),
    responses(
        (status = 200, description = "An event stream: id = outbox seq, event = `verdict` | `status`, data = an `OutboxEvent` as JSON.",
            content_type = "text/event-stream", body = String),
    ),
    security(("bearer" = [])))]
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

/// Server-sent events of one account: the `/v1/events` feed filtered to it
/// (same ids, names and data).
#[utoipa::path(get, path = "/v1/accounts/{account}/events", operation_id = "streamAccountEvents", tag = "events",
    params(
        ("account" = String, Path, description = "The applicant's account id."),
        ("Last-Event-ID" = Option<u64>, Header, description = "The last event id seen: the stream resumes after it."),
        EventsQuery),
    responses(
        (status = 200, description = "An event stream: id = outbox seq, event = `verdict` | `status`, data = an `OutboxEvent` as JSON.",
            content_type = "text/event-stream", body = String),
        (status = 400, description = "A bad account id.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImageQuery {
    /// `page` (the default: the page with the MRZ outlined) or `mrz` (the MRZ alone).
    region: Option<String>,
}

/// The scan as PNG for the console: the page with the MRZ outlined, or the
/// MRZ alone (uploader, reviewer).
#[utoipa::path(get, path = "/v1/jobs/{job}/image", operation_id = "getJobImage", tag = "review",
    params(("job" = String, Path, description = "The job id."), ImageQuery),
    responses(
        (status = 200, description = "A PNG image.", content_type = "image/png", body = Vec<u8>),
        (status = 400, description = "A bad region.", body = ErrorBody),
        (status = 404, description = "No such job, or nothing to show.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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

/// The review queue, oldest first, a page at a time (reviewer): each
/// flagged document with who holds it and until when.
#[utoipa::path(get, path = "/v1/review", operation_id = "listReviewQueue", tag = "review",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of the flagged documents, oldest first.", body = ReviewPage),
        (status = 400, description = "A bad cursor or limit.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn review_queue(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<ReviewPage>> {
    principal.require(&[Role::Reviewer])?;
    page.after().map_err(ApiError::BadRequest)?;
    blocking(&state, move |intake| {
        let now = intake.now_ms();
        let (items, next_cursor) = page
            .take(intake.review_queue()?, |item| item.seq)
            .map_err(ApiError::BadRequest)?;
        let items = items
            .into_iter()
            .map(|item| ReviewEntry::new(item, now))
            .collect();
        Ok(Json(ReviewPage { items, next_cursor }))
    })
    .await
}

/// Claim a flagged document (reviewer): a lease that returns it to the
/// queue when it runs out.
#[utoipa::path(post, path = "/v1/review/{job}/claim", operation_id = "claimReviewItem", tag = "review",
    params(("job" = String, Path, description = "The flagged job.")),
    responses(
        (status = 200, description = "Claimed.", body = Claimed),
        (status = 404, description = "Not in the review queue.", body = ErrorBody),
        (status = 409, description = "Claimed by another reviewer.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn claim(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(raw): Path<String>,
) -> ApiResult<Json<Claimed>> {
    principal.require(&[Role::Reviewer])?;
    let id = job_id(&raw)?;
    blocking(&state, move |intake| {
        let item = intake.claim(&id, &principal.name)?;
        Ok(Json(Claimed {
            job_id: item.job,
            claimed_by: principal.name,
            claimed_until: item.claim.map(|c| c.until),
        }))
    })
    .await
}

/// Release a claimed document (reviewer, the claimant): it is back in the
/// queue for any reviewer at once.
#[utoipa::path(post, path = "/v1/review/{job}/release", operation_id = "releaseReviewItem", tag = "review",
    params(("job" = String, Path, description = "The flagged job.")),
    responses(
        (status = 200, description = "Released.", body = Released),
        (status = 404, description = "Not in the review queue.", body = ErrorBody),
        (status = 409, description = "The caller does not hold the item's lease.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn release(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(raw): Path<String>,
) -> ApiResult<Json<Released>> {
    principal.require(&[Role::Reviewer])?;
    let id = job_id(&raw)?;
    blocking(&state, move |intake| {
        intake.release(&id, &principal.name)?;
        Ok(Json(Released {
            job_id: id,
            released_by: principal.name,
        }))
    })
    .await
}

/// Who the token is (any role), for the console to say who is signed in,
/// and the service's clock (which `--today` may set), to measure ages by.
#[utoipa::path(get, path = "/v1/me", operation_id = "getMe", tag = "review",
    responses((status = 200, description = "The caller.", body = Me)),
    security(("bearer" = [])))]
pub async fn me(State(state): State<Arc<AppState>>, principal: Principal) -> Json<Me> {
    Json(Me {
        name: principal.name,
        role: principal.role,
        now: state.intake.now_ms(),
    })
}

/// The claimant's decision (reviewer); a reviewer's verdict joins the
/// verdict queue and the account's status follows.
#[utoipa::path(post, path = "/v1/review/{job}/decision", operation_id = "decideReviewItem", tag = "review",
    params(("job" = String, Path, description = "The flagged job.")),
    request_body(content = DecisionBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Decided; the account status followed.", body = Decided),
        (status = 400, description = "A bad decision or item.", body = ErrorBody),
        (status = 404, description = "Not in the review queue.", body = ErrorBody),
        (status = 409, description = "Not claimed by the caller.", body = ErrorBody),
        (status = 415, description = "The body is not application/json.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn decide(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    Path(raw): Path<String>,
    body: Result<Json<DecisionBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Decided>> {
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
            .job(&id)?
            .ok_or_else(|| ApiError::NotFound("no such job".into()))?;
        let account = intake.status(&job.account)?;
        Ok(Json(Decided {
            seq,
            job_id: id,
            account: AccountBody::new(&job.account, account),
        }))
    })
    .await
}

/// The verdict queue, oldest first, a page at a time (auditor): `intake
/// queue tail` against a running service.
#[utoipa::path(get, path = "/v1/queue", operation_id = "listVerdicts", tag = "audit",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of the verdict queue, oldest first.", body = VerdictPage),
        (status = 400, description = "A bad cursor or limit.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn verdict_queue(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<VerdictPage>> {
    principal.require(&[Role::Auditor])?;
    let after = page.after().map_err(ApiError::BadRequest)?;
    blocking(&state, move |intake| {
        // One more than the page, to know whether another follows.
        let entries = intake.verdicts(after.saturating_add(1), page.limit() + 1)?;
        let (items, next_cursor) = page
            .take(entries, |e| e.seq)
            .map_err(ApiError::BadRequest)?;
        Ok(Json(VerdictPage { items, next_cursor }))
    })
    .await
}

/// Walks the audit log's hash chain (auditor): `intake audit verify`
/// against a running service.
#[utoipa::path(get, path = "/v1/admin/audit/verify", operation_id = "verifyAudit", tag = "audit",
    responses((status = 200, description = "The entries that hold, and the first broken link if any.", body = AuditVerified)),
    security(("bearer" = [])))]
pub async fn verify_audit(
    State(state): State<Arc<AppState>>,
    principal: Principal,
) -> ApiResult<Json<AuditVerified>> {
    principal.require(&[Role::Auditor])?;
    blocking(&state, move |intake| {
        let check = intake.verify_audit()?;
        Ok(Json(AuditVerified {
            entries: check.entries,
            broken: check.broken.map(|(seq, reason)| BrokenLink { seq, reason }),
        }))
    })
    .await
}

/// Every stored account status against the one the verdicts give
/// (auditor): `intake accounts verify` against a running service.
#[utoipa::path(get, path = "/v1/admin/accounts/verify", operation_id = "verifyAccounts", tag = "audit",
    responses((status = 200, description = "The differences; none when all is well.", body = AccountsVerified)),
    security(("bearer" = [])))]
pub async fn verify_accounts(
    State(state): State<Arc<AppState>>,
    principal: Principal,
) -> ApiResult<Json<AccountsVerified>> {
    principal.require(&[Role::Auditor])?;
    blocking(&state, move |intake| {
        Ok(Json(AccountsVerified {
            differences: intake.verify_accounts()?,
        }))
    })
    .await
}

/// Prometheus metrics (auditor).
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "operations",
    responses((status = 200, description = "Prometheus text.", content_type = "text/plain", body = String)),
    security(("bearer" = [])))]
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
fn store_problem(intake: &Intake) -> Option<StoreProblem> {
    intake.outage().map(|outage| StoreProblem {
        state: match outage.cause {
            Unavailable::Full => StoreState::StorageFull,
            Unavailable::ReadOnly => StoreState::StorageReadOnly,
        },
        message: outage.cause.to_string(),
        since: outage.since_ms,
    })
}

/// Liveness: the process answers (always `200`); `status` is `degraded`,
/// with the reason, while the store cannot write.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "Alive; `degraded` with the reason while the store cannot write.", body = Health)))]
pub async fn healthz(State(state): State<Arc<AppState>>) -> Json<Health> {
    let store = store_problem(&state.intake);
    let status = match store {
        None => HealthStatus::Ok,
        Some(_) => HealthStatus::Degraded,
    };
    Json(Health { status, store })
}

/// Readiness: `200` when uploads can be taken, else `503` with the reason,
/// for load balancers to route around this instance.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready.", body = Readiness),
        (status = 503, description = "Not ready: the store cannot write, or the workers are stopped.", body = Readiness),
    ))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let store = store_problem(&state.intake);
    let workers = state.intake.is_running();
    if store.is_none() && workers {
        let ready = Readiness {
            status: ReadyStatus::Ready,
            store: None,
            workers: None,
        };
        return Json(ready).into_response();
    }
    let body = Readiness {
        status: ReadyStatus::NotReady,
        store,
        workers: Some(if workers {
            WorkersState::Running
        } else {
            WorkersState::Stopped
        }),
    };
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// This document: OpenAPI 3.1, generated from the handlers and their types.
#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApi", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1.", body = Object)))]
pub async fn openapi() -> Json<Value> {
    Json(super::openapi::document().clone())
}

/// The reviewer console (one page; the token stays in the browser).
#[utoipa::path(get, path = "/review", operation_id = "getConsole", tag = "review",
    responses((status = 200, description = "The page.", content_type = "text/html", body = String)))]
pub async fn console() -> Html<&'static str> {
    Html(include_str!("console.html"))
}
