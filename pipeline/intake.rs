//! The service upload handlers and reviewers talk to: thin over the
//! [`Store`], the staged [`Pipeline`], the account [`Projector`] and the
//! review decisions.

use crate::accounts::{Projector, Swept};
use crate::check::{sha256_hex, Checker};
use crate::clock::Clock;
use crate::review::{self, Resolution, ReviewError};
use crate::store::{Store, StoreError, Submitted};
use crate::workers::{Busy, Committed, Pipeline, RunError};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use intake_models::{Account, Actor, AuditEntry, Config, Job, JobId, JobState, ReviewItem, Upload};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why an upload was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Busy(#[from] Busy),
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
}

/// The threads of a started service.
struct Running {
    pipeline: Pipeline,
    recovery: Option<JoinHandle<()>>,
    consumer: JoinHandle<()>,
}

/// The job id of an upload: the same account, kind and file give the same id.
pub fn job_id(account: &str, kind: &str, blob: &str) -> JobId {
    let key = format!("{account}\0{kind}\0{blob}");
    JobId(sha256_hex(key.as_bytes())[..32].to_string())
}

impl Intake {
    pub fn new(store: Box<dyn Store>, checker: Checker, clock: Clock) -> Intake {
        let store: Arc<dyn Store> = Arc::from(store);
        let projector = Projector::new(store.clone(), checker.config().accounts.clone());
        Intake {
            store,
            checker: Arc::new(checker),
            clock,
            projector,
            running: None,
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn config(&self) -> &Config {
        self.checker.config()
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
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
        let pending = self.store.pending()?;
        let pipeline = Pipeline::start(
            self.store.clone(),
            self.checker.clone(),
            &self.config().workers,
            self.clock,
            observers,
        )?;
        let recovery = match pipeline.admission() {
            Some(admission) if !pending.is_empty() => {
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
        self.running = Some(Running {
            pipeline,
            recovery,
            consumer,
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
        let committed = running.pipeline.committed();
        let errors = running.pipeline.shutdown();
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
        let slot = match self.running.as_ref().and_then(|r| r.pipeline.admission()) {
            Some(admission) => {
                let wait = Duration::from_millis(self.config().workers.submit_wait_ms);
                Some(admission.reserve(Some(wait))?)
            }
            None => None,
        };
        let blob = sha256_hex(&upload.bytes);
        let now = self.clock.now_ms();
        let job = Job {
            id: job_id(&upload.account, upload.kind.as_str(), &blob),
            account: upload.account,
            kind: upload.kind,
            profile: upload.profile,
            file_name: upload.file_name,
            blob,
            received_at: now,
            state: JobState::Pending,
            verdict_seq: None,
        };
        let audit = AuditEntry {
            seq: 0,
            at: now,
            account: job.account.clone(),
            job: Some(job.id.clone()),
            action: "job_submitted".into(),
            by: Actor::Pipeline,
            before: None,
            after: Some(format!("pending ({})", job.kind)),
        };
        let submitted = self.store.submit(job, &upload.bytes, audit)?;
        if let (Some(slot), Submitted::New(job)) = (slot, &submitted) {
            slot.admit(job.clone());
        }
        Ok(submitted)
    }

    /// The account's status and the items to fix, with the verdicts so far applied.
    pub fn status(&self, account: &str) -> Result<Option<Account>, StoreError> {
        self.projector.catch_up(self.clock.now_ms())?;
        self.store.account(account)
    }

    /// Applies the time rules now: correction deadlines, stay expiry, review leases.
    pub fn sweep(&self) -> Result<Swept, ReviewError> {
        self.projector.sweep(self.clock.now_ms())
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
        self.store.change_review(job, &|item| {
            review::claim(item, job, reviewer, now, lease_ms)
        })?;
        self.store
            .review_items()?
            .into_iter()
            .find(|item| &item.job == job)
            .ok_or_else(|| ReviewError::NotInQueue(job.clone()))
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
        let seq = self
            .store
            .change_review(job, &|item| {
                review::resolve(item, job, reviewer, now, resolution)
            })?
            .ok_or_else(|| ReviewError::NotInQueue(job.clone()))?;
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

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, RunError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map_err(RunError::Thread)
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
            if let Err(e) = projector.catch_up(now) {
                eprintln!("intake: account status: {e}");
            }
            if let Some(every) = sweep_every {
                if last_sweep.elapsed() >= every {
                    if let Err(e) = projector.sweep(now) {
                        eprintln!("intake: sweep: {e}");
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
