//! What the committed pipeline verdicts say about the people behind the
//! accounts: which accounts hold each identity document, and who each
//! account's latest document of every kind names. Loaded from the verdict
//! queue when the pipeline starts, then kept by the one commit thread, so it
//! always equals what the queue holds, whenever the process died.
//!
//! At commit a new report is flagged `duplicate_document` when its identity
//! document is on another account, and `cross_document_mismatch` when it
//! names another person than the account's other documents.

use crate::store::{Store, StoreError};
use intake_models::{DocumentKind, Field, Job, ReasonCode, Report, Verdict};
use intake_stages::cross_document::{self, Holder};
use intake_stages::messages::finding;
use std::collections::{BTreeMap, BTreeSet};

/// An identity document: its number and issuing state.
type DocumentKey = (String, String);

#[derive(Debug, Default)]
pub struct Ledger {
    holders: BTreeMap<DocumentKey, BTreeSet<String>>,
    /// Per account, the holder its latest document of each kind names.
    people: BTreeMap<String, BTreeMap<DocumentKind, Holder>>,
    /// The verdict queue's seq to read from next.
    next: u64,
}

/// What a report adds to the ledger once it is committed.
pub struct Entry {
    account: String,
    key: Option<DocumentKey>,
    holder: Option<Holder>,
}

impl Ledger {
    pub fn load(store: &dyn Store) -> Result<Ledger, StoreError> {
        let mut ledger = Ledger::default();
        ledger.catch_up(store)?;
        Ok(ledger)
    }

    /// Adds the verdicts appended since the last read: those of the other
    /// worker processes, where several share the store. (Two processes
    /// committing the same person's documents at the same moment do not
    /// see each other's: the check is as fresh as the last commit read.)
    pub fn catch_up(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        loop {
            let batch = store.verdicts_from(self.next, 256)?;
            let Some(last) = batch.last() else { break };
            self.next = last.seq + 1;
            for verdict in &batch {
                if let Some(report) = &verdict.report {
                    self.add(entry(&verdict.job, &verdict.account, verdict.kind, report));
                }
            }
        }
        Ok(())
    }

    /// Flags `report` against the ledger; the returned entry is added with
    /// [`Ledger::add`] once the report is committed.
    pub fn flag(&self, job: &Job, report: &mut Report) -> Entry {
        let entry = entry(&job.id, &job.account, job.kind, report);
        let mut findings = Vec::new();
        if let Some(key) = &entry.key {
            let elsewhere = self
                .holders
                .get(key)
                .is_some_and(|accounts| accounts.iter().any(|a| *a != job.account));
            if elsewhere {
                findings.push(finding(
                    ReasonCode::DuplicateDocument,
                    Some(Field::DocumentNumber),
                ));
            }
        }
        if let (Some(holder), Some(documents)) = (&entry.holder, self.people.get(&job.account)) {
            let others = documents.values().filter(|other| other.kind != job.kind);
            findings.extend(cross_document::check(holder, others));
        }
        if !findings.is_empty() {
            report.verdict = report.verdict.max(Verdict::NeedsReview);
            report.findings.extend(findings);
        }
        entry
    }

    /// Adds a committed report's entry (again, if read back: it changes nothing).
    pub fn add(&mut self, entry: Entry) {
        if let Some(key) = entry.key {
            self.holders
                .entry(key)
                .or_default()
                .insert(entry.account.clone());
        }
        if let Some(holder) = entry.holder {
            self.people
                .entry(entry.account)
                .or_default()
                .insert(holder.kind, holder);
        }
    }
}

fn entry(job: &intake_models::JobId, account: &str, kind: DocumentKind, report: &Report) -> Entry {
    let document = report.document.as_ref();
    let fields = document.map(|d| &d.fields);
    let key = fields
        .filter(|_| kind.is_identity_document())
        .and_then(|f| Some((f.document_number.clone()?, f.issuing_state.clone()?)));
    let holder = document.map(|d| Holder {
        job: job.clone(),
        kind,
        fields: d.fields.clone(),
        names_truncated: d
            .mrz
            .as_ref()
            .is_some_and(intake_stages::mrz::names_truncated),
        passport_number: d.passport_number.clone(),
    });
    Entry {
        account: account.to_string(),
        key,
        holder,
    }
}
