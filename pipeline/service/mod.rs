//! The service upload handlers and reviewers talk to: thin over the
//! [`Store`], the staged [`Pipeline`], the account [`Projector`] and the
//! review decisions.

pub mod accounts;
pub mod bench;
pub mod checks;
pub mod keys;
pub mod notify;
pub mod review;

// The lower layers' types the service's methods take and return: its
// vocabulary, so that the API and the CLI need no other layer.
pub use crate::runtime::workers::{Busy, Committed, RunError};
pub use crate::store::crypto::CHUNK_BYTES;
pub use crate::store::{
    AuditCheck, Outage, ReceivedUpload, StoreError, Submitted, Unavailable, UploadWriter,
};

use crate::check::{CheckRequest, Checker};
use crate::clock::{system_ms, Clock};
use crate::digest::sha256_hex;
use crate::runtime::queue;
use crate::runtime::sandbox::SandboxedPdf;
use crate::runtime::workers::{spawn, Admission, Parked, Pipeline};
use crate::store::{JetStreamStore, SledStore, Store};
use accounts::{Projector, Purged, Swept};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use image::GrayImage;
use intake_models::{
    config::Backend, Account, Actor, AuditEntry, Config, DocumentKind, Job, JobId, JobState,
    PageRole, Profile, ReviewItem, Upload, VerdictEntry,
};
use intake_stages::locate;
use review::{Resolution, ReviewError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why an upload was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("an account id is 1 to 128 letters, digits, '.', '_' or '-'")]
    BadAccount,
    #[error("account {0} has no checked document to update the profile of")]
    NoDocuments(String),
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a job's scan has no page to show.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("the scan is no longer stored")]
    Gone,
    /// The code of the finding that stopped the decoding, if any.
    #[error("the scan has no image to show ({0})")]
    NoImage(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The durable pipeline over a store.
pub struct Intake {
    store: Arc<dyn Store>,
    checker: Arc<Checker>,
    clock: Clock,
    projector: Projector,
    running: Option<Running>,
    /// Whether this process takes jobs from a shared store's work queue
    /// (see [`Intake::take_no_work`]).
    takes_work: bool,
}

/// The threads of a started service.
struct Running {
    pipeline: Pipeline,
    /// Admits the backlog: the pending jobs of a store of its own, or a
    /// shared work queue until it is empty (not following).
    recovery: Option<JoinHandle<()>>,
    /// Takes jobs from a shared work queue until `stop_watch` is dropped
    /// (following), and acks them.
    feeder: Option<JoinHandle<()>>,
    acker: Option<JoinHandle<()>>,
    consumer: JoinHandle<()>,
    /// Brings the store back into service; dropping `stop_watch` ends it.
    store_watch: Option<JoinHandle<()>>,
    stop_watch: Sender<()>,
}

/// What an uploader declares with a file: everything of an [`Upload`] but
/// its bytes, which arrive as a [`ReceivedUpload`].
#[derive(Debug, Clone)]
pub struct Declared {
    pub account: String,
    pub kind: DocumentKind,
    pub profile: Option<Profile>,
    pub file_name: String,
}

/// The job id of an upload: the same account, kind, file and declared
/// profile give the same id; the same file with another profile is another
/// job, checked again.
pub fn job_id(account: &str, kind: &str, blob: &str, profile: Option<&Profile>) -> JobId {
    let mut key = format!("{account}\0{kind}\0{blob}");
    if let Some(profile) = profile {
        // The struct serialises its fields in one fixed order, absent ones left out.
        let declared = serde_json::to_vec(profile).unwrap_or_default();
        key.push('\0');
        key.push_str(&sha256_hex(&declared));
    }
    JobId(sha256_hex(key.as_bytes())[..32].to_string())
}

/// What a profile update did: the documents checked again under the updated
/// profile, and those whose upload is no longer kept (to be uploaded again).
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub rechecked: Vec<(DocumentKind, Submitted)>,
    pub unchanged: Vec<DocumentKind>,
    pub upload_missing: Vec<DocumentKind>,
}

/// Account ids come from clients: short, and of letters, digits, `.`,
/// `_`, `-`, so that they are safe in logs, JSON and the console.
pub fn check_account(account: &str) -> Result<(), SubmitError> {
    let fine = !account.is_empty()
        && account.len() <= 128
        && account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    fine.then_some(()).ok_or(SubmitError::BadAccount)
}

/// A client's file name as shown to reviewers and in reports: no control
/// characters or path, at most 120 characters. It never names a file here.
pub fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    if cleaned.trim().is_empty() {
        "upload".into()
    } else {
        cleaned
    }
}

impl Intake {
    /// The service on the configured store, opened with its key, PDFs
    /// parsed in the sandbox: how the binary opens it.
    /// The service on the backend `[store] backend` names.
    pub fn open(config: Config, clock: Clock) -> Result<Intake, StoreError> {
        let store: Box<dyn Store> = match config.store.backend {
            Backend::Sled => Box::new(SledStore::open_configured(&config.store)?),
            Backend::JetStream => Box::new(JetStreamStore::open(&config)?),
        };
        let checker = Checker::new(config, Box::new(SandboxedPdf::new()));
        Ok(Intake::new(store, checker, clock))
    }

    pub fn new(store: Box<dyn Store>, checker: Checker, clock: Clock) -> Intake {
        let store: Arc<dyn Store> = Arc::from(store);
        let config = checker.config();
        let projector = Projector::new(
            store.clone(),
            config.accounts.clone(),
            config.store.retention_days,
        );
        Intake {
            store,
            checker: Arc::new(checker),
            clock,
            projector,
            running: None,
            takes_work: true,
        }
    }

    /// On a shared store, takes no jobs from its work queue: an API in
    /// front of the `intake worker`s (set before [`Intake::start`]).
    /// A store of its own has no one else to work its jobs: refused.
    pub fn take_no_work(&mut self) -> Result<(), RunError> {
        if !self.shares_store() {
            return Err(RunError::NoWorkers);
        }
        self.takes_work = false;
        Ok(())
    }

    pub fn config(&self) -> &Config {
        self.checker.config()
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The verdict queue entry at `seq`.
    pub fn verdict(&self, seq: u64) -> Result<Option<VerdictEntry>, StoreError> {
        let mut entries = self.store.verdicts_from(seq, 1)?;
        Ok(entries.pop().filter(|e| e.seq == seq))
    }

    /// The stored job `id`, whatever its state.
    pub fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.store.job(id)
    }

    /// How many stored jobs wait for their first verdict, admitted or not.
    pub fn jobs_pending(&self) -> Result<usize, StoreError> {
        Ok(self.store.pending()?.len())
    }

    /// The page of the job's scan the pipeline checked, turned the way it
    /// read it (the MRZ left to right): what a reviewer holds the verdict
    /// against. The upload is decoded again, never kept decoded.
    pub fn page_image(&self, job: &Job) -> Result<GrayImage, PageError> {
        let bytes = self.store.blob(&job.blob)?.ok_or(PageError::Gone)?;
        let request = CheckRequest::of_job(job, &bytes, self.clock.today());
        let mut decoded = self.checker.decode(&request).map_err(|report| {
            PageError::NoImage(report.findings.first().map_or("", |f| f.code.as_str()))
        })?;
        let verdict = match job.verdict_seq {
            Some(seq) => self.verdict(seq)?,
            None => None,
        };
        let report = verdict.and_then(|e| e.report);
        let checked_page = report.as_ref().and_then(|r| {
            r.checks
                .page_summary
                .iter()
                .find(|p| p.content == PageRole::Document)
                .map(|p| p.page)
        });
        if let Some(page) = checked_page {
            decoded.select_page(page);
        }
        let rotation = report
            .and_then(|r| r.checks.quality)
            .map_or(0, |q| q.rotation);
        Ok(locate::turn(decoded.image(), rotation))
    }

    /// Why the store is out of service, if it is.
    pub fn outage(&self) -> Option<Outage> {
        self.store.outage()
    }

    /// Whether several processes share the store: its jobs are handed to
    /// workers through its work queue (JetStream), not all worked here.
    pub fn shares_store(&self) -> bool {
        self.store.work_queue().is_some()
    }

    /// Whether the pipeline's workers run.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Jobs admitted and not yet committed, when the pipeline runs.
    pub fn in_flight(&self) -> u64 {
        self.running.as_ref().map_or(0, |r| r.pipeline.in_flight())
    }

    /// Starts the workers and the account-status consumer, and feeds them
    /// the jobs left pending by an earlier run (orphans of a crash
    /// included). Every committed verdict is also sent to `observers`.
    /// With `follow`, the consumer applies the time rules every
    /// `accounts.sweep_interval_s`.
    pub fn start(
        &mut self,
        observers: Vec<Sender<Committed>>,
        follow: bool,
    ) -> Result<(), RunError> {
        if self.running.is_some() {
            return Ok(());
        }
        let (wake, woken) = bounded(1);
        let mut observers = observers;
        observers.push(wake);
        // A shared store hands this process its jobs through its queue
        // (requeueing those a crash kept off it); a store of its own has
        // every pending job worked here.
        let shared = self.shares_store();
        let (acks, committed) = crossbeam_channel::unbounded();
        let pending = if shared {
            observers.push(acks);
            Vec::new()
        } else {
            self.store.pending()?
        };
        let pipeline = Pipeline::start(
            self.store.clone(),
            self.checker.clone(),
            &self.config().workers,
            self.clock,
            observers,
        )?;
        let (stop_watch, stopped) = bounded(0);
        let feed = match pipeline.admission() {
            Some(admission) if shared && self.takes_work => Some(queue::feed(
                self.store.clone(),
                admission.clone(),
                committed,
                stopped.clone(),
                !follow,
            )?),
            _ => None,
        };
        let (feed_backlog, feeder, acker) = match feed {
            Some(feed) if follow => (None, Some(feed.taker), Some(feed.acker)),
            Some(feed) => (Some(feed.taker), None, Some(feed.acker)),
            None => (None, None, None),
        };
        let recovery = match (feed_backlog, pipeline.admission()) {
            (Some(draining), _) => Some(draining),
            (None, Some(admission)) if !pending.is_empty() => {
                let admission = admission.clone();
                Some(spawn("recovery", move || {
                    for job in pending {
                        match admission.reserve(None) {
                            Ok(slot) => slot.admit(job),
                            Err(_) => break,
                        }
                    }
                })?)
            }
            _ => None,
        };
        let sweep_every =
            follow.then(|| Duration::from_secs(self.config().accounts.sweep_interval_s.max(1)));
        let consumer = consume(self.projector.clone(), self.clock, woken, sweep_every)?;
        let store_watch = pipeline
            .admission()
            .map(|admission| {
                let parked = pipeline.parked();
                watch_store(self.store.clone(), admission.clone(), parked, stopped)
            })
            .transpose()?;
        self.running = Some(Running {
            pipeline,
            recovery,
            feeder,
            acker,
            consumer,
            store_watch,
            stop_watch,
        });
        Ok(())
    }

    /// Waits until the recovered backlog and every admitted job have their
    /// verdicts, and the account statuses have followed; returns the errors
    /// that kept jobs pending.
    pub fn wait_idle(&mut self) -> Vec<String> {
        let Some(running) = self.running.as_mut() else {
            return Vec::new();
        };
        if let Some(recovery) = running.recovery.take() {
            let _ = recovery.join();
        }
        let errors = running.pipeline.wait_idle();
        // The consumer is woken by each commit; catch up here too so that the
        // caller sees the statuses of every verdict.
        if let Err(e) = self.projector.catch_up(self.clock.now_ms()) {
            let mut errors = errors;
            errors.push(format!("account status: {e}"));
            return errors;
        }
        errors
    }

    /// Finishes the admitted jobs and stops every thread; returns the
    /// verdicts committed and the errors that kept jobs pending.
    pub fn stop(&mut self) -> (u64, Vec<String>) {
        let Some(running) = self.running.take() else {
            return (0, Vec::new());
        };
        if let Some(recovery) = running.recovery {
            let _ = recovery.join();
        }
        // It holds an admission: the workers end only once it has gone.
        drop(running.stop_watch);
        if let Some(store_watch) = running.store_watch {
            let _ = store_watch.join();
        }
        if let Some(feeder) = running.feeder {
            let _ = feeder.join();
        }
        let committed = running.pipeline.committed();
        let errors = running.pipeline.shutdown();
        if let Some(acker) = running.acker {
            let _ = acker.join();
        }
        // The pipeline's wake sender is gone: the consumer catches up and ends.
        let _ = running.consumer.join();
        (committed, errors)
    }

    /// Runs every pending job to its verdict and stops; returns the number
    /// of verdicts appended.
    pub fn run_pending(&mut self) -> Result<u64, RunError> {
        self.start(Vec::new(), false)?;
        let mut errors = self.wait_idle();
        let (committed, more) = self.stop();
        errors.extend(more);
        match errors.first() {
            None => Ok(committed),
            Some(_) => Err(RunError::Pending(errors)),
        }
    }

    /// Stores the upload and its job durably; the same upload again is the
    /// same job, and says so. While the pipeline runs, the job is admitted
    /// into it, and a full pipeline makes this wait up to
    /// `workers.submit_wait_ms`, then answer [`Busy`] with nothing stored.
    pub fn submit(&self, upload: Upload) -> Result<Submitted, SubmitError> {
        check_account(&upload.account)?;
        let mut writer = self.store.receive_upload()?;
        writer.write(&upload.bytes)?;
        let declared = Declared {
            account: upload.account,
            kind: upload.kind,
            profile: upload.profile,
            file_name: upload.file_name,
        };
        self.submit_received(declared, writer.finish()?)
    }

    /// Starts receiving an upload into the store, sealed and hashed as it
    /// arrives; [`Intake::submit_received`] then makes it a job.
    pub fn receive_upload(&self) -> Result<UploadWriter, StoreError> {
        // Nothing is taken in while the store cannot keep it.
        if let Some(outage) = self.store.outage() {
            return Err(StoreError::Unavailable(outage.cause));
        }
        self.store.receive_upload()
    }

    /// [`Intake::submit`] of an upload already received: admitted (or
    /// [`Busy`]) and stored as its job; its file is removed unless a job
    /// refers to it.
    pub fn submit_received(
        &self,
        upload: Declared,
        received: ReceivedUpload,
    ) -> Result<Submitted, SubmitError> {
        check_account(&upload.account)?;
        // A shared store's queue feeds the workers (this process's among them).
        let admission = self.running.as_ref().and_then(|r| r.pipeline.admission());
        let slot = match admission.filter(|_| !self.shares_store()) {
            Some(admission) => {
                let wait = Duration::from_millis(self.config().workers.submit_wait_ms);
                Some(admission.reserve(Some(wait))?)
            }
            None => None,
        };
        let blob = received.sha256().to_string();
        let now = self.clock.now_ms();
        let job = Job {
            id: job_id(
                &upload.account,
                upload.kind.as_str(),
                &blob,
                upload.profile.as_ref(),
            ),
            account: upload.account,
            kind: upload.kind,
            profile: upload.profile,
            file_name: clean_file_name(&upload.file_name),
            blob,
            received_at: now,
            state: JobState::Pending,
            verdict_seq: None,
            review_seq: None,
            done_at: None,
            purged_at: None,
        };
        let audit = AuditEntry::job_submitted(&job, now);
        let submitted = self.store.submit_received(job, received, audit)?;
        tracing::debug!(job = %submitted.job().id, new = matches!(submitted, Submitted::New(_)), "submitted");
        if let (Some(slot), Submitted::New(job)) = (slot, &submitted) {
            slot.admit(job.clone());
        }
        Ok(submitted)
    }

    /// Updates the profile the applicant declared for `account`: every field
    /// `update` declares replaces the one each document of the account was
    /// checked against (the others stay), and each document whose profile
    /// changes is checked again as a new job from its stored upload. The
    /// update is audited with who made it and which fields it changed
    /// (names, never values).
    pub fn update_profile(
        &self,
        account: &str,
        update: &Profile,
        by: Actor,
    ) -> Result<ProfileUpdate, SubmitError> {
        check_account(account)?;
        self.projector.catch_up(self.clock.now_ms())?;
        let stored = self
            .store
            .account(account)?
            .filter(|a| !a.documents.is_empty())
            .ok_or_else(|| SubmitError::NoDocuments(account.to_string()))?;
        let mut outcome = ProfileUpdate::default();
        let mut changed_fields = Vec::new();
        for (kind, state) in &stored.documents {
            let Some(job) = self.store.job(&state.job)? else {
                outcome.upload_missing.push(*kind);
                continue;
            };
            let before = job.profile.clone().unwrap_or_default();
            let after = before.updated_with(update);
            if after == before {
                outcome.unchanged.push(*kind);
                continue;
            }
            for field in before.changed_fields(&after) {
                if !changed_fields.contains(&field) {
                    changed_fields.push(field);
                }
            }
            let Some(bytes) = self.store.blob(&job.blob)? else {
                outcome.upload_missing.push(*kind);
                continue;
            };
            let submitted = self.submit(Upload {
                account: account.to_string(),
                kind: *kind,
                profile: Some(after),
                file_name: job.file_name.clone(),
                bytes,
            })?;
            // The document's review, if it waits for one, is the new check's now.
            let replaced_by = submitted.job().id.clone();
            let now = self.clock.now_ms();
            review::apply(&*self.store, &job.id, &|stored| {
                review::withdraw(stored, &job.id, &by, now, &replaced_by)
            })?;
            outcome.rechecked.push((*kind, submitted));
        }
        let names = |kinds: &mut dyn Iterator<Item = DocumentKind>| -> String {
            kinds.map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        };
        let fields: Vec<&str> = changed_fields.iter().map(|f| f.as_str()).collect();
        let after = format!(
            "fields: {}; rechecked: {}; upload missing: {}",
            if fields.is_empty() {
                "none".into()
            } else {
                fields.join(", ")
            },
            names(&mut outcome.rechecked.iter().map(|(k, _)| *k)),
            names(&mut outcome.upload_missing.iter().copied()),
        );
        let entry = AuditEntry::profile_updated(account, by, self.clock.now_ms(), after);
        self.store
            .save_accounts(&[], None, vec![entry], Vec::new())?;
        self.store.flush()?;
        Ok(outcome)
    }

    /// The account's status and the items to fix, with the verdicts so far applied.
    pub fn status(&self, account: &str) -> Result<Option<Account>, StoreError> {
        self.projector.catch_up(self.clock.now_ms())?;
        self.store.account(account)
    }

    /// Walks the audit log's hash chain.
    pub fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        self.store.verify_audit()
    }

    /// The verdict queue from `from` on, at most `limit` entries.
    pub fn verdicts(&self, from: u64, limit: usize) -> Result<Vec<VerdictEntry>, StoreError> {
        self.store.verdicts_from(from, limit)
    }

    /// Whether the service has heard of `account`: a status stored, or a
    /// job still waiting for its first verdict. (The pending jobs are
    /// walked only for an account without a status.)
    pub fn knows_account(&self, account: &str) -> Result<bool, StoreError> {
        if self.store.account(account)?.is_some() {
            return Ok(true);
        }
        Ok(self
            .store
            .pending()?
            .iter()
            .any(|job| job.account == account))
    }

    /// Applies the time rules now: correction deadlines, stay expiry, review leases.
    pub fn sweep(&self) -> Result<Swept, ReviewError> {
        self.projector.sweep(self.clock.now_ms())
    }

    /// Deletes the uploads of jobs decided more than `store.retention_days`
    /// ago, and the upload files no job needs.
    pub fn purge(&self) -> Result<Purged, StoreError> {
        self.projector.purge(self.clock.now_ms())
    }

    /// Compares the stored statuses with those computed from scratch from the verdicts.
    pub fn verify_accounts(&self) -> Result<Vec<String>, StoreError> {
        self.projector.verify()
    }

    /// The review queue, oldest first.
    pub fn review_queue(&self) -> Result<Vec<ReviewItem>, StoreError> {
        self.store.review_items()
    }

    /// `reviewer` takes the item for `review.lease_minutes`.
    pub fn claim(&self, job: &JobId, reviewer: &str) -> Result<ReviewItem, ReviewError> {
        let now = self.clock.now_ms();
        let lease_ms = self.config().review.lease_minutes * 60_000;
        review::apply(&*self.store, job, &|item| {
            review::claim(item, job, reviewer, now, lease_ms)
        })?;
        metrics::counter!("intake_review_claims_total").increment(1);
        self.store
            .review_items()?
            .into_iter()
            .find(|item| &item.job == job)
            .ok_or_else(|| ReviewError::NotInQueue(job.clone()))
    }

    /// The claimant gives the item back to the queue before the lease ends.
    pub fn release(&self, job: &JobId, reviewer: &str) -> Result<(), ReviewError> {
        let now = self.clock.now_ms();
        review::apply(&*self.store, job, &|item| {
            review::release(item, job, reviewer, now)
        })?;
        metrics::counter!("intake_review_releases_total").increment(1);
        Ok(())
    }

    /// The claimant's decision: a reviewer verdict joins the queue and the
    /// account status follows. Returns the verdict's sequence number.
    pub fn resolve(
        &self,
        job: &JobId,
        reviewer: &str,
        resolution: &Resolution,
    ) -> Result<u64, ReviewError> {
        let now = self.clock.now_ms();
        let seq = review::apply(&*self.store, job, &|item| {
            review::resolve(item, job, reviewer, now, resolution)
        })?
        .ok_or_else(|| ReviewError::NotInQueue(job.clone()))?;
        // Counted once the verdict is stored, whatever the projection does next.
        metrics::counter!("intake_review_decisions_total", "decision" => resolution.decision.as_str())
            .increment(1);
        self.projector.catch_up(now)?;
        Ok(seq)
    }

    /// The audit log of an account, oldest first.
    pub fn audit(&self, account: &str) -> Result<Vec<AuditEntry>, StoreError> {
        self.store.audit_log(Some(account))
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every second: while the store is out of service, probes it and puts it
/// back in service once it writes again; then admits the jobs that waited
/// for it. Ends when `stop` is dropped.
fn watch_store(
    store: Arc<dyn Store>,
    admission: Admission,
    parked: Parked,
    stop: Receiver<()>,
) -> Result<JoinHandle<()>, RunError> {
    spawn("store-watch", move || {
        while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(Duration::from_secs(1)) {
            if store.outage().is_some() {
                match store.recover() {
                    Ok(Some(outage)) => {
                        tracing::info!(
                            cause = outage.cause.as_str(),
                            out_of_service_ms = system_ms().saturating_sub(outage.since_ms),
                            "the store is back in service"
                        );
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "the store is still out of service");
                        continue;
                    }
                }
            }
            let mut waiting = parked.take().into_iter();
            while let Some(job) = waiting.next() {
                match admission.reserve(Some(Duration::from_secs(1))) {
                    Ok(slot) => slot.admit(job),
                    Err(_) => {
                        parked.put_back(std::iter::once(job).chain(waiting).collect());
                        break;
                    }
                }
            }
        }
    })
}

/// The account-status consumer: catches up on each commit, and sweeps the
/// time rules every `sweep_every` if given; ends when the pipeline does.
fn consume(
    projector: Projector,
    clock: Clock,
    woken: Receiver<Committed>,
    sweep_every: Option<Duration>,
) -> Result<JoinHandle<()>, RunError> {
    spawn("accounts", move || {
        let tick = sweep_every.unwrap_or(Duration::from_secs(1));
        let mut last_sweep = Instant::now();
        loop {
            let woke = woken.recv_timeout(tick.min(Duration::from_secs(1)));
            let now = clock.now_ms();
            // A store error leaves the offset where it was: the next wake-up retries.
            match projector.catch_up(now) {
                // Said once by the store; the store watch brings it back.
                Err(e) if e.unavailable().is_some() => {
                    tracing::debug!(error = %e, "account status: waiting for the store")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "account status: catching up failed; will retry")
                }
                Ok(_) => {}
            }
            if let Some(every) = sweep_every {
                if last_sweep.elapsed() >= every {
                    match projector.sweep(now) {
                        Ok(swept) => tracing::info!(
                            statuses = swept.statuses,
                            leases = swept.leases,
                            purged = swept.purged,
                            orphans = swept.orphans,
                            "sweep"
                        ),
                        Err(e) => tracing::warn!(error = %e, "sweep failed; will retry"),
                    }
                    last_sweep = Instant::now();
                }
            }
            if matches!(woke, Err(RecvTimeoutError::Disconnected)) {
                break;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;
    use intake_models::config::Limits;
    use intake_models::{AccountStatus, Decision, DocumentKind, Finding, ReasonCode, Verdict};
    use intake_stages::dates::Date;
    use intake_stages::decode::{PdfExtractor, PdfPages};
    use std::path::Path;

    /// A stage failure no input can be relied on to cause.
    struct PanickingPdf;

    impl PdfExtractor for PanickingPdf {
        fn extract(&self, _: &[u8], _: &Limits) -> Result<PdfPages, Finding> {
            panic!("injected stage failure")
        }
    }

    /// A stage slow enough to keep the pipeline full while a test submits.
    struct SlowPdf;

    impl PdfExtractor for SlowPdf {
        fn extract(&self, bytes: &[u8], limits: &Limits) -> Result<PdfPages, Finding> {
            std::thread::sleep(Duration::from_millis(600));
            crate::runtime::sandbox::SandboxedPdf::new().extract(bytes, limits)
        }
    }

    fn committed(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/committed")
            .join(name);
        std::fs::read(path).expect("committed sample")
    }

    fn profile(name: &str) -> Option<intake_models::Profile> {
        let bytes = committed(&format!("profiles/{name}"));
        Some(serde_json::from_slice(&bytes).expect("committed profile"))
    }

    fn date(iso: &str) -> Date {
        Date::parse_iso(iso).expect("a date")
    }

    /// The service on the store in `dir`, its clock started at `today`.
    fn open(dir: &Path, today: &str, config: Config, pdf: Box<dyn PdfExtractor>) -> Intake {
        let store = SledStore::open(dir, 1 << 22).expect("store opens");
        let clock = Clock::starting_at(date(today));
        Intake::new(Box::new(store), Checker::new(config, pdf), clock)
    }

    fn sandboxed() -> Box<dyn PdfExtractor> {
        Box::new(crate::runtime::sandbox::SandboxedPdf::new())
    }

    fn upload(account: &str, kind: DocumentKind, file: &str, profile_file: Option<&str>) -> Upload {
        Upload {
            account: account.into(),
            kind,
            profile: profile_file.and_then(profile),
            file_name: file.into(),
            bytes: committed(file),
        }
    }

    /// One person's documents (the committed samples are each another
    /// person's): `intake_samples::one_person`, with `profiles/{stem}.{name}.json`.
    fn persons_upload(account: &str, kind: DocumentKind, file: &str, profile: &str) -> Upload {
        static SET: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
        let set = SET.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            intake_samples::one_person(dir.path(), 12).expect("the generator writes the set");
            dir
        });
        let read = |name: &str| std::fs::read(set.path().join(name)).expect("the set's file");
        Upload {
            account: account.into(),
            kind,
            profile: Some(serde_json::from_slice(&read(&format!("profiles/{profile}"))).unwrap()),
            file_name: file.into(),
            bytes: read(file),
        }
    }

    fn status(intake: &Intake, account: &str) -> AccountStatus {
        intake.status(account).unwrap().expect("an account").status
    }

    #[test]
    fn client_strings_are_checked_and_cleaned() {
        assert!(check_account("acc-1.A_b").is_ok());
        for bad in ["", "../etc", "a b", "ä", &"a".repeat(129)] {
            assert!(check_account(bad).is_err(), "{bad:?}");
        }
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(
            clean_file_name("C:\\scans\\pass\u{1b}[31mport.jpg"),
            "pass[31mport.jpg"
        );
        assert_eq!(clean_file_name("\n\t"), "upload");
        assert_eq!(clean_file_name(&"x".repeat(500)).len(), 120);
    }

    #[test]
    fn a_panicking_stage_still_gives_its_job_one_verdict_and_the_others_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let mut intake = open(
            dir.path(),
            "2026-06-01",
            Config::default(),
            Box::new(PanickingPdf),
        );
        intake
            .submit(upload("a1", DocumentKind::IdCard, "id_card.pdf", None))
            .unwrap();
        intake
            .submit(upload("a2", DocumentKind::Passport, "passport.jpg", None))
            .unwrap();
        assert_eq!(intake.run_pending().unwrap(), 2);
        let queue = intake.store.verdicts_from(0, 10).unwrap();
        let by_account = |a: &str| queue.iter().find(|e| e.account == a).expect("a verdict");
        assert_eq!(by_account("a1").verdict, Verdict::NeedsReview);
        let codes: Vec<ReasonCode> = by_account("a1").findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![ReasonCode::ProcessingFailed]);
        assert_eq!(by_account("a2").verdict, Verdict::Accepted);
        assert!(intake.store.pending().unwrap().is_empty());
        assert_eq!(status(&intake, "a1"), AccountStatus::InReview);
        assert_eq!(intake.review_queue().unwrap().len(), 1);
    }

    #[test]
    fn a_full_pipeline_answers_busy_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.workers.in_flight = 1;
        config.workers.submit_wait_ms = 20;
        let mut intake = open(dir.path(), "2026-06-01", config, Box::new(SlowPdf));
        intake.start(Vec::new(), false).unwrap();
        intake
            .submit(upload("a1", DocumentKind::IdCard, "id_card.pdf", None))
            .unwrap();
        let second = upload("a2", DocumentKind::Passport, "passport.jpg", None);
        let busy = intake.submit(second.clone());
        assert!(matches!(busy, Err(SubmitError::Busy(_))), "{busy:?}");
        let id = job_id(
            "a2",
            "passport",
            &sha256_hex(&second.bytes),
            second.profile.as_ref(),
        );
        assert!(
            intake.store.job(&id).unwrap().is_none(),
            "a busy answer stores nothing"
        );
        assert!(intake.wait_idle().is_empty());
        assert!(matches!(intake.submit(second).unwrap(), Submitted::New(_)));
        assert!(intake.wait_idle().is_empty());
        let (_, errors) = intake.stop();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(intake.store.verdicts_from(0, 10).unwrap().len(), 2);
    }

    #[test]
    fn a_lease_returns_the_item_to_the_queue_and_only_the_claimant_resolves() {
        let dir = tempfile::tempdir().unwrap();
        let job = {
            let mut intake = open(dir.path(), "2026-06-01", Config::default(), sandboxed());
            intake
                .submit(persons_upload(
                    "acc",
                    DocumentKind::Passport,
                    "passport.jpg",
                    "passport.mismatch_surname.json",
                ))
                .unwrap();
            intake
                .submit(persons_upload(
                    "acc",
                    DocumentKind::MigrationCard,
                    "migration_card.jpg",
                    "migration_card.matching.json",
                ))
                .unwrap();
            intake.run_pending().unwrap();
            assert_eq!(status(&intake, "acc"), AccountStatus::InReview);
            let queue = intake.review_queue().unwrap();
            assert_eq!(queue.len(), 1);
            let job = queue[0].job.clone();
            intake.claim(&job, "r1").unwrap();
            assert!(matches!(
                intake.claim(&job, "r2"),
                Err(ReviewError::Claimed { .. })
            ));
            // Only the claimant releases; then anyone may take it.
            assert!(matches!(
                intake.release(&job, "r2"),
                Err(ReviewError::NotClaimant { .. })
            ));
            intake.release(&job, "r1").unwrap();
            assert!(intake.review_queue().unwrap()[0].claim.is_none());
            intake.claim(&job, "r2").unwrap();
            intake.release(&job, "r2").unwrap();
            intake.claim(&job, "r1").unwrap();
            let accept = Resolution {
                decision: Decision::Accept,
                items: Vec::new(),
                comment: None,
            };
            assert!(matches!(
                intake.resolve(&job, "r2", &accept),
                Err(ReviewError::NotClaimant { .. })
            ));
            job
        };
        // A day later r1's 30-minute lease has long run out.
        let intake = open(dir.path(), "2026-06-02", Config::default(), sandboxed());
        let accept = Resolution {
            decision: Decision::Accept,
            items: Vec::new(),
            comment: Some("the surname is a known variant".into()),
        };
        assert!(matches!(
            intake.resolve(&job, "r1", &accept),
            Err(ReviewError::NotClaimant { .. })
        ));
        assert_eq!(intake.sweep().unwrap().leases, 1);
        assert!(intake.review_queue().unwrap()[0].claim.is_none());
        intake.claim(&job, "r2").unwrap();
        let correct = Resolution {
            decision: Decision::Correct,
            items: Vec::new(),
            comment: None,
        };
        assert!(matches!(
            intake.resolve(&job, "r2", &correct),
            Err(ReviewError::NoItems)
        ));
        intake.resolve(&job, "r2", &accept).unwrap();
        assert!(intake.review_queue().unwrap().is_empty());
        assert_eq!(status(&intake, "acc"), AccountStatus::Verified);
        let actions: Vec<String> = intake
            .audit("acc")
            .unwrap()
            .into_iter()
            .map(|e| e.action.to_string())
            .collect();
        for action in [
            "review_queued",
            "review_claimed",
            "review_released",
            "review_lease_expired",
            "review_resolved",
            "status",
        ] {
            assert!(
                actions.iter().any(|a| a == action),
                "{action} missing from {actions:?}"
            );
        }
        assert!(intake.verify_accounts().unwrap().is_empty());
    }

    #[test]
    fn sweeps_restrict_after_the_deadline_and_block_after_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let expiry = {
            let mut intake = open(dir.path(), "2026-06-01", Config::default(), sandboxed());
            intake
                .submit(upload(
                    "fix",
                    DocumentKind::Passport,
                    "passport_scan.bmp",
                    None,
                ))
                .unwrap();
            intake
                .submit(persons_upload(
                    "ok",
                    DocumentKind::Passport,
                    "passport.jpg",
                    "passport.matching.json",
                ))
                .unwrap();
            intake
                .submit(persons_upload(
                    "ok",
                    DocumentKind::MigrationCard,
                    "migration_card.jpg",
                    "migration_card.matching.json",
                ))
                .unwrap();
            intake.run_pending().unwrap();
            assert_eq!(status(&intake, "fix"), AccountStatus::NeedsCorrection);
            assert_eq!(status(&intake, "ok"), AccountStatus::Verified);
            let ok = intake.status("ok").unwrap().unwrap();
            // Blocked at the earliest expiry: the passport's or the card's.
            [DocumentKind::Passport, DocumentKind::MigrationCard]
                .into_iter()
                .map(|kind| {
                    date(
                        ok.documents[&kind]
                            .expiry_date
                            .as_deref()
                            .expect("the expiry was read"),
                    )
                })
                .min()
                .expect("two documents")
        };
        let sweep_on = |day: Date| {
            let intake = open(dir.path(), &day.to_iso(), Config::default(), sandboxed());
            intake.sweep().unwrap();
            (status(&intake, "fix"), status(&intake, "ok"))
        };
        // 2026-06-02 00:00 is less than 48 h after the verdict.
        assert_eq!(
            sweep_on(date("2026-06-02")).0,
            AccountStatus::NeedsCorrection
        );
        assert_eq!(sweep_on(date("2026-06-04")).0, AccountStatus::Restricted);
        assert_eq!(
            sweep_on(expiry).1,
            AccountStatus::Verified,
            "valid on its last day"
        );
        let after = Date::from_unix_days(expiry.to_unix_days() + 1);
        assert_eq!(sweep_on(after).1, AccountStatus::Blocked);
        let intake = open(dir.path(), &after.to_iso(), Config::default(), sandboxed());
        let blocked = intake.status("ok").unwrap().unwrap();
        // The passport (300 days) ends before the card (400).
        assert_eq!(blocked.items[0].code, ReasonCode::DocumentExpired);
        let log = intake.audit("fix").unwrap();
        let restricted = log.iter().find(|e| {
            e.after
                .as_deref()
                .is_some_and(|a| a.starts_with("restricted"))
        });
        assert!(
            restricted.is_some_and(|e| e.by == Actor::Pipeline),
            "{log:?}"
        );
        // Each time rule is announced with the status after it, by no verdict.
        let announced: Vec<_> = intake
            .store
            .outbox_from(0, 1000)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.notice.change {
                intake_models::Change::Status {
                    status,
                    status_ru,
                    previous,
                    verdict_seq,
                    ..
                } => Some((e.notice.account, status, status_ru, previous, verdict_seq)),
                intake_models::Change::Verdict { .. } => None,
            })
            .collect();
        let restricted = (
            "fix".to_string(),
            AccountStatus::Restricted,
            "ограничен".to_string(),
            Some(AccountStatus::NeedsCorrection),
            None,
        );
        assert!(announced.contains(&restricted), "{announced:?}");
        let blocked = (
            "ok".to_string(),
            AccountStatus::Blocked,
            "заблокирован".to_string(),
            Some(AccountStatus::Verified),
            None,
        );
        assert!(announced.contains(&blocked), "{announced:?}");
        assert!(intake.verify_accounts().unwrap().is_empty());
    }
}
