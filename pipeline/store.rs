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

use crate::check::{sha256_hex, to_hex};
use crate::clock::system_ms;
use crate::crypto::{ChunkSealer, KeyError, SealError, Sealer, CHUNK_BYTES};
use crate::review::ReviewError;
use intake_models::{
    Account, AuditEntry, Change, Job, JobId, JobState, Notice, OutboxEvent, Reason, ReviewItem,
    VerdictEntry,
};
use sha2::{Digest, Sha256};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use tokio::sync::watch;

/// The layout this code writes; a newer one is refused, not misread, and
/// an older one is brought up to it when opened. 3: outbox events with
/// verdicts; 4: accounts keyed by the HMAC of their id, and `blobs` naming
/// the upload files jobs need (written with the job).
pub const SCHEMA_VERSION: u64 = 4;

/// Store directories: the owner's only.
const DIR_MODE: u32 = 0o700;
/// Upload and temporary files: the owner's only (their content is sealed too).
const FILE_MODE: u32 = 0o600;

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
    Open { path: String, cause: sled::Error },
    #[error(
        "the store at {path} is held by another process (a running `intake serve` or `intake run --follow`)"
    )]
    Held { path: String },
    #[error(
        "the store was written by a newer intake (schema {found}, this one knows {SCHEMA_VERSION}); upgrade intake"
    )]
    NewerSchema { found: u64 },
    #[error("storage error: {0}")]
    Sled(sled::Error),
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
}

impl StoreError {
    /// Whether this error says the storage is full or read-only (a state
    /// the service waits out), rather than a fault of one record or call.
    pub fn unavailable(&self) -> Option<Unavailable> {
        match self {
            StoreError::Open {
                cause: sled::Error::Io(e),
                ..
            }
            | StoreError::Sled(sled::Error::Io(e))
            | StoreError::Upload { cause: e, .. } => Unavailable::of(e),
            StoreError::Unavailable(cause) => Some(*cause),
            _ => None,
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> StoreError {
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
pub type ReviewFn<'a> = dyn Fn(Option<&ReviewItem>) -> Result<ReviewChange, ReviewError> + 'a;

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
    fn change_review(&self, job: &JobId, change: &ReviewFn<'_>)
        -> Result<Option<u64>, ReviewError>;
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
}

/// The sled-backed store.
pub struct SledStore {
    /// The database directory and its page cache, to reopen it.
    dir: PathBuf,
    cache_bytes: u64,
    /// sled's handles; `None` while they are being reopened after an outage.
    trees: RwLock<Option<Arc<Trees>>>,
    /// Set by the first error that says the disk is full or read-only.
    outage: Arc<OutageWatch>,
    codec: Codec,
    /// Where the uploads' files live.
    uploads: PathBuf,
    /// This database's random id: the prefix of idempotency keys, so that
    /// a new database never repeats an old one's keys.
    store_id: String,
    head: OutboxHead,
    writing: Writing,
}

/// sled's database and its trees: replaced whole when the store is
/// reopened, since sled keeps its first I/O error (a full disk, say) for
/// good and answers every later call with it.
struct Trees {
    db: sled::Db,
    blobs: sled::Tree,
    jobs: sled::Tree,
    verdicts: sled::Tree,
    accounts: sled::Tree,
    review: sled::Tree,
    audit: sled::Tree,
    /// Schema version, counters and consumer offsets.
    meta: sled::Tree,
    /// Events announcing verdicts and status changes, by seq.
    outbox: sled::Tree,
}

impl Trees {
    fn open(dir: &Path, cache_bytes: u64) -> Result<Trees, StoreError> {
        let path = dir.display().to_string();
        let db = open_db(dir, cache_bytes).map_err(|cause| match cause {
            sled::Error::Io(e) if is_lock_held(&e) => StoreError::Held { path },
            cause => StoreError::Open { path, cause },
        })?;
        Ok(Trees {
            blobs: db.open_tree("blobs")?,
            jobs: db.open_tree("jobs")?,
            verdicts: db.open_tree("verdicts")?,
            accounts: db.open_tree("accounts")?,
            review: db.open_tree("review")?,
            audit: db.open_tree("audit")?,
            meta: db.open_tree("meta")?,
            outbox: db.open_tree("outbox")?,
            db,
        })
    }

    /// The sequence number of the last outbox event written.
    fn last_outbox(&self) -> Result<u64, StoreError> {
        Ok(self.outbox.last()?.map_or(0, |(key, _)| read_u64(&key)))
    }
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

/// The upload files being written whose job is not committed yet: no sweep
/// may take them. Taken around each file check or removal of a sweep, and
/// around each registration, so a file is either registered or settled.
#[derive(Default)]
struct Writing {
    blobs: Mutex<HashMap<String, usize>>,
}

impl Writing {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        // The map stays consistent whatever panicked while holding it.
        self.blobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a write of `blob` until the guard is dropped.
    fn start(&self, blob: &str) -> WriteGuard<'_> {
        *self.lock().entry(blob.to_string()).or_default() += 1;
        WriteGuard {
            writing: self,
            blob: blob.to_string(),
        }
    }
}

struct WriteGuard<'a> {
    writing: &'a Writing,
    blob: String,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        let mut blobs = self.writing.lock();
        if let Some(count) = blobs.get_mut(&self.blob) {
            *count -= 1;
            if *count == 0 {
                blobs.remove(&self.blob);
            }
        }
    }
}

/// The outbox events written and those flushed: only a flush publishes.
struct OutboxHead {
    written: AtomicU64,
    durable: watch::Sender<u64>,
}

const SCHEMA: &[u8] = b"schema_version";
const NEXT_SEQ: &[u8] = b"next_seq";
const NEXT_AUDIT: &[u8] = b"next_audit";
const LAST_AUDIT_HASH: &[u8] = b"last_audit_hash";
const NEXT_OUTBOX: &[u8] = b"next_outbox";
const STORE_ID: &[u8] = b"store_id";
/// When a store out of service was last probed for writes.
const PROBE: &[u8] = b"last_probe";
/// The `prev_hash` of the first audit entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn offset_key(consumer: &str) -> Vec<u8> {
    format!("offset/{consumer}").into_bytes()
}

impl SledStore {
    /// Opens (or creates) the store in `dir` with a page cache of
    /// `cache_bytes` (sled's default of 1 GB is far too much for a worker).
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<SledStore, StoreError> {
        SledStore::open_sealed(dir, cache_bytes, Sealer::plain())
    }

    /// Opens the store with its configuration: path, cache and key.
    pub fn open_configured(
        cfg: &intake_models::config::StoreConfig,
    ) -> Result<SledStore, StoreError> {
        let sealer = Sealer::from_config(cfg)?;
        SledStore::open_sealed(&cfg.path, cfg.cache_capacity_bytes, sealer)
    }

    /// Opens (or creates) the store in `dir`, sealing records with `sealer`.
    pub fn open_sealed(
        dir: &Path,
        cache_bytes: u64,
        sealer: Sealer,
    ) -> Result<SledStore, StoreError> {
        let uploads = dir.join("uploads");
        let private = |path: &Path| {
            private_dir(path).map_err(|source| StoreError::Upload {
                path: path.display().to_string(),
                cause: source,
            })
        };
        // Before sled creates it with the umask's mode.
        private(dir)?;
        let trees = Trees::open(dir, cache_bytes)?;
        private(&uploads)?;
        let found = trees.meta.get(SCHEMA)?.map(|v| read_u64(&v));
        if let Some(found) = found.filter(|&found| found > SCHEMA_VERSION) {
            return Err(StoreError::NewerSchema { found });
        }
        let store_id = match trees.meta.get(STORE_ID)? {
            Some(id) => String::from_utf8_lossy(&id).into_owned(),
            None => {
                let id = to_hex(&rand::random::<[u8; 8]>());
                trees.meta.insert(STORE_ID, id.as_bytes())?;
                id
            }
        };
        trees.db.flush()?;
        let last = trees.last_outbox()?;
        let store = SledStore {
            dir: dir.to_path_buf(),
            cache_bytes,
            trees: RwLock::new(Some(Arc::new(trees))),
            outage: Arc::default(),
            codec: Codec { sealer },
            uploads,
            store_id,
            head: OutboxHead {
                written: AtomicU64::new(last),
                durable: watch::Sender::new(last),
            },
            writing: Writing::default(),
        };
        if found != Some(SCHEMA_VERSION) {
            let (accounts, uploads) = store.upgrade()?;
            if let Some(from) = found {
                tracing::info!(
                    from,
                    to = SCHEMA_VERSION,
                    accounts,
                    uploads,
                    "store upgraded"
                );
            }
        }
        // Nothing writes yet, and sled's lock keeps other processes out:
        // every temporary file is a dead writer's.
        let (temporary, orphans) = store.sweep_uploads(true)?;
        if temporary + orphans > 0 {
            tracing::info!(temporary, orphans, "removed leftover upload files");
        }
        Ok(store)
    }

    /// Brings an older layout up to [`SCHEMA_VERSION`] in one transaction,
    /// so an interrupted upgrade is done again at the next open: accounts
    /// move to keys that are the HMAC of their id, and `blobs` is rebuilt
    /// from the jobs (older versions wrote it before the job, so it also
    /// named the files of refused uploads). Schema 3 needed nothing of 2
    /// but its number: outbox events are written from then on. Returns the
    /// accounts moved and the upload files named.
    fn upgrade(&self) -> Result<(usize, usize), StoreError> {
        let t = self.trees()?;
        let mut accounts = Vec::new();
        for item in t.accounts.iter() {
            let (key, value) = item?;
            let account: Account = self.codec.decode("account", &key, &value)?;
            let new_key = self.codec.sealer.name_key(&account.id);
            let record = self.codec.encode("account", &new_key, &account)?;
            accounts.push((key, new_key, record));
        }
        let mut needed: BTreeMap<String, JobId> = BTreeMap::new();
        for job in all::<Job>(&self.codec, &t.jobs, "job")? {
            if job.purged_at.is_none() {
                needed.insert(job.blob, job.id);
            }
        }
        let listed: Vec<sled::IVec> = t.blobs.iter().keys().collect::<Result<_, _>>()?;
        let trees = (&t.accounts, &t.blobs, &t.meta);
        let result = trees.transaction(|(stored, blobs, meta)| {
            for (old, new, record) in &accounts {
                stored.remove(old)?;
                stored.insert(&new[..], record.as_slice())?;
            }
            for blob in &listed {
                blobs.remove(blob)?;
            }
            for (blob, job) in &needed {
                blobs.insert(blob.as_bytes(), job.0.as_bytes())?;
            }
            meta.insert(SCHEMA, &SCHEMA_VERSION.to_be_bytes())?;
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        });
        finished(result)?;
        t.db.flush()?;
        Ok((accounts.len(), needed.len()))
    }

    /// Goes through the upload files: removes those no job needs and not
    /// being written, and, `at_open`, every temporary file (no writer can be
    /// alive then) and makes the files and directories the owner's only.
    /// Returns (temporary files, orphans) removed.
    fn sweep_uploads(&self, at_open: bool) -> Result<(usize, usize), StoreError> {
        let t = self.trees()?;
        let failed = |path: &Path, source| StoreError::Upload {
            path: path.display().to_string(),
            cause: source,
        };
        let (mut temporary, mut orphans) = (0, 0);
        let shards = std::fs::read_dir(&self.uploads).map_err(|e| failed(&self.uploads, e))?;
        for shard in shards {
            let shard = shard.map_err(|e| failed(&self.uploads, e))?;
            let dir = shard.path();
            if !shard.file_type().is_ok_and(|t| t.is_dir()) {
                // Uploads being received are written at the top.
                let receiving = shard.file_name().to_string_lossy().ends_with(".tmp");
                if at_open && receiving {
                    remove_if_there(&dir).map_err(|e| failed(&dir, e))?;
                    temporary += 1;
                }
                continue;
            }
            if at_open {
                set_mode(&dir, DIR_MODE).map_err(|e| failed(&dir, e))?;
            }
            for entry in std::fs::read_dir(&dir).map_err(|e| failed(&dir, e))? {
                let entry = entry.map_err(|e| failed(&dir, e))?;
                let path = entry.path();
                if !entry.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".tmp") {
                    if at_open {
                        remove_if_there(&path).map_err(|e| failed(&path, e))?;
                        temporary += 1;
                    }
                    continue;
                }
                if self.upload_path(&name).as_deref() != Some(path.as_path()) {
                    continue; // not a file of ours
                }
                // Held while deciding and removing: a write of this file
                // registers before it looks for the file.
                let writing = self.writing.lock();
                if writing.contains_key(&name) || t.blobs.contains_key(name.as_bytes())? {
                    drop(writing);
                    if at_open {
                        set_mode(&path, FILE_MODE).map_err(|e| failed(&path, e))?;
                    }
                    continue;
                }
                remove_if_there(&path).map_err(|e| failed(&path, e))?;
                orphans += 1;
            }
        }
        Ok((temporary, orphans))
    }
}

impl SledStore {
    /// Re-seals every record and upload file under `new`, flushed; returns
    /// how many were re-sealed. A record that already opens with `new` is
    /// left as it is, so an interrupted rekey is finished by running it
    /// again with the same two keys. `visited` is called once per record
    /// or upload looked at (for a progress display).
    pub fn rekey(&self, new: &Sealer, visited: &mut dyn FnMut()) -> Result<usize, StoreError> {
        let t = self.trees()?;
        let fresh = Codec {
            sealer: new.clone(),
        };
        let mut resealed = 0;
        let trees = [
            ("job", &t.jobs),
            ("verdict", &t.verdicts),
            ("review", &t.review),
            ("audit", &t.audit),
            ("outbox", &t.outbox),
        ];
        for (what, tree) in trees {
            for item in tree.iter() {
                let (key, value) = item?;
                visited();
                if fresh.open(what, &key, &value).is_ok() {
                    continue;
                }
                let plain = self.codec.open(what, &key, &value)?;
                tree.insert(&key, fresh.seal(what, &key, &plain))?;
                resealed += 1;
            }
        }
        // An account's key is named under the store key too: it moves.
        for item in t.accounts.iter() {
            let (key, value) = item?;
            visited();
            if fresh.open("account", &key, &value).is_ok() {
                continue;
            }
            let account: Account = self.codec.decode("account", &key, &value)?;
            let new_key = new.name_key(&account.id);
            let record = fresh.encode("account", &new_key, &account)?;
            let result = t.accounts.transaction(|stored| {
                stored.remove(&key)?;
                stored.insert(&new_key[..], record.as_slice())?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            });
            finished(result)?;
            resealed += 1;
        }
        for item in t.blobs.iter() {
            let (key, _) = item?;
            visited();
            let sha256 = String::from_utf8_lossy(&key).into_owned();
            let Some(path) = self.upload_path(&sha256) else {
                continue;
            };
            let Ok(stored) = std::fs::read(&path) else {
                continue;
            };
            if fresh.open("upload", &key, &stored).is_ok() {
                continue;
            }
            let plain = self.codec.open("upload", &key, &stored)?;
            let sealed = fresh
                .sealer
                .seal_chunked(&place("upload", &key), &plain)
                .map_err(|source| StoreError::Sealed {
                    what: "upload",
                    cause: source,
                })?;
            replace_file(&path, &sealed).map_err(|source| StoreError::Upload {
                path: path.display().to_string(),
                cause: source,
            })?;
            resealed += 1;
        }
        t.db.flush()?;
        Ok(resealed)
    }

    /// sled's handles, unless they are being reopened.
    fn trees(&self) -> Result<Arc<Trees>, StoreError> {
        let trees = self.trees.read().unwrap_or_else(PoisonError::into_inner);
        trees.clone().ok_or_else(|| {
            let cause = self.outage.current().map_or(Unavailable::Full, |o| o.cause);
            StoreError::Unavailable(cause)
        })
    }

    /// Runs `work` on sled's handles, noting an outage if it fails for one.
    fn with<T>(&self, work: impl FnOnce(&Trees) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let result = self.trees().and_then(|t| work(&t));
        self.noted(result)
    }

    fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &result {
            self.outage.note(e);
        }
        result
    }

    /// Probes a store that is out of service and puts it back in service
    /// if it writes again: a file the size of a chunk in `uploads/` and a
    /// flushed record in sled, reopening sled first if its handle keeps
    /// the old error. Returns the outage ended, if any.
    fn try_recover(&self) -> Result<Option<Outage>, StoreError> {
        if self.outage.current().is_none() {
            return Ok(None);
        }
        let probe = temporary_path(&self.uploads, "probe");
        let written = private_file(&probe)
            .and_then(|mut file| {
                file.write_all(&[0; CHUNK_BYTES])?;
                file.sync_all()
            })
            .map_err(|source| StoreError::Upload {
                path: probe.display().to_string(),
                cause: source,
            });
        let _ = std::fs::remove_file(&probe);
        written?;
        let write_record = || {
            let t = self.trees()?;
            t.meta.insert(PROBE, &system_ms().to_be_bytes())?;
            t.db.flush()?;
            Ok::<_, StoreError>(())
        };
        if write_record().is_err() {
            self.reopen()?;
            write_record()?;
        }
        Ok(self.outage.clear())
    }

    /// Drops sled's handles and opens the database again. The old handle
    /// must be gone first: it holds the directory's lock (and the few
    /// calls still holding it finish with an error).
    fn reopen(&self) -> Result<(), StoreError> {
        let mut slot = self.trees.write().unwrap_or_else(PoisonError::into_inner);
        slot.take();
        let trees = Trees::open(&self.dir, self.cache_bytes)?;
        // Events written but never flushed are gone with the old handle.
        self.head
            .written
            .store(trees.last_outbox()?, Ordering::SeqCst);
        *slot = Some(Arc::new(trees));
        tracing::info!("the store's database was reopened");
        Ok(())
    }

    /// Flushes, then publishes the outbox events written before the flush.
    fn sync(&self, t: &Trees) -> Result<(), StoreError> {
        let written = self.head.written.load(Ordering::SeqCst);
        t.db.flush()?;
        self.head.durable.send_if_modified(|durable| {
            let newer = written > *durable;
            if newer {
                *durable = written;
            }
            newer
        });
        Ok(())
    }

    /// Notes outbox events committed up to `last` (to publish at the next flush).
    fn wrote_outbox(&self, last: Option<u64>) {
        if let Some(last) = last {
            self.head.written.fetch_max(last, Ordering::SeqCst);
        }
    }

    /// The file of the upload with this SHA-256 (hex); `None` for a name
    /// that is not a SHA-256, which never reaches the file system.
    fn upload_path(&self, sha256: &str) -> Option<PathBuf> {
        let is_hash = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        is_hash.then(|| self.uploads.join(&sha256[..2]).join(sha256))
    }

    /// The upload's bytes, if its file is there, opens and hashes right: a
    /// damaged file is as good as a lost one.
    fn read_upload(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(path) = self.upload_path(sha256) else {
            return Ok(None);
        };
        let stored = match std::fs::read(&path) {
            Ok(stored) => stored,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Upload {
                    path: path.display().to_string(),
                    cause: source,
                })
            }
        };
        let bytes = self.codec.open("upload", sha256.as_bytes(), &stored).ok();
        Ok(bytes.filter(|b| sha256_hex(b) == sha256))
    }

    /// Puts a received upload's file in its place (rename, fsync of the
    /// directory) unless an intact one is already there, in which case the
    /// received one is dropped. The caller holds a [`WriteGuard`] of its
    /// SHA-256 until the job naming it is committed.
    fn keep_upload(&self, upload: ReceivedUpload) -> Result<(), StoreError> {
        let Some(path) = self.upload_path(&upload.sha256) else {
            return Err(StoreError::Upload {
                path: upload.sha256.chars().take(80).collect(),
                cause: std::io::Error::other("not a SHA-256"),
            });
        };
        // Already there and intact (same content, same key): nothing to keep.
        if self.read_upload(&upload.sha256)?.is_some() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        private_dir(dir)
            .and_then(|()| std::fs::rename(upload.temporary.path(), &path))
            .and_then(|()| std::fs::File::open(dir)?.sync_all())
            .map_err(|source| StoreError::Upload {
                path: path.display().to_string(),
                cause: source,
            })?;
        upload.temporary.keep();
        Ok(())
    }
}

/// An upload being received: sealed chunk by chunk into a temporary file
/// of the store as it arrives, its SHA-256 computed on the way, so that it
/// is never held whole in memory (one chunk of [`CHUNK_BYTES`] at most).
/// Dropped before it is submitted, its file goes with it.
pub struct UploadWriter {
    file: std::fs::File,
    /// Told when a write fails for a full disk.
    outage: Arc<OutageWatch>,
    temporary: Temporary,
    sealer: ChunkSealer,
    hasher: Sha256,
    chunk: Vec<u8>,
    len: u64,
}

/// A received upload, sealed and synced, waiting for its job; dropped, its
/// file goes with it.
pub struct ReceivedUpload {
    sha256: String,
    len: u64,
    temporary: Temporary,
}

impl ReceivedUpload {
    /// Hex SHA-256 of the plaintext: the blob name, part of the job id.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A temporary file, removed when dropped unless kept.
struct Temporary(Option<PathBuf>);

impl Temporary {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl UploadWriter {
    fn create(
        uploads: &Path,
        sealer: &Sealer,
        outage: Arc<OutageWatch>,
    ) -> Result<UploadWriter, StoreError> {
        let path = temporary_path(uploads, "incoming");
        let failed = |source| StoreError::Upload {
            path: path.display().to_string(),
            cause: source,
        };
        let mut file = private_file(&path).map_err(failed)?;
        let temporary = Temporary(Some(path.clone()));
        let sealer = sealer.seal_chunks();
        file.write_all(sealer.header()).map_err(failed)?;
        Ok(UploadWriter {
            file,
            outage,
            temporary,
            sealer,
            hasher: Sha256::new(),
            // Room for the tag sealed in place.
            chunk: Vec::with_capacity(CHUNK_BYTES + 16),
            len: 0,
        })
    }

    fn failed(&self, source: std::io::Error) -> StoreError {
        let error = StoreError::Upload {
            path: self.temporary.path().display().to_string(),
            cause: source,
        };
        self.outage.note(&error);
        error
    }

    fn sealing_failed(source: SealError) -> StoreError {
        StoreError::Sealed {
            what: "upload",
            cause: source,
        }
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hashes `bytes` and seals and writes every chunk they fill.
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<(), StoreError> {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = CHUNK_BYTES - self.chunk.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.chunk.extend_from_slice(now);
            bytes = rest;
            if self.chunk.len() == CHUNK_BYTES {
                self.sealer
                    .seal_chunk(&mut self.chunk)
                    .map_err(UploadWriter::sealing_failed)?;
                self.file
                    .write_all(&self.chunk)
                    .map_err(|e| self.failed(e))?;
                self.chunk.clear();
            }
        }
        Ok(())
    }

    /// Seals the last chunk (bound to the upload's SHA-256) and syncs the file.
    pub fn finish(mut self) -> Result<ReceivedUpload, StoreError> {
        let sha256 = to_hex(&self.hasher.finalize());
        self.sealer
            .seal_last(&place("upload", sha256.as_bytes()), &mut self.chunk)
            .map_err(UploadWriter::sealing_failed)?;
        let written = self
            .file
            .write_all(&self.chunk)
            .and_then(|()| self.file.sync_all());
        if let Err(source) = written {
            // `failed`'s work: the sealer is spent, so `self` is not whole.
            let error = StoreError::Upload {
                path: self.temporary.path().display().to_string(),
                cause: source,
            };
            self.outage.note(&error);
            return Err(error);
        }
        Ok(ReceivedUpload {
            sha256,
            len: self.len,
            temporary: self.temporary,
        })
    }
}

/// A name for a temporary file in `dir`, unique per writer (two uploads of
/// the same file may be written at once): `NAME.PID.N.tmp`.
fn temporary_path(dir: &Path, name: &str) -> PathBuf {
    static WRITERS: AtomicU64 = AtomicU64::new(0);
    let writer = WRITERS.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{name}.{}.{writer}.tmp", std::process::id()))
}

/// Puts `contents` at `path` atomically and durably: a temporary file
/// (the owner's only), fsync, rename over, fsync of the directory. A
/// failure (a full disk) takes the temporary file away.
fn replace_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir)?;
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let temporary = temporary_path(dir, &name);
    let written = (|| {
        let mut file = private_file(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(e);
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Creates a new file at `path` that only its owner may read or write.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    // The mode at creation is masked by the umask; this one is not.
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Creates `dir` (and its parents) if missing, and makes it the owner's
/// only, whatever the umask or the mode an older intake left.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    set_mode(dir, DIR_MODE)
}

/// Sets the permission bits of `path` unless they already are `mode`.
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    if current == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Removes a file; one already gone is as good.
fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Opens sled's database. The directory lock of a store this process has
/// just dropped is released by sled's flusher thread a moment later (later
/// still on a loaded machine), so a held lock is retried for up to a second
/// before it is reported.
fn open_db(dir: &Path, cache_bytes: u64) -> Result<sled::Db, sled::Error> {
    let config = sled::Config::new().path(dir).cache_capacity(cache_bytes);
    let mut waited = std::time::Duration::ZERO;
    loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if is_lock_held(&e) && waited < std::time::Duration::from_secs(1) =>
            {
                let pause = std::time::Duration::from_millis(50);
                std::thread::sleep(pause);
                waited += pause;
            }
            opened => return opened,
        }
    }
}

/// sled's way of saying another process has the directory.
fn is_lock_held(error: &std::io::Error) -> bool {
    error.to_string().contains("could not acquire lock")
}

fn read_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[8 - n..].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(buf)
}

/// Serialises records and seals them (when the store has a key); a
/// record's place, its tree and key, is sealed with it.
#[derive(Clone)]
struct Codec {
    sealer: Sealer,
}

fn place(what: &str, key: &[u8]) -> Vec<u8> {
    [what.as_bytes(), b"/", key].concat()
}

impl Codec {
    fn seal(&self, what: &str, key: &[u8], plain: &[u8]) -> Vec<u8> {
        self.sealer.seal(&place(what, key), plain)
    }

    fn open(&self, what: &'static str, key: &[u8], bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.sealer
            .open(&place(what, key), bytes)
            .map_err(|source| StoreError::Sealed {
                what,
                cause: source,
            })
    }

    fn encode<T: serde::Serialize>(
        &self,
        what: &'static str,
        key: &[u8],
        value: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_vec(value).map_err(|source| StoreError::Corrupt {
            what,
            cause: source,
        })?;
        Ok(self.sealer.seal(&place(what, key), &plain))
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        let plain = self.open(what, key, bytes)?;
        serde_json::from_slice(&plain).map_err(|source| StoreError::Corrupt {
            what,
            cause: source,
        })
    }
}

/// The result of a transaction step; `E` is what aborts it.
type Tx<T, E> = Result<T, ConflictableTransactionError<E>>;

fn abort<E: From<StoreError>>(e: StoreError) -> ConflictableTransactionError<E> {
    ConflictableTransactionError::Abort(e.into())
}

/// Takes the counter at `key` (starting at 1) and moves it on.
fn take_counter(meta: &TransactionalTree, key: &[u8]) -> Result<u64, UnabortableTransactionError> {
    let n = meta.get(key)?.map_or(1, |v| read_u64(&v));
    meta.insert(key, &(n + 1).to_be_bytes())?;
    Ok(n)
}

fn append_audit<E: From<StoreError>>(
    codec: &Codec,
    audit: &TransactionalTree,
    meta: &TransactionalTree,
    entries: &[AuditEntry],
) -> Tx<(), E> {
    for entry in entries {
        let mut entry = entry.clone();
        entry.seq = take_counter(meta, NEXT_AUDIT)?;
        // The hash chain: each entry carries the SHA-256 of the one before.
        entry.prev_hash = match meta.get(LAST_AUDIT_HASH)? {
            Some(hash) => String::from_utf8_lossy(&hash).into_owned(),
            None => GENESIS.to_string(),
        };
        let key = entry.seq.to_be_bytes();
        let plain = serde_json::to_vec(&entry).map_err(|source| {
            abort(StoreError::Corrupt {
                what: "audit",
                cause: source,
            })
        })?;
        meta.insert(LAST_AUDIT_HASH, sha256_hex(&plain).as_bytes())?;
        audit.insert(&key, codec.seal("audit", &key, &plain))?;
    }
    Ok(())
}

/// Appends `entry` to the verdict queue under a new seq; returns it.
fn append_verdict<E: From<StoreError>>(
    codec: &Codec,
    verdicts: &TransactionalTree,
    meta: &TransactionalTree,
    entry: &VerdictEntry,
) -> Tx<u64, E> {
    let mut entry = entry.clone();
    entry.seq = take_counter(meta, NEXT_SEQ)?;
    verdicts.insert(
        &entry.seq.to_be_bytes(),
        codec
            .encode("verdict", &entry.seq.to_be_bytes(), &entry)
            .map_err(abort)?,
    )?;
    Ok(entry.seq)
}

/// The notice of a verdict appended to the queue at `verdict_seq`.
fn verdict_notice(entry: &VerdictEntry, verdict_seq: u64) -> Notice {
    Notice {
        at: entry.at,
        account: entry.account.clone(),
        job: Some(entry.job.clone()),
        by: entry.by.clone(),
        change: Change::Verdict {
            verdict_seq,
            kind: entry.kind,
            verdict: entry.verdict,
            reasons: entry.findings.iter().map(Reason::from).collect(),
        },
    }
}

/// Appends an outbox event per notice; returns the last seq, if any.
fn append_outbox<E: From<StoreError>>(
    codec: &Codec,
    outbox: &TransactionalTree,
    meta: &TransactionalTree,
    store_id: &str,
    notices: &[Notice],
) -> Tx<Option<u64>, E> {
    let mut last = None;
    for notice in notices {
        let seq = take_counter(meta, NEXT_OUTBOX)?;
        let event = OutboxEvent {
            seq,
            idempotency_key: format!("{store_id}-{seq}"),
            notice: notice.clone(),
        };
        let key = seq.to_be_bytes();
        outbox.insert(&key, codec.encode("outbox", &key, &event).map_err(abort)?)?;
        last = Some(seq);
    }
    Ok(last)
}

fn finished<T, E: From<StoreError>>(result: Result<T, TransactionError<E>>) -> Result<T, E> {
    match result {
        Ok(value) => Ok(value),
        Err(TransactionError::Abort(e)) => Err(e),
        Err(TransactionError::Storage(e)) => Err(StoreError::from(e).into()),
    }
}

fn all<T: serde::de::DeserializeOwned>(
    codec: &Codec,
    tree: &sled::Tree,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    tree.iter()
        .map(|item| {
            let (key, value) = item?;
            codec.decode(what, &key, &value)
        })
        .collect()
}

impl Store for SledStore {
    fn receive_upload(&self) -> Result<UploadWriter, StoreError> {
        self.noted(UploadWriter::create(
            &self.uploads,
            &self.codec.sealer,
            self.outage.clone(),
        ))
    }

    fn submit_received(
        &self,
        job: Job,
        upload: ReceivedUpload,
        audit: AuditEntry,
    ) -> Result<Submitted, StoreError> {
        self.with(|t| {
            if job.blob != upload.sha256 {
                return Err(StoreError::BlobMismatch {
                    job: job.blob,
                    received: upload.sha256,
                });
            }
            // Until the job is committed, the file is no sweep's to take.
            let _writing = self.writing.start(&job.blob);
            // Content-addressed: the same bytes are one file whoever sends them.
            self.keep_upload(upload)?;
            let key = job.id.0.as_bytes();
            let record = self.codec.encode("job", key, &job)?;
            let trees = (&t.jobs, &t.blobs, &t.audit, &t.meta);
            let result = trees.transaction(|(jobs, blobs, log, meta)| {
                if let Some(existing) = jobs.get(key)? {
                    return Ok(Some(existing));
                }
                jobs.insert(key, record.as_slice())?;
                // The file is needed from this commit on; the job's id marks
                // the change for a purge deciding on an older view.
                blobs.insert(job.blob.as_bytes(), key)?;
                append_audit::<StoreError>(&self.codec, log, meta, std::slice::from_ref(&audit))?;
                Ok(None)
            });
            let existing = finished(result)?;
            t.db.flush()?;
            match existing {
                None => Ok(Submitted::New(job)),
                Some(current) => Ok(Submitted::Existing(
                    self.codec.decode("job", key, &current)?,
                )),
            }
        })
    }

    fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.with(|t| {
            t.jobs
                .get(id.0.as_bytes())?
                .map(|v| self.codec.decode("job", id.0.as_bytes(), &v))
                .transpose()
        })
    }

    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.noted(self.read_upload(sha256))
    }

    fn pending(&self) -> Result<Vec<Job>, StoreError> {
        self.with(|t| {
            let mut jobs: Vec<Job> = all(&self.codec, &t.jobs, "job")?;
            jobs.retain(|job| job.state == JobState::Pending);
            jobs.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
            Ok(jobs)
        })
    }

    fn finish(
        &self,
        entry: VerdictEntry,
        review: Option<ReviewItem>,
        audit: Vec<AuditEntry>,
    ) -> Result<u64, StoreError> {
        self.with(|t| {
            let key = entry.job.0.as_bytes();
            let trees = (
                &t.jobs,
                &t.verdicts,
                &t.review,
                &t.audit,
                &t.meta,
                &t.outbox,
            );
            let result = trees.transaction(|(jobs, verdicts, queue, log, meta, outbox)| {
                // No side effects in here: sled may run this closure again.
                let Some(raw) = jobs.get(key)? else {
                    return Err(abort(StoreError::UnknownJob(entry.job.clone())));
                };
                let mut job: Job = self.codec.decode("job", key, &raw).map_err(abort)?;
                if let (JobState::Done, Some(seq)) = (job.state, job.verdict_seq) {
                    return Ok((seq, None));
                }
                let seq = append_verdict::<StoreError>(&self.codec, verdicts, meta, &entry)?;
                job.state = JobState::Done;
                job.verdict_seq = Some(seq);
                job.done_at = Some(entry.at);
                jobs.insert(key, self.codec.encode("job", key, &job).map_err(abort)?)?;
                if let Some(item) = &review {
                    let item = ReviewItem {
                        seq,
                        ..item.clone()
                    };
                    let record = self.codec.encode("review", key, &item).map_err(abort)?;
                    queue.insert(key, record)?;
                }
                append_audit(&self.codec, log, meta, &audit)?;
                let notice = verdict_notice(&entry, seq);
                let announced =
                    append_outbox(&self.codec, outbox, meta, &self.store_id, &[notice])?;
                Ok((seq, announced))
            });
            let (seq, announced) = finished(result)?;
            self.wrote_outbox(announced);
            self.sync(t)?;
            Ok(seq)
        })
    }

    fn verdicts_from(&self, from: u64, limit: usize) -> Result<Vec<VerdictEntry>, StoreError> {
        self.with(|t| {
            t.verdicts
                .range(from.to_be_bytes()..)
                .take(limit)
                .map(|item| {
                    let (key, value) = item?;
                    self.codec.decode("verdict", &key, &value)
                })
                .collect()
        })
    }

    fn outbox_from(&self, from: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.with(|t| {
            let durable = *self.head.durable.borrow();
            if from > durable {
                return Ok(Vec::new());
            }
            t.outbox
                .range(from.to_be_bytes()..=durable.to_be_bytes())
                .take(limit)
                .map(|item| {
                    let (key, value) = item?;
                    self.codec.decode("outbox", &key, &value)
                })
                .collect()
        })
    }

    fn outbox_head(&self) -> watch::Receiver<u64> {
        self.head.durable.subscribe()
    }

    fn consumer_offset(&self, name: &str) -> Result<u64, StoreError> {
        self.with(|t| Ok(t.meta.get(offset_key(name))?.map_or(0, |v| read_u64(&v))))
    }

    fn set_offset(&self, name: &str, next: u64) -> Result<(), StoreError> {
        self.with(|t| {
            t.meta.insert(offset_key(name), &next.to_be_bytes())?;
            self.sync(t)
        })
    }

    fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.with(|t| {
            let key = self.codec.sealer.name_key(id);
            t.accounts
                .get(key)?
                .map(|v| self.codec.decode("account", &key, &v))
                .transpose()
        })
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.with(|t| {
            // Keyed by a hash: put back in the order of their ids.
            let mut accounts: Vec<Account> = all(&self.codec, &t.accounts, "account")?;
            accounts.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(accounts)
        })
    }

    fn save_accounts(
        &self,
        accounts: &[Account],
        offset: Option<(&str, u64)>,
        audit: Vec<AuditEntry>,
        notices: Vec<Notice>,
    ) -> Result<(), StoreError> {
        self.with(|t| {
            let records = accounts
                .iter()
                .map(|a| {
                    let key = self.codec.sealer.name_key(&a.id);
                    Ok((key, self.codec.encode("account", &key, a)?))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let trees = (&t.accounts, &t.audit, &t.meta, &t.outbox);
            let result = trees.transaction(|(stored, log, meta, outbox)| {
                for (key, record) in &records {
                    stored.insert(&key[..], record.as_slice())?;
                }
                if let Some((name, next)) = offset {
                    meta.insert(offset_key(name), &next.to_be_bytes())?;
                }
                append_audit::<StoreError>(&self.codec, log, meta, &audit)?;
                append_outbox(&self.codec, outbox, meta, &self.store_id, &notices)
            });
            self.wrote_outbox(finished(result)?);
            Ok(())
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.with(|t| self.sync(t))
    }

    fn review_items(&self) -> Result<Vec<ReviewItem>, StoreError> {
        self.with(|t| {
            let mut items: Vec<ReviewItem> = all(&self.codec, &t.review, "review")?;
            items.sort_by_key(|item| item.seq);
            Ok(items)
        })
    }

    fn change_review(
        &self,
        job: &JobId,
        change: &ReviewFn<'_>,
    ) -> Result<Option<u64>, ReviewError> {
        let t = self.noted(self.trees())?;
        let key = job.0.as_bytes();
        let trees = (
            &t.review,
            &t.verdicts,
            &t.jobs,
            &t.audit,
            &t.meta,
            &t.outbox,
        );
        let result = trees.transaction(|(queue, verdicts, jobs, log, meta, outbox)| {
            let current: Option<ReviewItem> = queue
                .get(key)?
                .map(|v| self.codec.decode("review", key, &v))
                .transpose()
                .map_err(abort)?;
            let decided = change(current.as_ref()).map_err(ConflictableTransactionError::Abort)?;
            match &decided.item {
                Some(item) => {
                    let record = self.codec.encode("review", key, item).map_err(abort)?;
                    queue.insert(key, record)?
                }
                None => queue.remove(key)?,
            };
            let (seq, announced) = match &decided.verdict {
                Some(entry) => {
                    let seq = append_verdict(&self.codec, verdicts, meta, entry)?;
                    if let Some(raw) = jobs.get(key)? {
                        let mut record: Job = self.codec.decode("job", key, &raw).map_err(abort)?;
                        record.review_seq = Some(seq);
                        jobs.insert(key, self.codec.encode("job", key, &record).map_err(abort)?)?;
                    }
                    let notice = verdict_notice(entry, seq);
                    let announced =
                        append_outbox(&self.codec, outbox, meta, &self.store_id, &[notice])?;
                    (Some(seq), announced)
                }
                None => (None, None),
            };
            append_audit(&self.codec, log, meta, &decided.audit)?;
            Ok((seq, announced))
        });
        let (seq, announced) = finished(result).inspect_err(|e| {
            if let ReviewError::Store(e) = e {
                self.outage.note(e);
            }
        })?;
        self.wrote_outbox(announced);
        self.noted(self.sync(&t))?;
        Ok(seq)
    }

    fn purge_uploads(&self, before_ms: u64, now: u64) -> Result<Vec<JobId>, StoreError> {
        self.with(|t| {
            // Read before the jobs: a job committed after this read changes its
            // file's entry, and the file is then left for another purge.
            let seen: HashMap<sled::IVec, sled::IVec> = t.blobs.iter().collect::<Result<_, _>>()?;
            let mut by_blob: BTreeMap<String, Vec<Job>> = Default::default();
            for job in all::<Job>(&self.codec, &t.jobs, "job")? {
                by_blob.entry(job.blob.clone()).or_default().push(job);
            }
            let mut purged = Vec::new();
            for (blob, jobs) in by_blob {
                let expired = |j: &Job| j.done_at.is_some_and(|at| at < before_ms);
                if jobs.iter().all(|j| j.purged_at.is_some()) || !jobs.iter().all(expired) {
                    continue;
                }
                {
                    // No upload of this file may be between its write and its commit.
                    let writing = self.writing.lock();
                    if writing.contains_key(&blob) {
                        continue;
                    }
                    let entry = seen.get(blob.as_bytes()).cloned();
                    let swapped =
                        t.blobs
                            .compare_and_swap(blob.as_bytes(), entry, None as Option<&[u8]>)?;
                    if swapped.is_err() {
                        continue; // a new job needs it
                    }
                    if let Some(path) = self.upload_path(&blob) {
                        remove_if_there(&path).map_err(|source| StoreError::Upload {
                            path: path.display().to_string(),
                            cause: source,
                        })?;
                    }
                }
                let trees = (&t.jobs, &t.audit, &t.meta);
                let result = trees.transaction(|(stored, log, meta)| {
                    for job in jobs.iter().filter(|j| j.purged_at.is_none()) {
                        let key = job.id.0.as_bytes();
                        let mut record = job.clone();
                        record.purged_at = Some(now);
                        let encoded = self.codec.encode("job", key, &record).map_err(abort)?;
                        stored.insert(key, encoded)?;
                        let entry = AuditEntry {
                            seq: 0,
                            at: now,
                            account: job.account.clone(),
                            job: Some(job.id.clone()),
                            action: "upload_purged".into(),
                            by: intake_models::Actor::Pipeline,
                            before: Some("stored".into()),
                            after: Some("deleted under the retention rule".into()),
                            prev_hash: String::new(),
                        };
                        append_audit::<StoreError>(&self.codec, log, meta, &[entry])?;
                    }
                    Ok(())
                });
                finished(result)?;
                purged.extend(
                    jobs.into_iter()
                        .filter(|j| j.purged_at.is_none())
                        .map(|j| j.id),
                );
            }
            t.db.flush()?;
            Ok(purged)
        })
    }

    fn remove_orphans(&self) -> Result<usize, StoreError> {
        let (_, orphans) = self.noted(self.sweep_uploads(false))?;
        Ok(orphans)
    }

    fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        self.with(|t| {
            let mut expected_prev = GENESIS.to_string();
            let mut expected_seq = 1;
            let mut entries = 0;
            let broken = |seq: u64, why: String| AuditCheck {
                entries: seq.saturating_sub(1),
                broken: Some((seq, why)),
            };
            for item in t.audit.iter() {
                let (key, value) = item?;
                let seq = read_u64(&key);
                if seq != expected_seq {
                    return Ok(broken(
                        expected_seq,
                        format!("entry {expected_seq} is missing"),
                    ));
                }
                let plain = match self.codec.open("audit", &key, &value) {
                    Ok(plain) => plain,
                    Err(e) => return Ok(broken(seq, format!("entry {seq} does not open: {e}"))),
                };
                let entry: AuditEntry = match serde_json::from_slice(&plain) {
                    Ok(entry) => entry,
                    Err(e) => return Ok(broken(seq, format!("entry {seq} cannot be read: {e}"))),
                };
                if entry.seq != seq || entry.prev_hash != expected_prev {
                    return Ok(broken(
                        seq,
                        format!(
                            "entry {seq} does not follow from entry {}: one of them was altered",
                            seq - 1
                        ),
                    ));
                }
                expected_prev = sha256_hex(&plain);
                expected_seq += 1;
                entries += 1;
            }
            let last = t.meta.get(LAST_AUDIT_HASH)?;
            let recorded = last.map(|h| String::from_utf8_lossy(&h).into_owned());
            if entries > 0 && recorded.as_deref() != Some(expected_prev.as_str()) {
                return Ok(broken(
                    expected_seq - 1,
                    format!(
                        "entry {} is not the last one written: the log was altered or cut",
                        expected_seq - 1
                    ),
                ));
            }
            Ok(AuditCheck {
                entries,
                broken: None,
            })
        })
    }

    fn audit_log(&self, account: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        self.with(|t| {
            let mut entries: Vec<AuditEntry> = all(&self.codec, &t.audit, "audit")?;
            if let Some(account) = account {
                entries.retain(|e| e.account == account);
            }
            Ok(entries)
        })
    }

    fn outage(&self) -> Option<Outage> {
        self.outage.current()
    }

    fn recover(&self) -> Result<Option<Outage>, StoreError> {
        self.try_recover()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use intake_models::{AccountStatus, Actor, DocumentKind, Verdict};

    fn job(id: &str) -> Job {
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

    fn audit(action: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at: 1,
            account: "acc-1".into(),
            job: None,
            action: action.into(),
            by: Actor::Pipeline,
            before: None,
            after: None,
            prev_hash: String::new(),
        }
    }

    fn verdict(id: &str) -> VerdictEntry {
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

    fn review(id: &str) -> ReviewItem {
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

    fn open(dir: &Path) -> SledStore {
        SledStore::open(dir, 1 << 20).unwrap()
    }

    #[test]
    fn a_resubmitted_upload_is_the_same_job_and_audited_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let first = store.submit(job("a"), b"a", audit("job_submitted"));
        assert!(matches!(first.unwrap(), Submitted::New(_)));
        let again = store.submit(job("a"), b"a", audit("job_submitted"));
        assert!(matches!(again.unwrap(), Submitted::Existing(_)));
        assert_eq!(store.pending().unwrap().len(), 1);
        let blob = sha256_hex(b"a");
        assert_eq!(store.blob(&blob).unwrap().as_deref(), Some(&b"a"[..]));
        // The file altered on disk (the store is plain here).
        std::fs::write(store.upload_path(&blob).unwrap(), b"x").unwrap();
        assert_eq!(
            store.blob(&blob).unwrap(),
            None,
            "a file whose hash is wrong is not served"
        );
        store
            .submit(job("b"), b"b", audit("job_submitted"))
            .unwrap();
        let blob = sha256_hex(b"b");
        assert_eq!(store.blob(&blob).unwrap().as_deref(), Some(&b"b"[..]));
        assert_eq!(store.blob("../../etc/passwd").unwrap(), None);
        let log = store.audit_log(Some("acc-1")).unwrap();
        assert_eq!(log.len(), 2, "one entry per new job: {log:?}");
    }

    #[test]
    fn received_uploads_leave_no_file_behind_unless_a_job_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SledStore::open_sealed(dir.path(), 1 << 20, Sealer::with_key(&[3; 32])).unwrap();
        let files = || -> usize {
            let mut count = 0;
            for entry in std::fs::read_dir(dir.path().join("uploads")).unwrap() {
                let path = entry.unwrap().path();
                count += if path.is_dir() {
                    std::fs::read_dir(path).unwrap().count()
                } else {
                    1
                };
            }
            count
        };
        let big: Vec<u8> = (0..200_000).map(|i| (i % 253) as u8).collect();
        let mut writer = store.receive_upload().unwrap();
        writer.write(&big).unwrap();
        assert_eq!(files(), 1, "received into a temporary file");
        drop(writer);
        assert_eq!(files(), 0, "a client gone: its file goes");
        let mut writer = store.receive_upload().unwrap();
        writer.write(&big).unwrap();
        drop(writer.finish().unwrap());
        assert_eq!(files(), 0, "refused after receiving: its file goes");

        let mut job = job("a");
        job.blob = sha256_hex(&big);
        let first = store.submit(job.clone(), &big, audit("s")).unwrap();
        assert!(matches!(first, Submitted::New(_)));
        assert_eq!(store.blob(&job.blob).unwrap(), Some(big.clone()));
        let again = store.submit(job.clone(), &big, audit("s")).unwrap();
        assert!(matches!(again, Submitted::Existing(_)));
        assert_eq!(files(), 1, "a resubmission leaves the one file");
        let mut writer = store.receive_upload().unwrap();
        writer.write(b"other bytes").unwrap();
        let other = writer.finish().unwrap();
        assert!(matches!(
            store.submit_received(job, other, audit("s")),
            Err(StoreError::BlobMismatch { .. })
        ));
        assert_eq!(files(), 1);
    }

    #[test]
    fn a_job_gets_exactly_one_verdict_and_sequence_numbers_grow() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.submit(job("a"), b"a", audit("s")).unwrap();
        store.submit(job("b"), b"b", audit("s")).unwrap();
        let first = store
            .finish(verdict("a"), Some(review("a")), vec![audit("verdict")])
            .unwrap();
        let twice = store
            .finish(verdict("a"), Some(review("a")), vec![audit("verdict")])
            .unwrap();
        assert_eq!(twice, first, "finishing twice is one verdict");
        let second = store.finish(verdict("b"), None, Vec::new()).unwrap();
        assert!(second > first);
        let queue = store.verdicts_from(0, 10).unwrap();
        let seqs: Vec<u64> = queue.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![first, second]);
        assert!(store.pending().unwrap().is_empty());
        let reviews = store.review_items().unwrap();
        assert_eq!(reviews.len(), 1);
        assert_eq!(
            reviews[0].seq, first,
            "the review item points at its verdict"
        );
        let log = store.audit_log(None).unwrap();
        assert_eq!(log.len(), 3, "two submissions and one verdict: {log:?}");
        assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
        assert!(matches!(
            store.finish(verdict("zzz"), None, Vec::new()),
            Err(StoreError::UnknownJob(_))
        ));
    }

    #[test]
    fn the_same_file_submitted_at_once_by_many_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(open(dir.path()));
        let bytes = vec![42u8; 200_000];
        let blob = sha256_hex(&bytes);
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let (store, bytes, blob) = (store.clone(), bytes.clone(), blob.clone());
                std::thread::spawn(move || {
                    let mut j = job(&format!("j{i}"));
                    j.blob = blob;
                    store.submit(j, &bytes, audit("job_submitted")).map(|_| ())
                })
            })
            .collect();
        for writer in writers {
            writer
                .join()
                .unwrap()
                .expect("every concurrent submission is stored");
        }
        assert_eq!(store.blob(&blob).unwrap().as_deref(), Some(&bytes[..]));
        assert_eq!(store.pending().unwrap().len(), 8);
    }

    #[test]
    fn consumer_offsets_and_accounts_move_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        assert_eq!(store.consumer_offset("c").unwrap(), 0);
        let account = Account {
            id: "acc-1".into(),
            ..Account::default()
        };
        store
            .save_accounts(
                std::slice::from_ref(&account),
                Some(("c", 7)),
                vec![audit("status")],
                Vec::new(),
            )
            .unwrap();
        store.flush().unwrap();
        assert_eq!(store.consumer_offset("c").unwrap(), 7);
        assert_eq!(store.account("acc-1").unwrap(), Some(account));
        assert_eq!(store.audit_log(Some("acc-1")).unwrap().len(), 1);
    }

    /// Flips one byte of the stored audit entry `seq` (the first of
    /// `needle`, or the middle) and walks the chain.
    fn tampered(sealer: Sealer, seq: u64, needle: &[u8]) -> AuditCheck {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_sealed(dir.path(), 1 << 20, sealer).unwrap();
        for id in ["a", "b", "c", "d"] {
            store
                .submit(job(id), id.as_bytes(), audit("job_submitted"))
                .unwrap();
        }
        let intact = store.verify_audit().unwrap();
        assert_eq!(
            intact,
            AuditCheck {
                entries: 4,
                broken: None
            }
        );
        let key = seq.to_be_bytes();
        let t = store.trees().unwrap();
        let mut raw = t.audit.get(key).unwrap().unwrap().to_vec();
        let at = raw
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap_or(raw.len() / 2);
        raw[at] ^= 0x01;
        t.audit.insert(key, raw).unwrap();
        store.verify_audit().unwrap()
    }

    #[test]
    fn one_flipped_byte_breaks_the_audit_chain_at_its_entry() {
        // A letter of the action, in a plain store: still valid JSON, so the
        // next entry's link catches it.
        let plain = tampered(Sealer::plain(), 2, b"submitted");
        assert_eq!(plain.broken.as_ref().map(|b| b.0), Some(3), "{plain:?}");
        assert_eq!(plain.entries, 2);
        // The last entry has no successor: the recorded head catches it.
        let last = tampered(Sealer::plain(), 4, b"submitted");
        assert_eq!(last.broken.as_ref().map(|b| b.0), Some(4), "{last:?}");
        // Sealed, the entry itself no longer opens.
        let sealed = tampered(Sealer::with_key(&[3; 32]), 2, b"no such bytes");
        assert_eq!(sealed.broken.as_ref().map(|b| b.0), Some(2), "{sealed:?}");
        assert!(sealed.broken.unwrap().1.contains("does not open"));
    }

    fn status_notice(status: AccountStatus) -> Notice {
        Notice {
            at: 3,
            account: "acc-1".into(),
            job: None,
            by: Actor::Pipeline,
            change: Change::Status {
                status,
                status_ru: status.label_ru().into(),
                previous: None,
                verdict_seq: None,
                items: Vec::new(),
            },
        }
    }

    #[test]
    fn every_verdict_and_status_change_has_one_outbox_event_readable_once_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let keys = {
            let store = open(dir.path());
            let mut head = store.outbox_head();
            store.submit(job("a"), b"a", audit("s")).unwrap();
            assert!(store.outbox_from(0, 10).unwrap().is_empty());
            let seq = store
                .finish(verdict("a"), Some(review("a")), Vec::new())
                .unwrap();
            store
                .finish(verdict("a"), Some(review("a")), Vec::new())
                .unwrap();
            assert!(head.has_changed().unwrap(), "the flush wakes the readers");
            assert_eq!(*head.borrow_and_update(), 1, "finishing twice is one event");
            // Committed but not flushed: not announced yet.
            let notice = status_notice(AccountStatus::InReview);
            store
                .save_accounts(&[], None, Vec::new(), vec![notice.clone()])
                .unwrap();
            assert_eq!(store.outbox_from(0, 10).unwrap().len(), 1);
            store.flush().unwrap();
            assert_eq!(*head.borrow_and_update(), 2);
            let reviewed = |_: Option<&ReviewItem>| {
                Ok(ReviewChange {
                    item: None,
                    verdict: Some(VerdictEntry {
                        by: Actor::Reviewer("r1".into()),
                        verdict: Verdict::Accepted,
                        ..verdict("a")
                    }),
                    audit: Vec::new(),
                })
            };
            let review_seq = store.change_review(&JobId("a".into()), &reviewed).unwrap();
            let events = store.outbox_from(0, 10).unwrap();
            let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
            assert_eq!(seqs, vec![1, 2, 3]);
            assert!(matches!(
                events[0].notice.change,
                Change::Verdict { verdict_seq, verdict: Verdict::NeedsReview, .. } if verdict_seq == seq
            ));
            assert_eq!(events[1].notice, notice);
            assert!(matches!(
                events[2].notice.change,
                Change::Verdict { verdict_seq, verdict: Verdict::Accepted, .. } if Some(verdict_seq) == review_seq
            ));
            assert_eq!(events[2].notice.by, Actor::Reviewer("r1".into()));
            assert_eq!(store.outbox_from(3, 10).unwrap().len(), 1);
            let keys: Vec<String> = events.into_iter().map(|e| e.idempotency_key).collect();
            assert!(keys[0].ends_with("-1") && keys[0] != keys[1], "{keys:?}");
            keys
        };
        // Reopened: the same events under the same keys, the head where it was.
        let store = open(dir.path());
        assert_eq!(*store.outbox_head().borrow(), 3);
        let again: Vec<String> = store
            .outbox_from(0, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.idempotency_key)
            .collect();
        assert_eq!(again, keys);
        // Another database never repeats these keys.
        let other = tempfile::tempdir().unwrap();
        let other = open(other.path());
        other.submit(job("a"), b"a", audit("s")).unwrap();
        other.finish(verdict("a"), None, Vec::new()).unwrap();
        assert_ne!(other.outbox_from(0, 1).unwrap()[0].idempotency_key, keys[0]);
    }

    /// The files under the store's uploads directory, by name.
    fn upload_files(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        for shard in std::fs::read_dir(dir.join("uploads")).unwrap() {
            for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                names.push(file.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        names
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// An upload's file put in place with no job committed for it.
    fn put_upload(store: &SledStore, bytes: &[u8]) {
        let mut writer = store.receive_upload().unwrap();
        writer.write(bytes).unwrap();
        store.keep_upload(writer.finish().unwrap()).unwrap();
    }

    #[test]
    fn files_no_job_needs_go_at_open_and_by_purge_but_not_while_written() {
        let dir = tempfile::tempdir().unwrap();
        let kept = sha256_hex(b"a");
        let orphan = sha256_hex(b"refused");
        {
            let store = open(dir.path());
            let mut a = job("a");
            a.blob = kept.clone();
            store.submit(a, b"a", audit("s")).unwrap();
            // A refused upload's file, and a dead writer's temporary file.
            put_upload(&store, b"refused");
            let path = store.upload_path(&orphan).unwrap();
            let temporary = path.with_file_name(format!("{orphan}.999999.0.tmp"));
            std::fs::write(&temporary, b"half").unwrap();
            // An older intake's modes.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let uploads = dir.path().join("uploads");
            std::fs::set_permissions(&uploads, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_eq!(upload_files(dir.path()).len(), 3);
        }
        let store = open(dir.path());
        assert_eq!(upload_files(dir.path()), vec![kept.clone()]);
        assert_eq!(store.blob(&kept).unwrap().as_deref(), Some(&b"a"[..]));
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&dir.path().join("uploads")), 0o700);
        assert_eq!(mode(&store.upload_path(&kept).unwrap()), 0o600);

        // Written and not committed yet: no sweep takes it.
        let writing = store.writing.start(&orphan);
        put_upload(&store, b"refused");
        assert_eq!(mode(&store.upload_path(&orphan).unwrap()), 0o600);
        assert_eq!(store.remove_orphans().unwrap(), 0);
        assert_eq!(
            store.purge_uploads(u64::MAX, 5).unwrap(),
            Vec::<JobId>::new()
        );
        drop(writing);
        assert_eq!(store.remove_orphans().unwrap(), 1);
        assert_eq!(upload_files(dir.path()), vec![kept]);
    }

    #[test]
    fn a_purge_leaves_a_file_that_an_upload_is_writing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.submit(job("a"), b"a", audit("s")).unwrap();
        store.finish(verdict("a"), None, Vec::new()).unwrap();
        let blob = job("a").blob;
        let writing = store.writing.start(&blob);
        assert!(store.purge_uploads(u64::MAX, 5).unwrap().is_empty());
        drop(writing);
        assert_eq!(store.purge_uploads(u64::MAX, 5).unwrap().len(), 1);
        assert!(upload_files(dir.path()).is_empty());
    }

    #[test]
    fn a_store_of_schema_3_is_upgraded_once_and_its_accounts_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::with_key(&[5; 32]);
        let account = Account {
            id: "ivanov-petr-1995".into(),
            ..Account::default()
        };
        {
            // Written as schema 3 wrote it: the account id as the key, and
            // `blobs` naming a file no job needs.
            let store = SledStore::open_sealed(dir.path(), 1 << 20, sealer.clone()).unwrap();
            store.submit(job("a"), b"a", audit("s")).unwrap();
            let key = account.id.as_bytes();
            let record = store.codec.encode("account", key, &account).unwrap();
            let t = store.trees().unwrap();
            t.accounts.insert(key, record).unwrap();
            t.blobs.insert(b"refused", &1u64.to_be_bytes()).unwrap();
            t.blobs.remove(job("a").blob.as_bytes()).unwrap();
            t.meta.insert(SCHEMA, &3u64.to_be_bytes()).unwrap();
            t.db.flush().unwrap();
        }
        let store = SledStore::open_sealed(dir.path(), 1 << 20, sealer.clone()).unwrap();
        assert_eq!(store.account(&account.id).unwrap(), Some(account.clone()));
        assert_eq!(store.accounts().unwrap(), vec![account.clone()]);
        let keys: Vec<sled::IVec> = store
            .trees()
            .unwrap()
            .accounts
            .iter()
            .keys()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            keys,
            vec![sled::IVec::from(&sealer.name_key(&account.id)[..])]
        );
        let blobs: Vec<sled::IVec> = store
            .trees()
            .unwrap()
            .blobs
            .iter()
            .keys()
            .map(Result::unwrap)
            .collect();
        assert_eq!(blobs, vec![sled::IVec::from(job("a").blob.as_bytes())]);
        assert_eq!(
            store
                .trees()
                .unwrap()
                .meta
                .get(SCHEMA)
                .unwrap()
                .map(|v| read_u64(&v)),
            Some(SCHEMA_VERSION)
        );
        drop(store);
        // Again: nothing left to move, the same account.
        let store = SledStore::open_sealed(dir.path(), 1 << 20, sealer).unwrap();
        assert_eq!(store.account(&account.id).unwrap(), Some(account));
    }

    #[test]
    fn rekeying_moves_the_accounts_to_the_new_keys_names() {
        let dir = tempfile::tempdir().unwrap();
        let old = Sealer::with_key(&[5; 32]);
        let new = Sealer::with_key(&[6; 32]);
        let account = Account {
            id: "acc-1".into(),
            ..Account::default()
        };
        {
            let store = SledStore::open_sealed(dir.path(), 1 << 20, old).unwrap();
            store
                .save_accounts(std::slice::from_ref(&account), None, Vec::new(), Vec::new())
                .unwrap();
            let mut visited = 0;
            assert_eq!(store.rekey(&new, &mut || visited += 1).unwrap(), 1);
            assert_eq!(visited, 1);
            assert_eq!(store.rekey(&new, &mut || {}).unwrap(), 0, "done once");
        }
        let store = SledStore::open_sealed(dir.path(), 1 << 20, new).unwrap();
        assert_eq!(store.account("acc-1").unwrap(), Some(account));
    }

    #[test]
    fn a_full_or_read_only_disk_is_an_outage_and_other_errors_are_not() {
        use std::io::{Error, ErrorKind};
        let io = |kind| StoreError::Sled(sled::Error::Io(Error::from(kind)));
        assert_eq!(
            io(ErrorKind::StorageFull).unavailable(),
            Some(Unavailable::Full)
        );
        assert_eq!(
            io(ErrorKind::QuotaExceeded).unavailable(),
            Some(Unavailable::Full)
        );
        // sled hands its first I/O error back later as a copy: the kind survives.
        let kept = sled::Error::Io(Error::from_raw_os_error(28)).clone();
        assert_eq!(
            StoreError::Sled(kept).unavailable(),
            Some(Unavailable::Full)
        );
        let read_only = StoreError::Upload {
            path: "x".into(),
            cause: Error::from(ErrorKind::ReadOnlyFilesystem),
        };
        assert_eq!(read_only.unavailable(), Some(Unavailable::ReadOnly));
        assert_eq!(io(ErrorKind::PermissionDenied).unavailable(), None);
        assert_eq!(
            StoreError::UnknownJob(JobId("a".into())).unavailable(),
            None
        );

        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        assert_eq!(store.outage(), None);
        store.outage.note(&io(ErrorKind::PermissionDenied));
        assert_eq!(store.outage(), None);
        store.outage.note(&read_only);
        store.outage.note(&io(ErrorKind::StorageFull));
        // The first cause is kept; the disk writes, so a probe ends it.
        assert_eq!(store.outage().map(|o| o.cause), Some(Unavailable::ReadOnly));
        let ended = store.recover().unwrap();
        assert_eq!(ended.map(|o| o.cause), Some(Unavailable::ReadOnly));
        assert_eq!(store.outage(), None);
        assert_eq!(store.recover().unwrap(), None);
    }

    #[test]
    fn it_all_survives_reopening_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            store.submit(job("a"), b"a", audit("s")).unwrap();
            store.submit(job("b"), b"b", audit("s")).unwrap();
            store.finish(verdict("a"), None, Vec::new()).unwrap();
        }
        {
            let store = open(dir.path());
            let a = store.job(&JobId("a".into())).unwrap().unwrap();
            assert_eq!(a.state, JobState::Done);
            assert_eq!(store.pending().unwrap().len(), 1);
            assert_eq!(store.verdicts_from(0, 10).unwrap().len(), 1);
            store
                .trees()
                .unwrap()
                .meta
                .insert(SCHEMA, &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            store.trees().unwrap().db.flush().unwrap();
        }
        match SledStore::open(dir.path(), 1 << 20) {
            Err(StoreError::NewerSchema { found }) => assert_eq!(found, SCHEMA_VERSION + 1),
            other => panic!("expected NewerSchema, got {:?}", other.map(|_| ())),
        }
    }
}
