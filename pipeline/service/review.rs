//! The review queue's decisions: claim, resolve, lease expiry. Each is a
//! pure function of the item as stored, returning the [`ReviewChange`] the
//! store applies atomically.
//! [`apply`] runs one in the store's transaction and gives back its
//! [`ReviewError`] as it was (the store carries it without knowing it).

use crate::store::{Declined, ReviewChange, Store, StoreError};
use intake_models::{
    Actor, AuditEntry, Claim, Decision, Field, Finding, JobId, ReasonCode, ReviewItem, VerdictEntry,
};
use intake_stages::messages::finding;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("job {0} is not in the review queue")]
    NotInQueue(JobId),
    #[error("job {job} is claimed by {reviewer} until {}", crate::clock::display_ms(*.until))]
    Claimed {
        job: JobId,
        reviewer: String,
        until: u64,
    },
    #[error("job {job} is not claimed by {reviewer}: claim it first (a claim ends when its lease runs out)")]
    NotClaimant { job: JobId, reviewer: String },
    #[error("a correction needs the items the applicant must fix: form fields such as surname or birth_date, or reason codes such as resolution_too_low")]
    NoItems,
    #[error("unknown item {0:?}: give a field (surname, given_names, birth_date, document_number, expiry_date, nationality, sex, ...) or a reason code (resolution_too_low, image_unreadable, ...)")]
    UnknownItem(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ReviewError {
    /// A decision's refusal comes back from the store as the error it was.
    fn from(e: StoreError) -> ReviewError {
        match e {
            StoreError::Declined(declined) => match declined.downcast::<ReviewError>() {
                Ok(refusal) => *refusal,
                Err(other) => ReviewError::Store(StoreError::Declined(other)),
            },
            e => ReviewError::Store(e),
        }
    }
}

/// Applies `decide` to the review item of `job` in one store transaction
/// (see [`Store::change_review`]); returns the seq of the verdict it
/// appended, if any.
pub fn apply(
    store: &dyn Store,
    job: &JobId,
    decide: &dyn Fn(Option<&ReviewItem>) -> Result<ReviewChange, ReviewError>,
) -> Result<Option<u64>, ReviewError> {
    let declined = |refusal: ReviewError| -> Declined { Box::new(refusal) };
    Ok(store.change_review(job, &|item| decide(item).map_err(declined))?)
}

/// A reviewer's resolution of a flagged document.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub decision: Decision,
    /// For `correct`: what the applicant must fix.
    pub items: Vec<Finding>,
    pub comment: Option<String>,
}

/// The findings for `--items`: a field name asks the applicant to correct
/// that field of the form (`correction_requested`); a reason code asks for
/// what its message says.
pub fn parse_items(items: &[String]) -> Result<Vec<Finding>, ReviewError> {
    items
        .iter()
        .map(|item| {
            let name = serde_json::Value::String(item.trim().to_string());
            if let Ok(field) = serde_json::from_value::<Field>(name.clone()) {
                return Ok(finding(ReasonCode::CorrectionRequested, Some(field)));
            }
            serde_json::from_value::<ReasonCode>(name)
                .map(|code| finding(code, None))
                .map_err(|_| ReviewError::UnknownItem(item.clone()))
        })
        .collect()
}

fn describe(item: &ReviewItem, now: u64) -> String {
    match (&item.claim, item.holder(now)) {
        (_, Some(holder)) => format!("claimed by {holder}"),
        (Some(claim), None) => format!("queued (lease of {} ended)", claim.reviewer),
        (None, None) => "queued".into(),
    }
}

/// `reviewer` takes (or renews) the lease on `job` until `now + lease_ms`.
pub fn claim(
    stored: Option<&ReviewItem>,
    job: &JobId,
    reviewer: &str,
    now: u64,
    lease_ms: u64,
) -> Result<ReviewChange, ReviewError> {
    let item = stored.ok_or_else(|| ReviewError::NotInQueue(job.clone()))?;
    if let (Some(holder), Some(claim)) = (item.holder(now), &item.claim) {
        if holder != reviewer {
            return Err(ReviewError::Claimed {
                job: job.clone(),
                reviewer: holder.into(),
                until: claim.until,
            });
        }
    }
    // A renewal keeps the time the reviewer first took the item.
    let since = match (item.holder(now), &item.claim) {
        (Some(_), Some(held)) => held.since,
        _ => now,
    };
    let mut claimed = item.clone();
    claimed.claim = Some(Claim {
        reviewer: reviewer.into(),
        since,
        until: now + lease_ms,
    });
    let entry = AuditEntry::review_claimed(
        item,
        reviewer,
        now,
        describe(item, now),
        describe(&claimed, now),
    );
    Ok(ReviewChange {
        item: Some(claimed),
        verdict: None,
        audit: vec![entry],
    })
}

/// The claimant gives the item back before the lease ends: it is free for
/// any reviewer at once.
pub fn release(
    stored: Option<&ReviewItem>,
    job: &JobId,
    reviewer: &str,
    now: u64,
) -> Result<ReviewChange, ReviewError> {
    let item = stored.ok_or_else(|| ReviewError::NotInQueue(job.clone()))?;
    if item.holder(now) != Some(reviewer) {
        return Err(ReviewError::NotClaimant {
            job: job.clone(),
            reviewer: reviewer.into(),
        });
    }
    let mut released = item.clone();
    released.claim = None;
    let entry = AuditEntry::review_released(
        item,
        reviewer,
        now,
        describe(item, now),
        describe(&released, now),
    );
    Ok(ReviewChange {
        item: Some(released),
        verdict: None,
        audit: vec![entry],
    })
}

/// The claimant's decision: the item leaves the queue and a reviewer
/// verdict joins the verdict queue.
pub fn resolve(
    stored: Option<&ReviewItem>,
    job: &JobId,
    reviewer: &str,
    now: u64,
    resolution: &Resolution,
) -> Result<ReviewChange, ReviewError> {
    let item = stored.ok_or_else(|| ReviewError::NotInQueue(job.clone()))?;
    if item.holder(now) != Some(reviewer) {
        return Err(ReviewError::NotClaimant {
            job: job.clone(),
            reviewer: reviewer.into(),
        });
    }
    if resolution.decision == Decision::Correct && resolution.items.is_empty() {
        return Err(ReviewError::NoItems);
    }
    let verdict = resolution.decision.verdict();
    let by = Actor::Reviewer(reviewer.into());
    let findings = match resolution.decision {
        Decision::Reject => refusal_reasons(&resolution.items),
        _ => resolution.items.clone(),
    };
    let mut after = verdict.as_str().to_string();
    if !findings.is_empty() {
        let labels: Vec<String> = findings
            .iter()
            .map(crate::service::accounts::finding_label)
            .collect();
        after.push_str(": ");
        after.push_str(&labels.join(", "));
    }
    if let Some(comment) = &resolution.comment {
        after.push_str("; comment: ");
        after.push_str(comment);
    }
    let entry = VerdictEntry {
        seq: 0,
        job: item.job.clone(),
        account: item.account.clone(),
        kind: item.kind,
        verdict,
        findings,
        by,
        at: now,
        comment: resolution.comment.clone(),
        report: None,
    };
    let logged = AuditEntry::review_resolved(item, reviewer, now, describe(item, now), after);
    Ok(ReviewChange {
        item: None,
        verdict: Some(entry),
        audit: vec![logged],
    })
}

/// What a refusal tells the applicant, in both languages: the reason codes
/// the reviewer gave; a field named is that field's refusal; with nothing
/// given, the document's refusal (never an empty list).
fn refusal_reasons(items: &[Finding]) -> Vec<Finding> {
    if items.is_empty() {
        return vec![finding(ReasonCode::DocumentRefused, None)];
    }
    items
        .iter()
        .map(|item| match item.code {
            ReasonCode::CorrectionRequested => finding(ReasonCode::DocumentRefused, item.field),
            _ => item.clone(),
        })
        .collect()
}

/// Takes the item of `job` out of the queue because a newer check of its
/// document (`replaced_by`, after a profile update) takes its place; nothing
/// to do when it is not queued.
pub fn withdraw(
    stored: Option<&ReviewItem>,
    job: &JobId,
    by: &Actor,
    now: u64,
    replaced_by: &JobId,
) -> Result<ReviewChange, ReviewError> {
    let Some(item) = stored else {
        return Ok(ReviewChange {
            item: None,
            verdict: None,
            audit: Vec::new(),
        });
    };
    debug_assert_eq!(&item.job, job);
    let logged =
        AuditEntry::review_withdrawn(item, by.clone(), now, describe(item, now), replaced_by);
    Ok(ReviewChange {
        item: None,
        verdict: None,
        audit: vec![logged],
    })
}

/// Clears a lease that has run out, so the queue shows the item free again.
pub fn expire(
    stored: Option<&ReviewItem>,
    job: &JobId,
    now: u64,
) -> Result<ReviewChange, ReviewError> {
    let item = stored.ok_or_else(|| ReviewError::NotInQueue(job.clone()))?;
    let mut freed = item.clone();
    let mut logged = Vec::new();
    if item.claim.is_some() && item.holder(now).is_none() {
        freed.claim = None;
        logged.push(AuditEntry::review_lease_expired(
            item,
            now,
            describe(item, now),
        ));
    }
    Ok(ReviewChange {
        item: Some(freed),
        verdict: None,
        audit: logged,
    })
}
