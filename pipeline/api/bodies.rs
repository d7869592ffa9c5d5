//! What the API's routes answer, and the decision body it takes: typed, so
//! that the OpenAPI document is derived from them (`openapi.rs`) and the
//! operator commands (`remote`) read the very types the handlers write.
//! Instants are RFC 3339 in UTC; lists come in pages with a cursor.

use intake_models::config::Role;
use intake_models::time::{rfc3339_ms, rfc3339_ms_option};
use intake_models::{
    Account, AccountStatus, AuditEntry, Claim, Decision, DocumentKind, DocumentState, Finding,
    JobId, Profile, Report, ReviewItem, Verdict, VerdictEntry,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// The error code of an error body: what kind of failure, for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    MethodNotAllowed,
    UnsupportedMediaType,
    TooLarge,
    Timeout,
    Busy,
    StorageFull,
    StorageReadOnly,
    Internal,
}

/// Every error, on every status.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorCode,
    /// What happened and what to do; for `internal`, only the request id to
    /// quote (the detail is in the server's log under it).
    pub message: String,
    /// The request's id, as in the `X-Request-Id` response header.
    pub request_id: String,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for the pipeline's verdict.
    Pending,
    /// Decided by the pipeline.
    Done,
    /// Flagged and waiting for a reviewer.
    InReview,
    /// Decided by a reviewer.
    Reviewed,
}

/// An upload taken: stored durably, it will get exactly one verdict.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadAccepted {
    pub job_id: JobId,
    #[schema(inline)]
    pub state: JobStatus,
    /// The same account, kind, file and declared profile were submitted
    /// before: this is that job. The same file with another profile is a
    /// new job, checked again.
    pub resubmitted: bool,
}

/// The upload form (`multipart/form-data`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The scan: JPEG, PNG, TIFF, BMP or PDF.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    kind: DocumentKind,
    /// The declared profile as JSON (optional).
    #[schema(value_type = Option<Profile>)]
    profile: Option<String>,
}

/// A document checked again under an updated profile: a new job.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recheck {
    pub kind: DocumentKind,
    pub job_id: JobId,
    pub state: JobStatus,
    pub resubmitted: bool,
}

/// What a profile update set going.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdated {
    /// The documents checked again under the updated profile, each a new job.
    pub rechecked: Vec<Recheck>,
    /// Documents whose profile the update does not change.
    pub unchanged: Vec<DocumentKind>,
    /// Documents whose upload was purged: the applicant uploads them again.
    pub upload_missing: Vec<DocumentKind>,
}

/// A reviewer's decision on a job, as the job shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The verdict queue entry of the decision.
    pub seq: u64,
    pub verdict: Verdict,
    pub by: intake_models::Actor,
    #[serde(with = "rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at: u64,
    /// What the applicant must fix, or why it was refused.
    pub items: Vec<Finding>,
    pub comment: Option<String>,
}

/// A job: its state and, once decided, its verdict.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobBody {
    pub job_id: JobId,
    pub account: String,
    pub kind: DocumentKind,
    pub file_name: String,
    #[serde(with = "rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: u64,
    pub state: JobStatus,
    /// The profile the document was checked against.
    pub declared: Option<Profile>,
    /// The pipeline's verdict in the `intake check --json` shape.
    pub verdict: Option<Report>,
    /// The reviewer's decision, once made.
    pub review: Option<Review>,
}

/// An account's status and the items to fix.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountBody {
    pub account: String,
    pub status: AccountStatus,
    /// The exact items to fix, or the reasons of a refusal.
    pub items: Vec<Finding>,
    /// The latest decision per kind of document.
    pub documents: BTreeMap<DocumentKind, DocumentState>,
}

impl AccountBody {
    /// The account as stored, or a pending one with nothing decided yet.
    pub fn new(id: &str, account: Option<Account>) -> AccountBody {
        let account = account.unwrap_or_else(|| Account {
            id: id.to_string(),
            ..Account::default()
        });
        AccountBody {
            account: account.id,
            status: account.status,
            items: account.items,
            documents: account.documents,
        }
    }

    pub fn into_account(self) -> Account {
        Account {
            id: self.account,
            documents: self.documents,
            status: self.status,
            items: self.items,
            status_at: 0,
        }
    }
}

/// A flagged document in the review queue, with who holds it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewEntry {
    pub job_id: JobId,
    pub account: String,
    pub kind: DocumentKind,
    /// The pipeline verdict that flagged it.
    pub seq: u64,
    /// When it entered the queue.
    #[serde(with = "rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub since: u64,
    pub findings: Vec<Finding>,
    /// The reviewer whose lease runs, if any.
    pub claimed_by: Option<String>,
    /// When they took it (unknown for claims older than this field).
    #[serde(with = "rfc3339_ms_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub claimed_since: Option<u64>,
    /// When the lease runs out and the item is back in the queue.
    #[serde(with = "rfc3339_ms_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub claimed_until: Option<u64>,
}

impl ReviewEntry {
    /// The item as a reviewer sees it at `now`: a lease that ran out is no hold.
    pub fn new(item: ReviewItem, now: u64) -> ReviewEntry {
        let lease = item.claim.filter(|c| c.until > now);
        ReviewEntry {
            job_id: item.job,
            account: item.account,
            kind: item.kind,
            seq: item.seq,
            since: item.since,
            findings: item.findings,
            claimed_by: lease.as_ref().map(|c| c.reviewer.clone()),
            claimed_since: lease.as_ref().map(|c| c.since).filter(|&since| since > 0),
            claimed_until: lease.map(|c| c.until),
        }
    }

    pub fn into_item(self) -> ReviewItem {
        let (since, until) = (self.claimed_since.unwrap_or(0), self.claimed_until);
        ReviewItem {
            job: self.job_id,
            account: self.account,
            kind: self.kind,
            seq: self.seq,
            findings: self.findings,
            since: self.since,
            claim: self.claimed_by.zip(until).map(|(reviewer, until)| Claim {
                reviewer,
                since,
                until,
            }),
        }
    }
}

/// A claim taken.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Claimed {
    pub job_id: JobId,
    pub claimed_by: String,
    #[serde(with = "rfc3339_ms_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub claimed_until: Option<u64>,
}

/// A claim given back.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Released {
    pub job_id: JobId,
    pub released_by: String,
}

/// Who the token is.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Me {
    pub name: String,
    pub role: Role,
    /// The service's clock (which `--today` may set): the console measures
    /// queue ages and leases with it.
    #[serde(with = "rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub now: u64,
}

/// A reviewer's decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub decision: Decision,
    /// For `correct`: form fields (`surname`, `birth_date`, …) or reason
    /// codes (`resolution_too_low`, …) the applicant must fix.
    #[serde(default)]
    pub items: Vec<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A decision made; the account's status followed it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decided {
    /// The reviewer's verdict's entry in the verdict queue.
    pub seq: u64,
    pub job_id: JobId,
    pub account: AccountBody,
}

/// Where a list resumes: `cursor` from the page before (none for the
/// first page), at most `limit` items (1 to 1000; 100 if not given).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next_cursor` of the page before; opaque.
    pub cursor: Option<String>,
    /// At most this many items (1 to 1000; 100 if not given).
    pub limit: Option<usize>,
}

impl PageQuery {
    /// The seq the page starts after (0: from the start); `Err` names the
    /// cursor that is not one of ours.
    pub fn after(&self) -> Result<u64, String> {
        match self.cursor.as_deref() {
            None | Some("") => Ok(0),
            Some(cursor) => cursor.parse().map_err(|_| {
                format!("the cursor {cursor:?} is not one this service gave; give the next_cursor of the page before, or none for the first page")
            }),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(100).clamp(1, 1000)
    }

    /// The page of `items` (in ascending `seq`) after the cursor, and the
    /// cursor of the next page if there is more.
    pub fn take<T>(
        &self,
        items: impl IntoIterator<Item = T>,
        seq: impl Fn(&T) -> u64,
    ) -> Result<(Vec<T>, Option<String>), String> {
        let (after, limit) = (self.after()?, self.limit());
        let mut page: Vec<T> = items
            .into_iter()
            .filter(|item| seq(item) > after)
            .take(limit + 1)
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let next = more
            .then(|| page.last().map(|item| seq(item).to_string()))
            .flatten();
        Ok((page, next))
    }
}

/// One page of a list, oldest first: `next_cursor` is the `cursor` of the
/// next page, `null` on the last.
macro_rules! page {
    ($(#[$doc:meta])* $name:ident of $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Give it as `cursor` for the next page; `null` on the last page.
            pub next_cursor: Option<String>,
        }
    };
}

page!(
    /// A page of an account's audit log.
    AuditPage of AuditEntry
);
page!(
    /// A page of the review queue.
    ReviewPage of ReviewEntry
);
page!(
    /// A page of the verdict queue.
    VerdictPage of VerdictEntry
);

/// The audit chain walked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditVerified {
    /// Entries that hold.
    pub entries: u64,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrokenLink {
    pub seq: u64,
    pub reason: String,
}

/// Stored statuses against those the verdicts give.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountsVerified {
    /// One line per account whose stored status differs; none when all is well.
    pub differences: Vec<String>,
}

/// Why the store cannot write.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreProblem {
    #[schema(inline)]
    pub state: StoreState,
    /// What is wrong with the storage, for an operator.
    pub message: String,
    /// When the store went out of service.
    #[serde(with = "rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub since: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreState {
    StorageFull,
    StorageReadOnly,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    /// The store cannot write (it comes back by itself once it can).
    Degraded,
}

/// Liveness.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    #[schema(inline)]
    pub status: HealthStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreProblem>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    NotReady,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkersState {
    Running,
    Stopped,
}

/// Readiness: whether this instance can take uploads now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Readiness {
    #[schema(inline)]
    pub status: ReadyStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreProblem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(inline)]
    pub workers: Option<WorkersState>,
}
