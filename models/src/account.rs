//! Accounts, the review queue and the audit log: what the verdict queue's
//! consumers keep.

use crate::{Actor, DocumentKind, Finding, Job, JobId, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The status an applicant sees: a projection over the account's verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Nothing decided yet, or documents still missing.
    #[default]
    Pending,
    /// A reviewer has to decide on a document.
    InReview,
    /// The applicant must fix the items listed.
    NeedsCorrection,
    /// An accepted identity document and an accepted, unexpired stay document.
    Verified,
    /// A document was refused.
    Refused,
    /// A correction request was left unanswered past the deadline.
    Restricted,
    /// A correction request was left unanswered until it was closed
    /// (`accounts.close_after_hours`); a new upload reopens it.
    Closed,
    /// The stay document has expired: re-verification needed.
    Blocked,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::InReview => "in_review",
            AccountStatus::NeedsCorrection => "needs_correction",
            AccountStatus::Verified => "verified",
            AccountStatus::Refused => "refused",
            AccountStatus::Restricted => "restricted",
            AccountStatus::Closed => "closed",
            AccountStatus::Blocked => "blocked",
        }
    }

    /// The status as the portal shows it to the applicant, in Russian.
    pub fn label_ru(self) -> &'static str {
        match self {
            AccountStatus::Pending => "ожидает проверки",
            AccountStatus::InReview => "на проверке",
            AccountStatus::NeedsCorrection => "требуется дополнение",
            AccountStatus::Verified => "подтверждён",
            AccountStatus::Refused => "отказано",
            AccountStatus::Restricted => "ограничен",
            AccountStatus::Closed => "обращение закрыто",
            AccountStatus::Blocked => "заблокирован",
        }
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latest decision on one kind of document of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentState {
    pub job: JobId,
    /// The verdict queue entry that decided it.
    pub seq: u64,
    pub verdict: Verdict,
    /// What the applicant must fix or why it was refused (no informational findings).
    pub items: Vec<Finding>,
    /// The document's expiry date (ISO), as read by the pipeline.
    pub expiry_date: Option<String>,
    /// When it was decided, Unix milliseconds.
    #[serde(with = "crate::time::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at: u64,
}

/// The stored projection of one account.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    pub id: String,
    /// The latest decision per kind of document.
    pub documents: BTreeMap<DocumentKind, DocumentState>,
    pub status: AccountStatus,
    /// The exact items to fix (`needs_correction`, `restricted`, `blocked`)
    /// or the reasons of a refusal.
    pub items: Vec<Finding>,
    /// The clock (Unix ms) `status` was computed at.
    #[serde(with = "crate::time::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub status_at: u64,
}

/// A document flagged for a reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewItem {
    pub job: JobId,
    pub account: String,
    pub kind: DocumentKind,
    /// The pipeline verdict that flagged it.
    pub seq: u64,
    pub findings: Vec<Finding>,
    /// Unix ms it entered the queue.
    #[serde(with = "crate::time::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub since: u64,
    pub claim: Option<Claim>,
}

/// A reviewer's lease on a review item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Claim {
    pub reviewer: String,
    /// Unix ms the reviewer took the item (kept when they renew the lease);
    /// 0 for a claim stored before this was kept.
    #[serde(default, with = "crate::time::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub since: u64,
    /// Unix ms the lease ends; after it the item is back in the queue.
    #[serde(with = "crate::time::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub until: u64,
}

impl ReviewItem {
    /// The reviewer holding the item at `now`, if the lease runs.
    pub fn holder(&self, now: u64) -> Option<&str> {
        self.claim
            .as_ref()
            .filter(|c| c.until > now)
            .map(|c| c.reviewer.as_str())
    }
}

/// A reviewer's decision on a flagged document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accept,
    Correct,
    Reject,
}

impl Decision {
    /// As the JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Correct => "correct",
            Decision::Reject => "reject",
        }
    }

    pub fn verdict(self) -> Verdict {
        match self {
            Decision::Accept => Verdict::Accepted,
            Decision::Correct => Verdict::NeedsCorrection,
            Decision::Reject => Verdict::Rejected,
        }
    }
}

impl std::str::FromStr for Decision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "accept" => Ok(Decision::Accept),
            "correct" => Ok(Decision::Correct),
            "reject" => Ok(Decision::Reject),
            other => Err(format!(
                "unknown decision {other:?}: expected accept, correct or reject"
            )),
        }
    }
}

/// One entry of the audit log: every state change, who made it, before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Position in the log: strictly increasing.
    pub seq: u64,
    /// When (Unix ms in memory; RFC 3339 written).
    #[serde(with = "crate::time::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at: u64,
    pub account: String,
    pub job: Option<JobId>,
    /// What changed: see [`AuditAction`] (written as its name).
    #[schema(value_type = String, example = "review_claimed")]
    pub action: AuditAction,
    pub by: crate::Actor,
    pub before: Option<String>,
    pub after: Option<String>,
    /// SHA-256 (hex) of the previous entry as stored (zeros for the first):
    /// the hash chain `intake audit verify` walks. Set by the store.
    #[serde(default)]
    pub prev_hash: String,
}

/// What an audit entry records. Written as its snake_case name, exactly
/// the string the field held before it was an enum: the hash chain covers
/// each entry's JSON as written, and readers of the log match on these
/// names. A name this build does not know reads as [`AuditAction::Other`],
/// so every stored log still opens (and writes back byte for byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditAction {
    JobSubmitted,
    Verdict,
    ReviewQueued,
    Status,
    ReviewClaimed,
    ReviewReleased,
    ReviewResolved,
    ReviewWithdrawn,
    ReviewLeaseExpired,
    ProfileUpdated,
    UploadPurged,
    /// A name not listed above (another intake's), kept as read.
    Other(String),
}

impl AuditAction {
    /// Every action this build writes.
    pub const KNOWN: [AuditAction; 11] = [
        AuditAction::JobSubmitted,
        AuditAction::Verdict,
        AuditAction::ReviewQueued,
        AuditAction::Status,
        AuditAction::ReviewClaimed,
        AuditAction::ReviewReleased,
        AuditAction::ReviewResolved,
        AuditAction::ReviewWithdrawn,
        AuditAction::ReviewLeaseExpired,
        AuditAction::ProfileUpdated,
        AuditAction::UploadPurged,
    ];

    /// The name as the log spells it.
    pub fn as_str(&self) -> &str {
        match self {
            AuditAction::JobSubmitted => "job_submitted",
            AuditAction::Verdict => "verdict",
            AuditAction::ReviewQueued => "review_queued",
            AuditAction::Status => "status",
            AuditAction::ReviewClaimed => "review_claimed",
            AuditAction::ReviewReleased => "review_released",
            AuditAction::ReviewResolved => "review_resolved",
            AuditAction::ReviewWithdrawn => "review_withdrawn",
            AuditAction::ReviewLeaseExpired => "review_lease_expired",
            AuditAction::ProfileUpdated => "profile_updated",
            AuditAction::UploadPurged => "upload_purged",
            AuditAction::Other(name) => name,
        }
    }

    /// The action of a name as the log spells it; `Other` if unknown.
    pub fn named(name: &str) -> AuditAction {
        AuditAction::KNOWN
            .into_iter()
            .find(|known| known.as_str() == name)
            .unwrap_or_else(|| AuditAction::Other(name.to_string()))
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditAction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(AuditAction::named(&name))
    }
}

/// The entries each change writes, worded in one place. `seq` and
/// `prev_hash` are left for the store to set when it appends the entry.
impl AuditEntry {
    fn unchained(
        action: AuditAction,
        at: u64,
        account: String,
        job: Option<JobId>,
        by: Actor,
        before: Option<String>,
        after: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at,
            account,
            job,
            action,
            by,
            before,
            after,
            prev_hash: String::new(),
        }
    }

    /// An upload taken in: its job waits for the pipeline.
    pub fn job_submitted(job: &Job, at: u64) -> AuditEntry {
        let after = format!("pending ({})", job.kind);
        AuditEntry::of_job(AuditAction::JobSubmitted, job, at, None, after)
    }

    /// The pipeline's verdict on a job.
    pub fn verdict(job: &Job, at: u64, verdict: Verdict) -> AuditEntry {
        let before = Some("pending".to_string());
        AuditEntry::of_job(AuditAction::Verdict, job, at, before, verdict.as_str())
    }

    /// A job whose verdict needs a person joins the review queue.
    pub fn review_queued(job: &Job, at: u64) -> AuditEntry {
        AuditEntry::of_job(AuditAction::ReviewQueued, job, at, None, "queued")
    }

    /// A job's upload deleted under the retention rule.
    pub fn upload_purged(job: &Job, at: u64) -> AuditEntry {
        let before = Some("stored".to_string());
        let after = "deleted under the retention rule";
        AuditEntry::of_job(AuditAction::UploadPurged, job, at, before, after)
    }

    /// The pipeline's change to a job, on the job's account.
    fn of_job(
        action: AuditAction,
        job: &Job,
        at: u64,
        before: Option<String>,
        after: impl Into<String>,
    ) -> AuditEntry {
        let (account, id) = (job.account.clone(), Some(job.id.clone()));
        AuditEntry::unchained(
            action,
            at,
            account,
            id,
            Actor::Pipeline,
            before,
            Some(after.into()),
        )
    }

    /// An account's status changed (`job` the verdict's, if one caused it).
    pub fn status(
        account: &str,
        job: Option<JobId>,
        by: Actor,
        at: u64,
        before: Option<String>,
        after: String,
    ) -> AuditEntry {
        let account = account.to_string();
        AuditEntry::unchained(
            AuditAction::Status,
            at,
            account,
            job,
            by,
            before,
            Some(after),
        )
    }

    /// The applicant's declared profile updated.
    pub fn profile_updated(account: &str, by: Actor, at: u64, after: String) -> AuditEntry {
        let account = account.to_string();
        let action = AuditAction::ProfileUpdated;
        AuditEntry::unchained(action, at, account, None, by, None, Some(after))
    }

    /// `reviewer` took (or renewed) the lease on a review item.
    pub fn review_claimed(
        item: &ReviewItem,
        reviewer: &str,
        at: u64,
        before: String,
        after: String,
    ) -> AuditEntry {
        let by = Actor::Reviewer(reviewer.into());
        AuditEntry::of_review(AuditAction::ReviewClaimed, item, by, at, before, after)
    }

    /// `reviewer` gave a review item back before the lease ended.
    pub fn review_released(
        item: &ReviewItem,
        reviewer: &str,
        at: u64,
        before: String,
        after: String,
    ) -> AuditEntry {
        let by = Actor::Reviewer(reviewer.into());
        AuditEntry::of_review(AuditAction::ReviewReleased, item, by, at, before, after)
    }

    /// `reviewer` decided a review item (`after`: the verdict and its reasons).
    pub fn review_resolved(
        item: &ReviewItem,
        reviewer: &str,
        at: u64,
        before: String,
        after: String,
    ) -> AuditEntry {
        let by = Actor::Reviewer(reviewer.into());
        AuditEntry::of_review(AuditAction::ReviewResolved, item, by, at, before, after)
    }

    /// A review item taken off the queue: a newer check replaces it.
    pub fn review_withdrawn(
        item: &ReviewItem,
        by: Actor,
        at: u64,
        before: String,
        replaced_by: &JobId,
    ) -> AuditEntry {
        let after = format!("replaced by job {replaced_by}");
        AuditEntry::of_review(AuditAction::ReviewWithdrawn, item, by, at, before, after)
    }

    /// A reviewer's lease ran out: the item is free again.
    pub fn review_lease_expired(item: &ReviewItem, at: u64, before: String) -> AuditEntry {
        let (action, by) = (AuditAction::ReviewLeaseExpired, Actor::Pipeline);
        AuditEntry::of_review(action, item, by, at, before, "queued".into())
    }

    /// A change to a review item, on its job and account.
    fn of_review(
        action: AuditAction,
        item: &ReviewItem,
        by: Actor,
        at: u64,
        before: String,
        after: String,
    ) -> AuditEntry {
        let (account, job) = (item.account.clone(), Some(item.job.clone()));
        AuditEntry::unchained(action, at, account, job, by, Some(before), Some(after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry as intake wrote it when `action` was a free string and `at`
    /// Unix ms: stored logs hold such entries (the hash chain covers the
    /// bytes as stored), so they must still read as the same entry.
    const WRITTEN_BEFORE: &str = r#"{"seq":0,"at":5,"account":"acc-1","job":"j1","action":"review_claimed","by":{"type":"reviewer","id":"r1"},"before":"queued","after":"claimed by r1","prev_hash":""}"#;
    /// The same entry as written now: the action the same name, `at` RFC 3339.
    const WRITTEN_NOW: &str = r#"{"seq":0,"at":"1970-01-01T00:00:00.005Z","account":"acc-1","job":"j1","action":"review_claimed","by":{"type":"reviewer","id":"r1"},"before":"queued","after":"claimed by r1","prev_hash":""}"#;

    #[test]
    fn an_entry_is_written_with_the_same_action_names_and_old_entries_still_read() {
        let item = ReviewItem {
            job: JobId("j1".into()),
            account: "acc-1".into(),
            kind: DocumentKind::Passport,
            seq: 3,
            findings: Vec::new(),
            since: 1,
            claim: None,
        };
        let entry =
            AuditEntry::review_claimed(&item, "r1", 5, "queued".into(), "claimed by r1".into());
        assert_eq!(serde_json::to_string(&entry).unwrap(), WRITTEN_NOW);
        for written in [WRITTEN_BEFORE, WRITTEN_NOW] {
            let read: AuditEntry = serde_json::from_str(written).unwrap();
            assert_eq!(read, entry);
        }
    }

    #[test]
    fn every_action_is_written_as_its_name_and_unknown_names_read_back_as_written() {
        for action in AuditAction::KNOWN {
            let json = serde_json::to_value(&action).unwrap();
            assert_eq!(json, action.as_str());
            assert_eq!(serde_json::from_value::<AuditAction>(json).unwrap(), action);
        }
        let other: AuditAction = serde_json::from_str(r#""job_suamitted""#).unwrap();
        assert_eq!(other, AuditAction::Other("job_suamitted".into()));
        assert_eq!(serde_json::to_string(&other).unwrap(), r#""job_suamitted""#);
    }
}
