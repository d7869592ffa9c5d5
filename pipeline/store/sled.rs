//! [`SledStore`]: the [`Store`] on sled 0.34, one database directory
//! whose trees hold the jobs, the verdict queue, accounts, the review
//! queue, the audit log and the outbox, each change one sled transaction.
//! Opening (and bringing an older layout up to date), the outage watch's
//! probe and reopen, and the transaction steps every write shares live here.

use super::chain::{append_audit, verify};
use super::codec::Codec;
use super::files::{private_dir, private_file, temporary_path, Writing};
use super::{
    AuditCheck, Outage, OutageWatch, ReceivedUpload, ReviewFn, Store, StoreError, Submitted,
    Unavailable, UploadWriter, SCHEMA_VERSION,
};
use crate::clock::system_ms;
use crate::digest::{is_sha256_hex, sha256_hex, to_hex};
use crate::store::crypto::{Sealer, CHUNK_BYTES};
use intake_models::{
    Account, AuditEntry, Change, Job, JobId, JobState, Notice, OutboxEvent, Reason, ReviewItem,
    VerdictEntry,
};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use tokio::sync::watch;

/// The sled-backed store.
pub struct SledStore {
    /// The database directory and its page cache, to reopen it.
    dir: PathBuf,
    cache_bytes: u64,
    /// sled's handles; `None` while they are being reopened after an outage.
    trees: RwLock<Option<Arc<Trees>>>,
    /// Set by the first error that says the disk is full or read-only.
    outage: Arc<OutageWatch>,
    pub(super) codec: Codec,
    /// Where the uploads' files live.
    pub(super) uploads: PathBuf,
    /// This database's random id: the prefix of idempotency keys, so that
    /// a new database never repeats an old one's keys.
    store_id: String,
    head: OutboxHead,
    pub(super) writing: Writing,
}

/// sled's database and its trees: replaced whole when the store is
/// reopened, since sled keeps its first I/O error (a full disk, say) for
/// good and answers every later call with it.
pub(super) struct Trees {
    pub(super) db: sled::Db,
    pub(super) blobs: sled::Tree,
    pub(super) jobs: sled::Tree,
    pub(super) verdicts: sled::Tree,
    pub(super) accounts: sled::Tree,
    pub(super) review: sled::Tree,
    pub(super) audit: sled::Tree,
    /// Schema version, counters and consumer offsets.
    pub(super) meta: sled::Tree,
    /// Events announcing verdicts and status changes, by seq.
    pub(super) outbox: sled::Tree,
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

/// The outbox events written and those flushed: only a flush publishes.
struct OutboxHead {
    written: AtomicU64,
    durable: watch::Sender<u64>,
}

const SCHEMA: &[u8] = b"schema_version";
const NEXT_SEQ: &[u8] = b"next_seq";
const NEXT_OUTBOX: &[u8] = b"next_outbox";
const STORE_ID: &[u8] = b"store_id";
/// When a store out of service was last probed for writes.
const PROBE: &[u8] = b"last_probe";

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
}

impl SledStore {
    /// sled's handles, unless they are being reopened.
    pub(super) fn trees(&self) -> Result<Arc<Trees>, StoreError> {
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

    pub(super) fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
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
    pub(super) fn upload_path(&self, sha256: &str) -> Option<PathBuf> {
        is_sha256_hex(sha256).then(|| self.uploads.join(&sha256[..2]).join(sha256))
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
    pub(super) fn keep_upload(&self, upload: ReceivedUpload) -> Result<(), StoreError> {
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

pub(super) fn read_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[8 - n..].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(buf)
}

/// The result of a transaction step; `E` is what aborts it.
pub(super) type Tx<T, E> = Result<T, ConflictableTransactionError<E>>;

pub(super) fn abort<E: From<StoreError>>(e: StoreError) -> ConflictableTransactionError<E> {
    ConflictableTransactionError::Abort(e.into())
}

/// Takes the counter at `key` (starting at 1) and moves it on.
pub(super) fn take_counter(
    meta: &TransactionalTree,
    key: &[u8],
) -> Result<u64, UnabortableTransactionError> {
    let n = meta.get(key)?.map_or(1, |v| read_u64(&v));
    meta.insert(key, &(n + 1).to_be_bytes())?;
    Ok(n)
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
pub(super) fn verdict_notice(entry: &VerdictEntry, verdict_seq: u64) -> Notice {
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

pub(super) fn finished<T, E: From<StoreError>>(
    result: Result<T, TransactionError<E>>,
) -> Result<T, E> {
    match result {
        Ok(value) => Ok(value),
        Err(TransactionError::Abort(e)) => Err(e),
        Err(TransactionError::Storage(e)) => Err(StoreError::from(e).into()),
    }
}

pub(super) fn all<T: serde::de::DeserializeOwned>(
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
        self.with(|t| Ok(super::pending_of(all(&self.codec, &t.jobs, "job")?)))
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

    fn change_review(&self, job: &JobId, change: &ReviewFn<'_>) -> Result<Option<u64>, StoreError> {
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
            let decided = change(current.as_ref())
                .map_err(|declined| abort(StoreError::Declined(declined)))?;
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
        let (seq, announced) = self.noted(finished(result))?;
        self.wrote_outbox(announced);
        self.noted(self.sync(&t))?;
        Ok(seq)
    }

    fn purge_uploads(&self, before_ms: u64, now: u64) -> Result<Vec<JobId>, StoreError> {
        self.with(|t| self.purge(t, before_ms, now))
    }

    fn remove_orphans(&self) -> Result<usize, StoreError> {
        let (_, orphans) = self.noted(self.sweep_uploads(false))?;
        Ok(orphans)
    }

    fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        self.with(|t| verify(&self.codec, &t.audit, &t.meta))
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
    use crate::store::fixtures::{audit, job, open, review, verdict};
    use crate::store::ReviewChange;
    use intake_models::{AccountStatus, Actor, Verdict};

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
