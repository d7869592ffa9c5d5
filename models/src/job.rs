//! Jobs and verdicts of the durable pipeline: what an upload handler pushes,
//! what the store keeps, and what the verdict queue carries.

use crate::{DocumentKind, Finding, Profile, Report, Verdict};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One upload as an upload handler pushes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub account: String,
    pub kind: DocumentKind,
    pub profile: Option<Profile>,
    /// As the client named it: shown to reviewers, never used as a path.
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A job's id: derived from account, kind, the file's SHA-256 and the
/// declared profile, so the same upload submitted twice is the same job, and
/// the same file with another profile is a new check.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct JobId(pub String);

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Pipeline => f.write_str("pipeline"),
            Actor::Reviewer(id) => write!(f, "reviewer {id}"),
            Actor::Uploader(id) => write!(f, "uploader {id}"),
        }
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Stored, waiting for (or in) the pipeline.
    Pending,
    /// Its verdict is in the verdict queue.
    Done,
}

/// The durable record of an accepted upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    pub id: JobId,
    pub account: String,
    pub kind: DocumentKind,
    pub profile: Option<Profile>,
    pub file_name: String,
    /// SHA-256 of the upload (hex): the key of its blob.
    pub blob: String,
    /// Unix milliseconds.
    #[serde(with = "crate::time::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: u64,
    pub state: JobState,
    /// Sequence number of its verdict in the queue, once done.
    pub verdict_seq: Option<u64>,
    /// Sequence number of a reviewer's verdict on it, once resolved.
    #[serde(default)]
    pub review_seq: Option<u64>,
    /// Unix ms of its pipeline verdict.
    #[serde(default, with = "crate::time::rfc3339_ms_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub done_at: Option<u64>,
    /// Unix ms its upload was deleted under the retention rule.
    #[serde(default, with = "crate::time::rfc3339_ms_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub purged_at: Option<u64>,
}

/// Who decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum Actor {
    Pipeline,
    Reviewer(String),
    /// The portal's upload handler (or an operator at the CLI) acting for the applicant.
    Uploader(String),
}

/// One entry of the append-only verdict queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerdictEntry {
    /// Position in the queue: strictly increasing, never reused.
    pub seq: u64,
    pub job: JobId,
    pub account: String,
    pub kind: DocumentKind,
    pub verdict: Verdict,
    /// The findings behind the verdict: for `needs_correction`, the items to fix.
    pub findings: Vec<Finding>,
    pub by: Actor,
    /// Unix milliseconds.
    #[serde(with = "crate::time::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at: u64,
    /// A reviewer's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The full report, for pipeline verdicts.
    pub report: Option<Report>,
}
