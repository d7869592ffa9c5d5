//! Records the store's unit tests build on: a job, an audit entry, a
//! verdict and a review item of account `acc-1`, and a plain store.

use super::SledStore;
use crate::digest::sha256_hex;
use intake_models::{
    Actor, AuditAction, AuditEntry, DocumentKind, Job, JobId, JobState, ReviewItem, Verdict,
    VerdictEntry,
};
use std::path::Path;

pub(super) fn job(id: &str) -> Job {
    Job {
        id: JobId(id.into()),
        account: "acc-1".into(),
        kind: DocumentKind::Passport,
        profile: None,
        file_name: "scan.jpg".into(),
        blob: sha256_hex(id.as_bytes()),
        received_at: 1,
        state: JobState::Pending,
        verdict_seq: None,
        review_seq: None,
        done_at: None,
        purged_at: None,
    }
}

pub(super) fn audit(action: &str) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at: 1,
        account: "acc-1".into(),
        job: None,
        action: AuditAction::named(action),
        by: Actor::Pipeline,
        before: None,
        after: None,
        prev_hash: String::new(),
    }
}

pub(super) fn verdict(id: &str) -> VerdictEntry {
    VerdictEntry {
        seq: 0,
        job: JobId(id.into()),
        account: "acc-1".into(),
        kind: DocumentKind::Passport,
        verdict: Verdict::NeedsReview,
        findings: Vec::new(),
        by: Actor::Pipeline,
        at: 2,
        comment: None,
        report: None,
    }
}

pub(super) fn review(id: &str) -> ReviewItem {
    ReviewItem {
        job: JobId(id.into()),
        account: "acc-1".into(),
        kind: DocumentKind::Passport,
        seq: 0,
        findings: Vec::new(),
        since: 2,
        claim: None,
    }
}

pub(super) fn open(dir: &Path) -> SledStore {
    SledStore::open(dir, 1 << 20).unwrap()
}
