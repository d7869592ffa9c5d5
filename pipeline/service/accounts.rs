//! The account-status consumer of the verdict queue, the time-rule sweep,
//! and the from-scratch check of the stored projection.
//!
//! The consumer reads from its durable offset and writes each batch of
//! accounts together with the new offset in one transaction; folding an
//! entry twice changes nothing ([`account_status::apply`] is idempotent),
//! so every verdict takes effect exactly once, whenever the process dies.

use crate::service::review::{self, ReviewError};
use crate::store::{Store, StoreError};
use intake_models::config::Accounts;
use intake_models::{Account, Actor, AuditEntry, Change, Finding, Notice, Reason, VerdictEntry};
use intake_stages::account_status::{apply, project};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The consumer name of the account status in the verdict queue.
pub const CONSUMER: &str = "account_status";
const BATCH: usize = 256;

/// Keeps the account projection; one writer at a time.
#[derive(Clone)]
pub struct Projector {
    store: Arc<dyn Store>,
    cfg: Accounts,
    /// Uploads of finished jobs are kept this long; 0 keeps them.
    retention_days: u64,
    writer: Arc<Mutex<()>>,
}

/// What a sweep changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub statuses: usize,
    pub leases: usize,
    /// Jobs whose upload was deleted under the retention rule.
    pub purged: usize,
    /// Upload files no job needed, deleted.
    pub orphans: usize,
}

/// What a purge deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Jobs whose upload was deleted under the retention rule.
    pub jobs: usize,
    /// Upload files no job needed (refused or interrupted uploads).
    pub orphans: usize,
}

/// A status with its items, as the audit log records it:
/// `needs_correction: resolution_too_low, correction_requested(surname)`.
fn describe(account: &Account) -> String {
    let mut text = account.status.as_str().to_string();
    if !account.items.is_empty() {
        let items: Vec<String> = account.items.iter().map(finding_label).collect();
        text.push_str(": ");
        text.push_str(&items.join(", "));
    }
    text
}

/// A finding's code as the JSON spells it, with its field: `field_mismatch(surname)`.
pub fn finding_label(finding: &Finding) -> String {
    let code = finding.code.as_str();
    match finding.field {
        Some(field) => format!("{code}({})", field.as_str()),
        None => code.to_string(),
    }
}

/// What a batch of status changes writes: an audit entry and an outbox
/// event per change, each with the status after it.
#[derive(Default)]
struct StatusChanges {
    audit: Vec<AuditEntry>,
    notices: Vec<Notice>,
}

impl StatusChanges {
    /// Records the change of `account` from `before` (none for a new
    /// account), by `by`, caused by the verdict `cause` or a time rule.
    fn record(
        &mut self,
        account: &Account,
        before: Option<&Account>,
        by: Actor,
        cause: Option<&VerdictEntry>,
    ) {
        let job = cause.map(|entry| entry.job.clone());
        self.audit.push(AuditEntry::status(
            &account.id,
            job.clone(),
            by.clone(),
            account.status_at,
            before.map(describe),
            describe(account),
        ));
        self.notices.push(Notice {
            at: account.status_at,
            account: account.id.clone(),
            job,
            by,
            change: Change::Status {
                status: account.status,
                status_ru: account.status.label_ru().into(),
                previous: before.map(|b| b.status),
                verdict_seq: cause.map(|entry| entry.seq),
                items: account.items.iter().map(Reason::from).collect(),
            },
        });
    }
}

impl Projector {
    pub fn new(store: Arc<dyn Store>, cfg: Accounts, retention_days: u64) -> Projector {
        Projector {
            store,
            cfg,
            retention_days,
            writer: Arc::new(Mutex::new(())),
        }
    }

    /// Applies every verdict not yet consumed, as of `now`; returns how many.
    /// Where several processes share the store, only the one holding the
    /// `accounts` duty does (the others return 0).
    pub fn catch_up(&self, now: u64) -> Result<usize, StoreError> {
        let _writer = self.writer.lock();
        if !self.store.hold_duty(CONSUMER)? {
            return Ok(0);
        }
        let mut consumed = 0;
        loop {
            let from = self.store.consumer_offset(CONSUMER)?;
            let batch = self.store.verdicts_from(from, BATCH)?;
            let Some(last) = batch.last() else { break };
            let next = last.seq + 1;
            let mut touched: BTreeMap<String, Account> = BTreeMap::new();
            let mut changes = StatusChanges::default();
            for entry in &batch {
                if !touched.contains_key(&entry.account) {
                    let stored = self.store.account(&entry.account)?;
                    let account = stored.unwrap_or_else(|| Account {
                        id: entry.account.clone(),
                        ..Account::default()
                    });
                    touched.insert(entry.account.clone(), account);
                }
                let Some(account) = touched.get_mut(&entry.account) else {
                    continue;
                };
                // A new account has no status before its first verdict.
                let is_new = account.documents.is_empty() && account.status_at == 0;
                let before = (!is_new).then(|| account.clone());
                apply(account, entry);
                if project(account, now, &self.cfg) || is_new {
                    changes.record(account, before.as_ref(), entry.by.clone(), Some(entry));
                }
            }
            let accounts: Vec<Account> = touched.into_values().collect();
            self.store.save_accounts(
                &accounts,
                Some((CONSUMER, next)),
                changes.audit,
                changes.notices,
            )?;
            self.store.flush()?;
            consumed += batch.len();
        }
        Ok(consumed)
    }

    /// Deletes the uploads of jobs decided more than `store.retention_days`
    /// ago, and the upload files no job needs.
    pub fn purge(&self, now: u64) -> Result<Purged, StoreError> {
        let orphans = self.store.remove_orphans()?;
        if self.retention_days == 0 {
            return Ok(Purged { jobs: 0, orphans });
        }
        let before = now.saturating_sub(self.retention_days * 86_400_000);
        let jobs = self.store.purge_uploads(before, now)?.len();
        Ok(Purged { jobs, orphans })
    }

    /// Applies the time rules at `now`: correction deadlines, stay expiry,
    /// review leases that have run out, and upload retention.
    /// Only the holder of the `accounts` duty sweeps (see `catch_up`).
    pub fn sweep(&self, now: u64) -> Result<Swept, ReviewError> {
        if !self.store.hold_duty(CONSUMER)? {
            return Ok(Swept::default());
        }
        self.catch_up(now)?;
        let mut swept = Swept::default();
        {
            let _writer = self.writer.lock();
            let mut changed = Vec::new();
            let mut changes = StatusChanges::default();
            for mut account in self.store.accounts()? {
                let before = account.clone();
                if project(&mut account, now, &self.cfg) {
                    changes.record(&account, Some(&before), Actor::Pipeline, None);
                    changed.push(account);
                }
            }
            swept.statuses = changed.len();
            self.store
                .save_accounts(&changed, None, changes.audit, changes.notices)?;
            self.store.flush()?;
        }
        for item in self.store.review_items()? {
            if item.claim.is_some() && item.holder(now).is_none() {
                review::apply(&*self.store, &item.job, &|stored| {
                    review::expire(stored, &item.job, now)
                })?;
                swept.leases += 1;
            }
        }
        let purged = self.purge(now)?;
        swept.purged = purged.jobs;
        swept.orphans = purged.orphans;
        Ok(swept)
    }

    /// Folds the consumed part of the verdict queue from scratch and compares
    /// it with the stored accounts, each projected at the moment its status
    /// was stored; returns the differences (none when all is well).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let _writer = self.writer.lock();
        let end = self.store.consumer_offset(CONSUMER)?;
        let mut scratch: BTreeMap<String, Account> = BTreeMap::new();
        let mut from = 0;
        'queue: loop {
            let batch = self.store.verdicts_from(from, BATCH)?;
            let Some(last) = batch.last() else { break };
            from = last.seq + 1;
            for entry in batch {
                if entry.seq >= end {
                    break 'queue;
                }
                let account = scratch
                    .entry(entry.account.clone())
                    .or_insert_with(|| Account {
                        id: entry.account.clone(),
                        ..Account::default()
                    });
                apply(account, &entry);
            }
        }
        let mut differences = Vec::new();
        let mut stored: BTreeMap<String, Account> = self
            .store
            .accounts()?
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect();
        for (id, mut expected) in scratch {
            match stored.remove(&id) {
                None => differences.push(format!("account {id}: verdicts but no stored status")),
                Some(actual) => {
                    project(&mut expected, actual.status_at, &self.cfg);
                    if expected != actual {
                        differences.push(format!(
                            "account {id}: stored {} but the verdicts give {}",
                            describe(&actual),
                            describe(&expected)
                        ));
                    }
                }
            }
        }
        for id in stored.keys() {
            differences.push(format!("account {id}: a stored status but no verdict"));
        }
        Ok(differences)
    }
}
