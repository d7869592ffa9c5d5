//! Notifications: what the outbox announces to the portal, by webhook and
//! on the event stream. Ids, kinds, verdicts, codes and statuses only:
//! never a name, a number or a date read from a document.

use crate::{AccountStatus, Actor, DocumentKind, Field, Finding, JobId, ReasonCode, Verdict};
use serde::{Deserialize, Serialize};

/// A reason of a verdict or a status without its message: the code and the
/// field it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reason {
    pub code: ReasonCode,
    pub field: Option<Field>,
}

impl From<&Finding> for Reason {
    fn from(finding: &Finding) -> Reason {
        Reason {
            code: finding.code,
            field: finding.field,
        }
    }
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// A verdict on a document joined the verdict queue.
    Verdict {
        /// Its position in the verdict queue.
        verdict_seq: u64,
        kind: DocumentKind,
        verdict: Verdict,
        reasons: Vec<Reason>,
    },
    /// The account's status changed; `status` is the one after this change.
    Status {
        status: AccountStatus,
        /// `status` as the applicant reads it (`подтверждён`, `отказано`, ...).
        status_ru: String,
        /// The status before; `None` for an account's first status.
        previous: Option<AccountStatus>,
        /// The verdict that caused the change; `None` for a time rule.
        verdict_seq: Option<u64>,
        /// What to fix, or why the account was refused or blocked.
        items: Vec<Reason>,
    },
}

/// A change to announce, as the commit paths hand it to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notice {
    /// Unix milliseconds of the change.
    #[serde(with = "crate::time::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at: u64,
    pub account: String,
    pub job: Option<JobId>,
    pub by: Actor,
    #[serde(flatten)]
    pub change: Change,
}

/// One event of the outbox: a notice with its place, written in the same
/// transaction as the change it announces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutboxEvent {
    /// Position in the outbox: strictly increasing, never reused.
    pub seq: u64,
    /// The same on every delivery of this event: receivers drop repeats by it.
    pub idempotency_key: String,
    #[serde(flatten)]
    pub notice: Notice,
}
