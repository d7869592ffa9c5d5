//! Accounts, the review queue and the audit log: what the verdict queue's
//! consumers keep.

use crate::{DocumentKind, Finding, JobId, Verdict};
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
    /// Unix milliseconds.
    #[serde(with = "crate::time::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at: u64,
    pub account: String,
    pub job: Option<JobId>,
    /// What changed: `job_submitted`, `verdict`, `status`, `review_claimed`,
    /// `review_released`, `review_lease_expired`, `review_resolved`, `review_withdrawn`,
    /// `profile_updated`.
    pub action: String,
    pub by: crate::Actor,
    pub before: Option<String>,
    pub after: Option<String>,
    /// SHA-256 (hex) of the previous entry as stored (zeros for the first):
    /// the hash chain `intake audit verify` walks. Set by the store.
    #[serde(default)]
    pub prev_hash: String,
}
