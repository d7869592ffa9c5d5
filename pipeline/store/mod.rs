//! Durable storage: uploads, jobs, the verdict queue, consumer offsets,
//! accounts, the review queue and the audit log.
//!
//! The pipeline sees only the [`Store`] trait; [`SledStore`] implements it on
//! sled 0.34 (one database directory). The uploads themselves are files named
//! by their SHA-256 under `uploads/` in that directory, not sled values:
//! sled 0.34 keeps every large value it writes in memory, whatever its cache
//! capacity (measured: RSS grew by 0.9 MB per 0.9 MB value, 290 MB after 320
//! values, against a plateau of 72 MB for small values), which would make
//! memory grow with the uploads taken in. The `blobs` tree names the files
//! that a job still needs, written in the job's own transaction: a file it
//! does not name (an upload refused or cut short after its file was written)
//! is an orphan, removed when the store opens and by `purge`.
//! Account ids are not sled keys as they are: the accounts tree is keyed by
//! their HMAC under the store key ([`Sealer::name_key`]). The directories
//! are the owner's only (0700), the files too (0600), whatever the umask.
//! Each method is one atomic step, and
//! every promise to a client is made after a flush: a job exists once
//! `submit` returns, a verdict once `finish` or `change_review` returns.
//! Audit entries are written in the same transaction as the change they
//! record, and so are the outbox events that announce verdicts and status
//! changes to the portal; an outbox event is readable only once flushed.
//!
//! The pieces, each in its own file:
//! - this file: the [`Store`] trait and the types it speaks in (errors,
//!   outcomes, outages), which is all the rest of the pipeline sees;
//! - `sled`: [`SledStore`], the engine on sled's trees and transactions;
//! - `jetstream`: [`JetStreamStore`], the same trait on NATS JetStream
//!   (streams, KV buckets, an object store) for several processes at once;
//! - `codec`: records serialised and sealed under their place;
//! - `files`: the upload files ([`UploadWriter`], [`ReceivedUpload`]) and
//!   the guards that keep a file being written from any sweep;
//! - `chain`: the audit log's hash chain, appended and verified;
//! - `rekey`: re-sealing everything under a new key;
//! - `retention`: what upload files go, and when.

mod chain;
mod codec;
#[cfg(test)]
mod conformance;
pub mod crypto;
mod files;
#[cfg(test)]
mod fixtures;
pub mod jetstream;
mod rekey;
mod retention;
mod sled;

pub use self::files::{ReceivedUpload, UploadWriter};
pub use self::jetstream::JetStreamStore;
pub use self::sled::SledStore;

use crate::clock::system_ms;
use crate::store::crypto::{KeyError, SealError};
use intake_models::{
    Account, AuditEntry, Job, JobId, Notice, OutboxEvent, ReviewItem, VerdictEntry,
};
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::watch;

/// The layout this code writes; a newer one is refused, not misread, and
/// an older one is brought up to it when opened. 3: outbox events with
/// verdicts; 4: accounts keyed by the HMAC of their id, and `blobs` naming
/// the upload files jobs need (written with the job).
pub const SCHEMA_VERSION: u64 = 4;

/// Why the store could not do what was asked.
///
/// Each message carries its cause's text, so no variant also gives the cause
/// as `source()`: `{:#}` and other printers of the chain would repeat it
/// ("...: No such file or directory (os error 2): No such file or
/// directory (os error 2)"). Hence fields named `cause`, not `source`
/// (which thiserror makes the source), and `From` written out, not `#[from]`.
/// The other error types of the workspace follow the same rule.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} cannot be opened: {cause}")]
    Open { path: String, cause: ::sled::Error },
    #[error(
        "the store at {path} is held by another process (a running `intake serve` or `intake run --follow`)"
    )]
    Held { path: String },
    #[error(
        "the store was written by a newer intake (schema {found}, this one knows {SCHEMA_VERSION}); upgrade intake"
    )]
    NewerSchema { found: u64 },
    #[error("storage error: {0}")]
    Sled(::sled::Error),
    // serde's own message may quote the value read: only where it broke.
    #[error("a stored record cannot be read ({what}): {:?} error at line {} column {}", .cause.classify(), .cause.line(), .cause.column())]
    Corrupt {
        what: &'static str,
        cause: serde_json::Error,
    },
    #[error("job {0} is not in the store")]
    UnknownJob(JobId),
    #[error("a stored record does not open ({what}): {cause}")]
    Sealed {
        what: &'static str,
        cause: SealError,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("upload file {path}: {cause}")]
    Upload { path: String, cause: std::io::Error },
    #[error("the job names upload {job}, but the upload received is {received}")]
    BlobMismatch { job: String, received: String },
    #[error("the store is out of service: {0}")]
    Unavailable(Unavailable),
    /// A review decision left the item as it was: the decision's own error.
    #[error(transparent)]
    Declined(Declined),
    #[error("the JetStream server at {url} cannot be reached: {cause}")]
    Connect { url: String, cause: String },
    /// A JetStream call failed: what it was about, and the client's message.
    #[error("JetStream ({what}): {cause}")]
    JetStream { what: &'static str, cause: String },
}

impl StoreError {
    /// Whether this error says the storage is full or read-only (a state
    /// the service waits out), rather than a fault of one record or call.
    pub fn unavailable(&self) -> Option<Unavailable> {
        match self {
            StoreError::Open {
                cause: ::sled::Error::Io(e),
                ..
            }
            | StoreError::Sled(::sled::Error::Io(e))
            | StoreError::Upload { cause: e, .. } => Unavailable::of(e),
            StoreError::Unavailable(cause) => Some(*cause),
            // The server's storage limit or its disk reached (error 10047).
            StoreError::JetStream { cause, .. } if cause.contains("insufficient resources") => {
                Some(Unavailable::Full)
            }
            _ => None,
        }
    }
}

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> StoreError {
        StoreError::Sled(e)
    }
}

/// What `submit` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// A new job, stored.
    New(Job),
    /// The same account, kind, file and declared profile were already submitted: that job.
    Existing(Job),
}

impl Submitted {
    pub fn job(&self) -> &Job {
        match self {
            Submitted::New(job) | Submitted::Existing(job) => job,
        }
    }
}

/// What a review decision changes, all at once.
#[derive(Debug, Clone, Default)]
pub struct ReviewChange {
    /// The item as it is to be stored; `None` takes it off the queue.
    pub item: Option<ReviewItem>,
    /// A reviewer verdict to append to the verdict queue.
    pub verdict: Option<VerdictEntry>,
    pub audit: Vec<AuditEntry>,
}

/// The outcome of walking the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    /// Entries whose links held.
    pub entries: u64,
    /// The first entry that breaks the chain, and how.
    pub broken: Option<(u64, String)>,
}

/// Decides a [`ReviewChange`] from the item as stored; may run more than once.
pub type ReviewFn<'a> = dyn Fn(Option<&ReviewItem>) -> Result<ReviewChange, Declined> + 'a;

/// Why a review decision leaves the item as it is (not in the queue,
/// claimed by someone else...): the decider's own error, carried back
/// through the transaction as [`StoreError::Declined`] without the store
/// knowing its type (`review` turns it back into what it was).
pub type Declined = Box<dyn std::error::Error + Send + Sync>;

/// The pipeline's storage, small enough to put another backend behind.
/// Sequence numbers (`seq`) of verdicts, review items and audit entries are
/// assigned by the store.
pub trait Store: Send + Sync {
    /// Starts receiving an upload: see [`UploadWriter`].
    fn receive_upload(&self) -> Result<UploadWriter, StoreError>;
    /// Stores the received upload under its SHA-256 (`job.blob`) and the
    /// job record with its audit entry, durable before it returns; an
    /// existing job with the same id wins (and nothing is audited). An
    /// upload whose file is already there is dropped, its temporary file
    /// with it.
    fn submit_received(
        &self,
        job: Job,
        upload: ReceivedUpload,
        audit: AuditEntry,
    ) -> Result<Submitted, StoreError>;
    /// [`Store::submit_received`] of bytes at hand.
    fn submit(&self, job: Job, bytes: &[u8], audit: AuditEntry) -> Result<Submitted, StoreError> {
        let mut writer = self.receive_upload()?;
        writer.write(bytes)?;
        self.submit_received(job, writer.finish()?, audit)
    }
    fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError>;
    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Jobs without a verdict, oldest first: the work to (re)do after a start.
    fn pending(&self) -> Result<Vec<Job>, StoreError>;
    /// Appends the pipeline verdict of a pending job, marks the job done,
    /// queues `review` (with the verdict's seq) and writes `audit`, in one
    /// transaction, flushed before it returns. For a job already done it
    /// changes nothing and returns the existing entry's sequence number.
    fn finish(
        &self,
        entry: VerdictEntry,
        review: Option<ReviewItem>,
        audit: Vec<AuditEntry>,
    ) -> Result<u64, StoreError>;
    /// Verdict queue entries with `seq >= from`, at most `limit`.
    fn verdicts_from(&self, from: u64, limit: usize) -> Result<Vec<VerdictEntry>, StoreError>;
    /// Outbox events with `seq >= from`, at most `limit`, flushed ones only:
    /// nothing is announced that a crash could still take back.
    fn outbox_from(&self, from: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError>;
    /// The seq of the last flushed outbox event (0 for none), changing with
    /// each flush that makes new events durable.
    fn outbox_head(&self) -> watch::Receiver<u64>;
    /// The next queue position consumer `name` will read (0 for a new one).
    fn consumer_offset(&self, name: &str) -> Result<u64, StoreError>;
    /// Moves consumer `name` to `next`, flushed.
    fn set_offset(&self, name: &str, next: u64) -> Result<(), StoreError>;
    fn account(&self, id: &str) -> Result<Option<Account>, StoreError>;
    fn accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Writes account projections, moves consumer `offset.0` to `offset.1`
    /// and writes `audit` and the outbox events of `notices`, in one
    /// transaction; durable at the next [`flush`](Store::flush).
    fn save_accounts(
        &self,
        accounts: &[Account],
        offset: Option<(&str, u64)>,
        audit: Vec<AuditEntry>,
        notices: Vec<Notice>,
    ) -> Result<(), StoreError>;
    fn flush(&self) -> Result<(), StoreError>;
    fn review_items(&self) -> Result<Vec<ReviewItem>, StoreError>;
    /// Applies `change` to the review item of `job` atomically (the item,
    /// a reviewer verdict noted on the job, audit), flushed; returns the
    /// verdict's seq, if any.
    fn change_review(&self, job: &JobId, change: &ReviewFn<'_>) -> Result<Option<u64>, StoreError>;
    /// Deletes the upload files of jobs whose verdict is older than
    /// `before_ms`, unless a newer or pending job has the same file; marks
    /// the jobs and audits it. Verdicts and audit entries stay. Returns the
    /// jobs whose upload went.
    fn purge_uploads(&self, before_ms: u64, now: u64) -> Result<Vec<JobId>, StoreError>;
    /// Deletes the upload files no job needs (an upload refused or cut
    /// short after its file was written, a purged job's file sent again),
    /// except those being written right now; returns how many went.
    fn remove_orphans(&self) -> Result<usize, StoreError>;
    /// Walks the audit log's hash chain; the first broken link, if any.
    fn verify_audit(&self) -> Result<AuditCheck, StoreError>;
    /// The audit log, oldest first; only `account`'s entries if given.
    fn audit_log(&self, account: Option<&str>) -> Result<Vec<AuditEntry>, StoreError>;
    /// Why the store is out of service (a full disk, a read-only file
    /// system), if it is: noted by the first call that failed for it.
    fn outage(&self) -> Option<Outage>;
    /// Puts a store out of service back in service if it writes again;
    /// returns the outage that ended, if any.
    fn recover(&self) -> Result<Option<Outage>, StoreError>;
    /// The queue worker processes take jobs from, where several processes
    /// share the store (JetStream); `None` where one process holds it
    /// (sled), whose own pipeline works every pending job.
    fn work_queue(&self) -> Option<&dyn WorkQueue> {
        None
    }
    /// Whether this process holds the single-writer duty `duty` (the
    /// account projection, webhook delivery) now: taken when free or not
    /// renewed for its time to live, renewed when already this process's.
    /// A store one process holds (sled) makes every duty its own.
    fn hold_duty(&self, _duty: &str) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// A job the [`WorkQueue`] handed to this process. [`Work::done`] once its
/// verdict is committed; dropped without it, the queue hands the job out
/// again after its ack wait (`jetstream.ack_wait_s`).
pub struct Work {
    pub job: JobId,
    ack: Box<dyn FnOnce() + Send>,
}

impl Work {
    pub fn new(job: JobId, ack: impl FnOnce() + Send + 'static) -> Work {
        Work {
            job,
            ack: Box::new(ack),
        }
    }

    /// Tells the queue the job is settled: it is not handed out again.
    pub fn done(self) {
        (self.ack)()
    }
}

/// The jobs of a store several processes share, handed out one at a time:
/// a job is queued when it is submitted, and a job taken but never marked
/// done (its worker died) is handed out again. A job can be handed out
/// twice (queued again at a restart, or slower than the ack wait): its
/// commit is idempotent ([`Store::finish`]), so it still has one verdict.
pub trait WorkQueue: Send + Sync {
    /// Up to `max` jobs, waiting up to `wait` for them.
    fn take(&self, max: usize, wait: std::time::Duration) -> Result<Vec<Work>, StoreError>;
    /// Queues every pending job again (a queue message lost to a crash
    /// between a job's creation and its queueing); returns how many.
    fn requeue_pending(&self) -> Result<usize, StoreError>;
}

/// The pending ones of `jobs`, oldest first (ties by id): what
/// [`Store::pending`] answers on every backend.
fn pending_of(mut jobs: Vec<Job>) -> Vec<Job> {
    jobs.retain(|job| job.state == intake_models::JobState::Pending);
    jobs.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
    jobs
}

/// Why the store cannot take writes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No space left on the device (or the quota is used up): the store
    /// resumes by itself once space is freed.
    Full,
    /// The file system is read-only: someone must make it writable.
    ReadOnly,
}

impl Unavailable {
    /// The cause as the API and `/healthz` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Unavailable::Full => "storage_full",
            Unavailable::ReadOnly => "storage_read_only",
        }
    }

    /// What an I/O error says of the storage, if it is one of these.
    fn of(error: &std::io::Error) -> Option<Unavailable> {
        use std::io::ErrorKind;
        match error.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => Some(Unavailable::Full),
            ErrorKind::ReadOnlyFilesystem => Some(Unavailable::ReadOnly),
            _ => None,
        }
    }
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unavailable::Full => "the disk holding the store is full",
            Unavailable::ReadOnly => "the store's file system is read-only",
        })
    }
}

/// The store out of service: why, and since when.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub cause: Unavailable,
    /// Unix time in ms.
    pub since_ms: u64,
}

/// The current outage, noted by whatever error first shows one.
#[derive(Default)]
struct OutageWatch(Mutex<Option<Outage>>);

impl OutageWatch {
    fn lock(&self) -> MutexGuard<'_, Option<Outage>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current(&self) -> Option<Outage> {
        self.lock().clone()
    }

    /// Notes an outage if `error` shows one (the first cause is kept).
    fn note(&self, error: &StoreError) {
        let Some(cause) = error.unavailable() else {
            return;
        };
        let mut outage = self.lock();
        if outage.is_none() {
            // The detail may name paths: the log's, never a client's.
            tracing::error!(cause = cause.as_str(), error = %error, "the store is out of service");
            *outage = Some(Outage {
                cause,
                since_ms: system_ms(),
            });
        }
    }

    fn clear(&self) -> Option<Outage> {
        self.lock().take()
    }
}
