//! Account status stage: an account's status as a projection over its
//! verdicts, and the time rules (correction deadline, stay expiry).
//!
//! [`apply`] folds verdict queue entries into the account's documents, in
//! queue order and idempotently; [`project`] derives the status from the
//! documents at a moment. Folding every entry from scratch and projecting
//! gives the same account as the stored one: that is how it is verified.

use crate::dates::Date;
use crate::messages::finding;
use intake_models::config::Accounts;
use intake_models::time::MS_PER_DAY;
use intake_models::{
    Account, AccountStatus, Actor, DocumentState, Field, Finding, ReasonCode, Verdict, VerdictEntry,
};

/// Folds one verdict queue entry into `account`; returns whether it changed
/// the documents. An entry at or below the sequence number already applied
/// for its kind changes nothing (redelivery), nor does a reviewer's decision
/// on an upload that a newer one of the same kind has replaced.
pub fn apply(account: &mut Account, entry: &VerdictEntry) -> bool {
    let current = account.documents.get(&entry.kind);
    if let Some(doc) = current {
        let stale_review = matches!(entry.by, Actor::Reviewer(_)) && doc.job != entry.job;
        if doc.seq >= entry.seq || stale_review {
            return false;
        }
    }
    // A reviewer's verdict carries no report: the document's dates stay
    // those the pipeline read from it.
    let expiry_date = match &entry.report {
        Some(report) => report
            .document
            .as_ref()
            .and_then(|d| d.fields.expiry_date.clone()),
        None => current
            .filter(|d| d.job == entry.job)
            .and_then(|d| d.expiry_date.clone()),
    };
    let items = entry
        .findings
        .iter()
        .filter(|f| f.code.verdict().is_some())
        .cloned()
        .collect();
    account.documents.insert(
        entry.kind,
        DocumentState {
            job: entry.job.clone(),
            seq: entry.seq,
            verdict: entry.verdict,
            items,
            expiry_date,
            at: entry.at,
        },
    );
    true
}

/// Sets the account's status and items as of `now_ms` (Unix ms); returns
/// whether either changed.
///
/// In order of precedence: `refused` (a document refused), `blocked` (the
/// identity and stay documents were accepted but every accepted stay
/// document, or every accepted identity document, has expired),
/// `closed` / `restricted` / `needs_correction` (items to fix; restricted
/// once the oldest request is older than the deadline, closed once older
/// than `close_after_hours`), `in_review`,
/// `verified` (an accepted identity document and an accepted, unexpired
/// stay document), else `pending` (its items name the identity or stay
/// document still missing).
pub fn project(account: &mut Account, now_ms: u64, cfg: &Accounts) -> bool {
    let (status, items) = status_at(account, now_ms, cfg);
    account.status_at = now_ms;
    let changed = account.status != status || account.items != items;
    account.status = status;
    account.items = items;
    changed
}

fn status_at(account: &Account, now_ms: u64, cfg: &Accounts) -> (AccountStatus, Vec<Finding>) {
    let today = Date::from_unix_days((now_ms / MS_PER_DAY) as i64);
    let docs = || account.documents.iter();
    let items_of = |verdict: Verdict| -> Vec<Finding> {
        docs()
            .filter(|(_, d)| d.verdict == verdict)
            .flat_map(|(_, d)| d.items.iter().cloned())
            .collect()
    };

    if docs().any(|(_, d)| d.verdict == Verdict::Rejected) {
        return (AccountStatus::Refused, items_of(Verdict::Rejected));
    }
    let accepted = |pred: fn(intake_models::DocumentKind) -> bool| {
        docs()
            .filter(move |(k, d)| pred(**k) && d.verdict == Verdict::Accepted)
            .map(|(_, d)| d)
    };
    // A document without a read expiry date was accepted by a person.
    let unexpired = |d: &&DocumentState| {
        d.expiry_date
            .as_deref()
            .and_then(Date::parse_iso)
            .is_none_or(|expiry| expiry >= today)
    };
    let mut identities = accepted(|k| k.is_identity_document()).peekable();
    let identity = identities.peek().is_some();
    let unexpired_identity = identities.any(|d| unexpired(&d));
    let mut stays = accepted(|k| k.is_stay_document()).peekable();
    let has_stay = stays.peek().is_some();
    let unexpired_stay = stays.any(|d| unexpired(&d));
    // Verified once, blocked at the earliest expiry: of the stay document
    // or of the identity document (a passport ending before the visa).
    if identity && has_stay && !(unexpired_stay && unexpired_identity) {
        let mut expired = Vec::new();
        if !unexpired_identity {
            expired.push(finding(
                ReasonCode::DocumentExpired,
                Some(Field::ExpiryDate),
            ));
        }
        if !unexpired_stay {
            expired.push(finding(
                ReasonCode::StayDocumentExpired,
                Some(Field::ExpiryDate),
            ));
        }
        return (AccountStatus::Blocked, expired);
    }

    let to_fix = items_of(Verdict::NeedsCorrection);
    if docs().any(|(_, d)| d.verdict == Verdict::NeedsCorrection) {
        // The oldest unanswered request counts from when it was made.
        let asked = docs()
            .filter(|(_, d)| d.verdict == Verdict::NeedsCorrection)
            .map(|(_, d)| d.at)
            .min()
            .unwrap_or(now_ms);
        let waited_hours = now_ms.saturating_sub(asked) / 3_600_000;
        let status = if waited_hours >= cfg.close_after_hours {
            AccountStatus::Closed
        } else if waited_hours >= cfg.correction_deadline_hours {
            AccountStatus::Restricted
        } else {
            AccountStatus::NeedsCorrection
        };
        return (status, to_fix);
    }
    if docs().any(|(_, d)| d.verdict == Verdict::NeedsReview) {
        return (AccountStatus::InReview, Vec::new());
    }
    if identity && unexpired_identity && unexpired_stay {
        return (AccountStatus::Verified, Vec::new());
    }
    // Pending: the items say which of the two documents is still missing.
    let missing = [
        (!identity).then_some(ReasonCode::IdentityDocumentMissing),
        (!has_stay).then_some(ReasonCode::StayDocumentMissing),
    ];
    let items = missing.into_iter().flatten().map(|c| finding(c, None));
    (AccountStatus::Pending, items.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use intake_models::{DocumentKind, JobId};

    const DAY: u64 = MS_PER_DAY;

    fn entry(seq: u64, kind: DocumentKind, verdict: Verdict, codes: &[ReasonCode]) -> VerdictEntry {
        VerdictEntry {
            seq,
            job: JobId(format!("job-{}", kind.as_str())),
            account: "a".into(),
            kind,
            verdict,
            findings: codes.iter().map(|&c| finding(c, None)).collect(),
            by: Actor::Pipeline,
            at: 10 * DAY,
            comment: None,
            report: None,
        }
    }

    fn fold(entries: &[VerdictEntry], now: u64) -> Account {
        let mut account = Account::default();
        for e in entries {
            apply(&mut account, e);
        }
        project(&mut account, now, &Accounts::default());
        account
    }

    fn with_expiry(mut account: Account, kind: DocumentKind, iso: &str) -> Account {
        if let Some(d) = account.documents.get_mut(&kind) {
            d.expiry_date = Some(iso.into());
        }
        account
    }

    #[test]
    fn identity_and_unexpired_stay_document_verify_and_expiry_blocks() {
        let entries = [
            entry(1, DocumentKind::Passport, Verdict::Accepted, &[]),
            entry(2, DocumentKind::Visa, Verdict::Accepted, &[]),
        ];
        let only_passport = fold(&entries[..1], 10 * DAY);
        assert_eq!(only_passport.status, AccountStatus::Pending);
        let missing: Vec<_> = only_passport.items.iter().map(|f| f.code).collect();
        assert_eq!(missing, vec![ReasonCode::StayDocumentMissing]);
        // 1970-01-11 is day 10; the visa runs to 1970-01-20.
        let mut account = with_expiry(fold(&entries, 10 * DAY), DocumentKind::Visa, "1970-01-20");
        project(&mut account, 10 * DAY, &Accounts::default());
        assert_eq!(account.status, AccountStatus::Verified);
        assert!(!project(&mut account, 19 * DAY, &Accounts::default()));
        assert!(project(&mut account, 20 * DAY, &Accounts::default()));
        assert_eq!(account.status, AccountStatus::Blocked);
        assert_eq!(account.items[0].code, ReasonCode::StayDocumentExpired);
    }

    #[test]
    fn a_passport_expiring_before_the_visa_blocks_at_its_expiry() {
        let entries = [
            entry(1, DocumentKind::Passport, Verdict::Accepted, &[]),
            entry(2, DocumentKind::Visa, Verdict::Accepted, &[]),
        ];
        let account = with_expiry(fold(&entries, 10 * DAY), DocumentKind::Visa, "1970-01-30");
        let mut account = with_expiry(account, DocumentKind::Passport, "1970-01-20");
        project(&mut account, 19 * DAY, &Accounts::default());
        assert_eq!(
            account.status,
            AccountStatus::Verified,
            "valid on its last day"
        );
        assert!(project(&mut account, 20 * DAY, &Accounts::default()));
        assert_eq!(account.status, AccountStatus::Blocked);
        let items: Vec<_> = account.items.iter().map(|f| (f.code, f.field)).collect();
        assert_eq!(
            items,
            vec![(ReasonCode::DocumentExpired, Some(Field::ExpiryDate))]
        );
        project(&mut account, 30 * DAY, &Accounts::default());
        let codes: Vec<_> = account.items.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            vec![ReasonCode::DocumentExpired, ReasonCode::StayDocumentExpired]
        );
    }

    /// Every identity kind with every stay kind verifies; either alone says
    /// what is missing; the earlier expiry of the two blocks.
    #[test]
    fn every_identity_and_stay_kind_counts() {
        let identities = DocumentKind::ALL
            .into_iter()
            .filter(|k| k.is_identity_document());
        let stays = || {
            DocumentKind::ALL
                .into_iter()
                .filter(|k| k.is_stay_document())
        };
        assert_eq!(identities.clone().count(), 6);
        assert_eq!(stays().count(), 7);
        let codes = |account: &Account| account.items.iter().map(|f| f.code).collect::<Vec<_>>();
        for identity in identities {
            let alone = fold(&[entry(1, identity, Verdict::Accepted, &[])], 10 * DAY);
            if identity.is_stay_document() {
                // A residence permit is both.
                assert_eq!(alone.status, AccountStatus::Verified);
            } else {
                assert_eq!(alone.status, AccountStatus::Pending, "{identity}");
                assert_eq!(codes(&alone), [ReasonCode::StayDocumentMissing]);
            }
            for stay in stays().filter(|&s| s != identity) {
                let entries = [
                    entry(1, identity, Verdict::Accepted, &[]),
                    entry(2, stay, Verdict::Accepted, &[]),
                ];
                let only_stay = fold(&entries[1..], 10 * DAY);
                if !stay.is_identity_document() {
                    assert_eq!(codes(&only_stay), [ReasonCode::IdentityDocumentMissing]);
                }
                let account = with_expiry(fold(&entries, 10 * DAY), identity, "1970-01-25");
                let mut account = with_expiry(account, stay, "1970-01-20");
                project(&mut account, 19 * DAY, &Accounts::default());
                assert_eq!(
                    account.status,
                    AccountStatus::Verified,
                    "{identity} + {stay}"
                );
                project(&mut account, 20 * DAY, &Accounts::default());
                if identity.is_stay_document() {
                    // The residence permit still permits the stay.
                    assert_eq!(account.status, AccountStatus::Verified);
                    continue;
                }
                assert_eq!(
                    account.status,
                    AccountStatus::Blocked,
                    "{identity} + {stay}"
                );
                assert_eq!(codes(&account), [ReasonCode::StayDocumentExpired]);
            }
        }
        // A work patent and a migration card: the later expiry keeps the stay.
        let entries = [
            entry(1, DocumentKind::NationalPassport, Verdict::Accepted, &[]),
            entry(2, DocumentKind::WorkPatent, Verdict::Accepted, &[]),
            entry(3, DocumentKind::MigrationCard, Verdict::Accepted, &[]),
        ];
        let account = with_expiry(
            fold(&entries, 10 * DAY),
            DocumentKind::WorkPatent,
            "1970-01-15",
        );
        let mut account = with_expiry(account, DocumentKind::MigrationCard, "1970-01-30");
        project(&mut account, 20 * DAY, &Accounts::default());
        assert_eq!(account.status, AccountStatus::Verified);
    }

    #[test]
    fn an_unanswered_correction_restricts_after_the_deadline() {
        let entries = [entry(
            1,
            DocumentKind::Passport,
            Verdict::NeedsCorrection,
            &[ReasonCode::ResolutionTooLow, ReasonCode::AutoRotated],
        )];
        let account = fold(&entries, 10 * DAY + 47 * 3_600_000);
        assert_eq!(account.status, AccountStatus::NeedsCorrection);
        let codes: Vec<_> = account.items.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            vec![ReasonCode::ResolutionTooLow],
            "informational codes are not items"
        );
        let late = fold(&entries, 12 * DAY);
        assert_eq!(late.status, AccountStatus::Restricted);
        assert_eq!(late.items, account.items);
        let hours = Accounts::default().close_after_hours;
        let still = fold(&entries, 10 * DAY + (hours - 1) * 3_600_000);
        assert_eq!(still.status, AccountStatus::Restricted);
        let closed = fold(&entries, 10 * DAY + hours * 3_600_000);
        assert_eq!(closed.status, AccountStatus::Closed);
        assert_eq!(closed.items, account.items, "it says what was not done");
        // A new upload answers the request and reopens the account.
        let mut reopened = fold(&entries, 10 * DAY + hours * 3_600_000);
        let mut answer = entry(2, DocumentKind::Passport, Verdict::Accepted, &[]);
        answer.job = JobId("job-passport-again".into());
        apply(&mut reopened, &answer);
        project(
            &mut reopened,
            10 * DAY + hours * 3_600_000,
            &Accounts::default(),
        );
        assert_eq!(reopened.status, AccountStatus::Pending);
    }

    #[test]
    fn redelivery_changes_nothing_and_review_follows_its_job() {
        let flagged = entry(
            1,
            DocumentKind::Passport,
            Verdict::NeedsReview,
            &[ReasonCode::FieldMismatch],
        );
        let mut account = fold(std::slice::from_ref(&flagged), DAY);
        assert_eq!(account.status, AccountStatus::InReview);
        assert!(
            !apply(&mut account, &flagged),
            "a redelivered entry is applied once"
        );

        let mut accepted = entry(3, DocumentKind::Passport, Verdict::Accepted, &[]);
        accepted.by = Actor::Reviewer("r1".into());
        let mut stale = accepted.clone();
        stale.job = JobId("an-older-upload".into());
        assert!(!apply(&mut account, &stale));
        assert!(apply(&mut account, &accepted));
        assert_eq!(
            account.documents[&DocumentKind::Passport].verdict,
            Verdict::Accepted
        );

        let refused = entry(
            4,
            DocumentKind::Visa,
            Verdict::Rejected,
            &[ReasonCode::StayDocumentExpired],
        );
        apply(&mut account, &refused);
        project(&mut account, DAY, &Accounts::default());
        assert_eq!(account.status, AccountStatus::Refused);
    }
}
