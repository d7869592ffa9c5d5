//! The staged pipeline: worker threads on bounded crossbeam channels.
//!
//! ```text
//! admission (in_flight slots) ─▶ decode ×N ─▶ read ×M ─▶ commit ×1
//!                                 blob, sniff,  locate, OCR,   verdict + queue +
//!                                 limits,       parse, QR,     review + audit,
//!                                 decode        match, verdict one flushed transaction
//! ```
//!
//! A job holds one of `in_flight` slots from admission until its verdict is
//! committed, so memory is bounded whatever the backlog: a full pipeline
//! makes [`Admission::reserve`] wait, then answer [`Busy`]. Admitted jobs
//! wait for the decode stage in a [`fair`](crate::runtime::fair) queue that serves
//! the accounts in turn: one uploader's burst cannot hold back the others'.
//! Each read worker owns its Tesseract instances, created once. A stage
//! that panics gives its job a `processing_failed` verdict and the worker
//! carries on.

use crate::check::engines::Engines;
use crate::check::{CheckRequest, Checker, Declared, DecodedUpload};
use crate::clock::Clock;
use crate::runtime::fair::{fair_queue, FairSender};
use crate::runtime::ledger::Ledger;
use crate::store::{Store, StoreError};
use crossbeam_channel::{bounded, Receiver, Sender};
use intake_models::config::Workers;
use intake_models::{
    Actor, AuditEntry, Finding, Job, JobId, Report, ReviewItem, Verdict, VerdictEntry,
};
use intake_stages::ocr::OcrError;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why a job could not get its verdict now (it stays pending for the next start).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("OCR engine: {0}")]
    Engine(OcrError),
    #[error("cannot start a worker thread: {0}")]
    Thread(std::io::Error),
    #[error("{} job(s) stay pending: {}", .0.len(), .0.join("; "))]
    Pending(Vec<String>),
    #[error(
        "--api-only leaves the jobs to `intake worker` processes, which only a shared store has (store.backend = \"jetstream\"); on sled, `intake serve` works them itself"
    )]
    NoWorkers,
}

// Written out rather than `#[from]`, which would also make the engine's
// error the source, printed twice after the message that quotes it.
impl From<OcrError> for RunError {
    fn from(e: OcrError) -> RunError {
        RunError::Engine(e)
    }
}

/// The pipeline is full: nothing was stored; try again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("busy: the pipeline is full ({in_flight} jobs in flight); retry later")]
pub struct Busy {
    pub in_flight: usize,
}

/// A job's verdict, committed: what observers (the account consumer, the bench) learn.
#[derive(Debug, Clone)]
pub struct Committed {
    pub job: JobId,
    pub seq: u64,
    pub verdict: Verdict,
    /// The reason codes of its findings, as the JSON spells them.
    pub codes: Vec<String>,
    /// From admission to the flushed commit.
    pub latency: Duration,
    /// Wall time per stage of the check, and waits between stages.
    pub timings_ms: BTreeMap<String, f64>,
}

/// Counts of the jobs through the pipeline, and the errors that kept jobs pending.
#[derive(Default)]
struct Counts {
    admitted: u64,
    /// Committed or kept pending by an error.
    settled: u64,
    committed: u64,
    errors: Vec<String>,
    /// Jobs that could not be committed because the store was out of
    /// service (a full disk): they wait for it, then go in again.
    parked: Vec<Job>,
}

#[derive(Default)]
struct Progress {
    counts: Mutex<Counts>,
    changed: Condvar,
}

impl Progress {
    fn update(&self, change: impl FnOnce(&mut Counts)) {
        if let Ok(mut counts) = self.counts.lock() {
            change(&mut counts);
        }
        self.changed.notify_all();
    }
}

/// One job on its way through the stages.
struct InFlight<T> {
    job: Job,
    admitted: Instant,
    /// When it entered the current stage's input channel.
    queued: Instant,
    waits_ms: BTreeMap<String, f64>,
    payload: T,
}

impl<T> InFlight<T> {
    /// Takes the payload off, leaving the job to carry on.
    fn take(self) -> (InFlight<()>, T) {
        let InFlight {
            job,
            admitted,
            queued,
            waits_ms,
            payload,
        } = self;
        let rest = InFlight {
            job,
            admitted,
            queued,
            waits_ms,
            payload: (),
        };
        (rest, payload)
    }

    /// Moves on to the next stage, carrying `payload`; the time it waited in
    /// this stage's channel is recorded as `wait.<stage>`.
    fn next<U>(mut self, stage: &str, started: Instant, payload: U) -> InFlight<U> {
        let waited = started.duration_since(self.queued).as_secs_f64() * 1000.0;
        self.waits_ms.insert(format!("wait.{stage}"), waited);
        InFlight {
            job: self.job,
            admitted: self.admitted,
            queued: Instant::now(),
            waits_ms: self.waits_ms,
            payload,
        }
    }
}

/// What the decode stage hands on.
enum AfterDecode {
    Decoded(Box<DecodedUpload>),
    /// Stopped before reading: the report is final.
    Done(Box<Report>),
    Failed(RunError),
}

/// The admission side of a running pipeline; clone it to feed jobs from
/// another thread.
#[derive(Clone)]
pub struct Admission {
    jobs: FairSender<InFlight<()>>,
    slots: Sender<()>,
    free: Receiver<()>,
    progress: Arc<Progress>,
    in_flight: usize,
}

/// A place in the pipeline, reserved; dropped unused, it is given back.
pub struct Slot<'a> {
    admission: &'a Admission,
    used: bool,
}

impl Admission {
    /// Reserves a place for one job, waiting up to `wait` (forever if `None`).
    pub fn reserve(&self, wait: Option<Duration>) -> Result<Slot<'_>, Busy> {
        let busy = Busy {
            in_flight: self.in_flight,
        };
        match wait {
            Some(wait) => self.slots.send_timeout((), wait).map_err(|_| busy)?,
            None => self.slots.send(()).map_err(|_| busy)?,
        }
        Ok(Slot {
            admission: self,
            used: false,
        })
    }
}

impl Slot<'_> {
    /// Sends the (stored) job into the pipeline; the slot is freed when its
    /// verdict is committed.
    pub fn admit(mut self, job: Job) {
        let now = Instant::now();
        let admission = self.admission;
        admission.progress.update(|c| c.admitted += 1);
        let account = job.account.clone();
        let sent = admission.jobs.send(
            &account,
            InFlight {
                job,
                admitted: now,
                queued: now,
                waits_ms: BTreeMap::new(),
                payload: (),
            },
        );
        // Only a pipeline shutting down refuses: the job stays pending in the
        // store and is recovered at the next start.
        if sent.is_err() {
            admission.progress.update(|c| c.settled += 1);
        } else {
            self.used = true;
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.used {
            let _ = self.admission.free.try_recv();
        }
    }
}

/// Jobs that could not be committed while the store was out of service;
/// whoever sees it back in service admits them again.
#[derive(Clone)]
pub struct Parked(Arc<Progress>);

impl Parked {
    pub fn take(&self) -> Vec<Job> {
        self.0
            .counts
            .lock()
            .map(|mut c| std::mem::take(&mut c.parked))
            .unwrap_or_default()
    }

    pub fn put_back(&self, jobs: Vec<Job>) {
        self.0.update(|c| c.parked.extend(jobs));
    }
}

/// What every worker shares.
struct Shared {
    store: Arc<dyn Store>,
    checker: Arc<Checker>,
    clock: Clock,
    progress: Arc<Progress>,
    free: Receiver<()>,
    observers: Vec<Sender<Committed>>,
}

/// A running pipeline.
pub struct Pipeline {
    admission: Option<Admission>,
    progress: Arc<Progress>,
    threads: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the workers. Every committed verdict is reported to each of
    /// `observers` (a full or closed observer channel is skipped, never waited on).
    pub fn start(
        store: Arc<dyn Store>,
        checker: Arc<Checker>,
        workers: &Workers,
        clock: Clock,
        observers: Vec<Sender<Committed>>,
    ) -> Result<Pipeline, RunError> {
        let in_flight = workers.in_flight.max(1);
        let (slots, free) = bounded(in_flight);
        // Holds at most `in_flight` jobs: each holds a slot.
        let (jobs, to_decode) = fair_queue();
        let (decoded, to_read) = bounded(workers.stage_queue.max(1));
        let (checked, to_commit) = bounded(workers.stage_queue.max(1));
        let progress = Arc::new(Progress::default());
        let shared = Arc::new(Shared {
            store,
            checker,
            clock,
            progress: progress.clone(),
            free: free.clone(),
            observers,
        });
        let mut threads = Vec::new();
        let s = shared.clone();
        threads.extend(spawn_stage(
            "decode",
            workers.decode_workers,
            move || to_decode.recv(),
            decoded,
            || (),
            move |_, job| decode_stage(&s, job),
        )?);
        let s = shared.clone();
        threads.extend(spawn_stage(
            "read",
            workers.read_workers,
            move || to_read.recv().ok(),
            checked,
            Engines::default,
            move |engines, job| read_stage(&s, engines, job),
        )?);
        // The one commit thread keeps the ledger of who holds what.
        let mut ledger = Ledger::load(shared.store.as_ref())?;
        let s = shared;
        threads.push(spawn("commit-0", move || {
            for job in to_commit.iter() {
                commit_stage(&s, &mut ledger, job);
            }
        })?);
        Ok(Pipeline {
            admission: Some(Admission {
                jobs,
                slots,
                free,
                progress: progress.clone(),
                in_flight,
            }),
            progress,
            threads,
        })
    }

    pub fn admission(&self) -> Option<&Admission> {
        self.admission.as_ref()
    }

    /// Waits until every admitted job has settled (committed, or kept
    /// pending by an error); returns the errors since the last call.
    pub fn wait_idle(&self) -> Vec<String> {
        let Ok(mut counts) = self.progress.counts.lock() else {
            return vec!["pipeline progress is poisoned".into()];
        };
        while counts.settled < counts.admitted {
            counts = match self.progress.changed.wait(counts) {
                Ok(c) => c,
                Err(_) => return vec!["pipeline progress is poisoned".into()],
            };
        }
        std::mem::take(&mut counts.errors)
    }

    /// Jobs admitted and not yet settled.
    pub fn in_flight(&self) -> u64 {
        self.progress
            .counts
            .lock()
            .map_or(0, |c| c.admitted.saturating_sub(c.settled))
    }

    /// The jobs waiting for the store to come back into service.
    pub fn parked(&self) -> Parked {
        Parked(self.progress.clone())
    }

    /// Verdicts committed since the start.
    pub fn committed(&self) -> u64 {
        self.progress.counts.lock().map_or(0, |c| c.committed)
    }

    /// Lets the admitted jobs finish, then stops the workers.
    pub fn shutdown(mut self) -> Vec<String> {
        self.admission = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.progress
            .counts
            .lock()
            .map(|mut c| std::mem::take(&mut c.errors))
            .unwrap_or_default()
    }
}

/// A named thread.
pub(crate) fn spawn(
    name: &str,
    work: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, RunError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map_err(RunError::Thread)
}

/// Starts `workers` threads of one stage: each makes its own state with
/// `init` (a Tesseract instance, say) and maps what `input` gives to its
/// output until `input` gives `None` (its queue closed and drained).
fn spawn_stage<I, O, S>(
    name: &str,
    workers: usize,
    input: impl Fn() -> Option<I> + Send + Sync + 'static,
    output: Sender<O>,
    init: impl Fn() -> S + Send + Sync + 'static,
    work: impl Fn(&mut S, I) -> O + Send + Sync + 'static,
) -> Result<Vec<JoinHandle<()>>, RunError>
where
    I: Send + 'static,
    O: Send + 'static,
{
    let init = Arc::new(init);
    let work = Arc::new(work);
    let input = Arc::new(input);
    (0..workers.max(1))
        .map(|i| {
            let (input, output) = (input.clone(), output.clone());
            let (init, work) = (init.clone(), work.clone());
            spawn(&format!("{name}-{i}"), move || {
                let mut state = init();
                while let Some(item) = input() {
                    if output.send(work(&mut state, item)).is_err() {
                        break;
                    }
                }
            })
        })
        .collect()
}

fn decode_stage(shared: &Shared, job: InFlight<()>) -> InFlight<AfterDecode> {
    let started = Instant::now();
    let after = match shared.store.blob(&job.job.blob) {
        Err(e) => AfterDecode::Failed(e.into()),
        Ok(None) => {
            // The blob is stored before its job: only a damaged store loses it.
            let report =
                shared
                    .checker
                    .identity(&CheckRequest::of_job(&job.job, &[], shared.clock.today()));
            AfterDecode::Done(Box::new(Checker::failed(report)))
        }
        Ok(Some(bytes)) => {
            let request = CheckRequest::of_job(&job.job, &bytes, shared.clock.today());
            match catch_unwind(AssertUnwindSafe(|| shared.checker.decode(&request))) {
                Ok(Ok(decoded)) => AfterDecode::Decoded(Box::new(decoded)),
                Ok(Err(report)) => AfterDecode::Done(report),
                Err(_) => {
                    let report = Checker::failed(shared.checker.identity(&request));
                    AfterDecode::Done(Box::new(report))
                }
            }
        }
    };
    tracing::debug!(job = %job.job.id, kind = job.job.kind.as_str(), ms = started.elapsed().as_millis() as u64, "decoded");
    job.next("decode", started, after)
}

fn read_stage(
    shared: &Shared,
    engines: &mut Engines,
    job: InFlight<AfterDecode>,
) -> InFlight<Result<Report, RunError>> {
    let started = Instant::now();
    let (job, after) = job.take();
    let outcome = match after {
        AfterDecode::Failed(e) => Err(e),
        AfterDecode::Done(report) => Ok(*report),
        AfterDecode::Decoded(decoded) => {
            let declared = Declared {
                kind: Some(job.job.kind),
                profile: job.job.profile.as_ref(),
                today: shared.clock.today(),
            };
            let identity = decoded.identity();
            let read = catch_unwind(AssertUnwindSafe(|| {
                shared.checker.read(engines, &declared, *decoded)
            }));
            match read {
                Ok(report) => report.map_err(RunError::from),
                Err(_) => {
                    tracing::warn!(job = %job.job.id, "the read stage panicked; the job gets processing_failed");
                    // The engines may have been mid-call: start them afresh.
                    *engines = Engines::default();
                    Ok(Checker::failed(identity))
                }
            }
        }
    };
    tracing::debug!(job = %job.job.id, ms = started.elapsed().as_millis() as u64, "read");
    job.next("read", started, outcome)
}

/// Appends the job's verdict (with its review item and audit entries) in
/// one flushed transaction, then frees its slot and tells the observers.
fn commit_stage(shared: &Shared, ledger: &mut Ledger, job: InFlight<Result<Report, RunError>>) {
    let started = Instant::now();
    let (job, outcome) = job.take();
    let committed = outcome.and_then(|mut report| {
        // Only this thread commits to a store of its own; a shared one
        // has other processes' verdicts to learn first.
        if shared.store.work_queue().is_some() {
            ledger.catch_up(shared.store.as_ref())?;
        }
        let learned = ledger.flag(&job.job, &mut report);
        let (entry, review, audit) = verdict_of(&job.job, report, shared.clock.now_ms());
        let timings = entry.report.as_ref().map(|r| r.timings_ms.clone());
        let verdict = entry.verdict;
        let codes = entry
            .findings
            .iter()
            .map(|f| f.code.as_str().into())
            .collect();
        let seq = shared.store.finish(entry, review, audit)?;
        ledger.add(learned);
        Ok((seq, verdict, codes, timings.unwrap_or_default()))
    });
    let _ = shared.free.try_recv();
    match committed {
        Ok((seq, verdict, codes, mut timings_ms)) => {
            // Ids, verdicts and codes only: never fields, names or file names.
            tracing::info!(job = %job.job.id, seq, verdict = verdict.as_str(), codes = ?codes, "verdict committed");
            timings_ms.extend(job.waits_ms);
            let waited = started.duration_since(job.queued).as_secs_f64() * 1000.0;
            timings_ms.insert("wait.commit".into(), waited);
            timings_ms.insert("commit".into(), started.elapsed().as_secs_f64() * 1000.0);
            let event = Committed {
                job: job.job.id,
                seq,
                verdict,
                codes,
                latency: job.admitted.elapsed(),
                timings_ms,
            };
            for observer in &shared.observers {
                let _ = observer.try_send(event.clone());
            }
            shared.progress.update(|c| {
                c.settled += 1;
                c.committed += 1;
            });
        }
        Err(e) => {
            let waits = matches!(&e, RunError::Store(e) if e.unavailable().is_some());
            tracing::warn!(job = %job.job.id, error = %e, waits_for_the_store = waits, "job stays pending");
            let error = format!("job {} stays pending: {e}", job.job.id);
            shared.progress.update(|c| {
                c.settled += 1;
                c.errors.push(error);
                if waits {
                    c.parked.push(job.job);
                }
            });
        }
    }
}

/// The verdict queue entry of a pipeline report, the review item if it
/// needs a person, and the audit entries of the job's change.
fn verdict_of(
    job: &Job,
    report: Report,
    now: u64,
) -> (VerdictEntry, Option<ReviewItem>, Vec<AuditEntry>) {
    let findings: Vec<Finding> = report.findings.clone();
    let review = (report.verdict == Verdict::NeedsReview).then(|| ReviewItem {
        job: job.id.clone(),
        account: job.account.clone(),
        kind: job.kind,
        seq: 0,
        findings: findings
            .iter()
            .filter(|f| f.code.verdict().is_some())
            .cloned()
            .collect(),
        since: now,
        claim: None,
    });
    let mut audit = vec![AuditEntry::verdict(job, now, report.verdict)];
    if review.is_some() {
        audit.push(AuditEntry::review_queued(job, now));
    }
    let entry = VerdictEntry {
        seq: 0,
        job: job.id.clone(),
        account: job.account.clone(),
        kind: job.kind,
        verdict: report.verdict,
        findings,
        by: Actor::Pipeline,
        at: now,
        comment: None,
        report: Some(report),
    };
    (entry, review, audit)
}
