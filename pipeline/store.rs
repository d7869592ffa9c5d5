//! Durable storage: uploads, jobs, the verdict queue, consumer offsets,
//! accounts, the review queue and the audit log.
//!
//! The pipeline sees only the [`Store`] trait; [`SledStore`] implements it on
//! sled 0.34 (one database directory). The uploads themselves are files named
//! by their SHA-256 under `uploads/` in that directory, and the `blobs` tree
//! records their sizes: sled 0.34 keeps every large value it writes in
//! memory, whatever its cache capacity (measured: RSS grew by 0.9 MB per
//! 0.9 MB value, 290 MB after 320 values, against a plateau of 72 MB for
//! small values), which would make memory grow with the uploads taken in.
//! Each method is one atomic step, and
//! every promise to a client is made after a flush: a job exists once
//! `submit` returns, a verdict once `finish` or `change_review` returns.
//! Audit entries are written in the same transaction as the change they
//! record.

use crate::review::ReviewError;
use intake_models::{Account, AuditEntry, Job, JobId, JobState, ReviewItem, VerdictEntry};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The layout this code writes; a newer one is refused, not misread.
pub const SCHEMA_VERSION: u64 = 2;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} cannot be opened: {source}")]
    Open { path: String, source: sled::Error },
    #[error(
        "the store was written by a newer intake (schema {found}, this one knows {SCHEMA_VERSION}); upgrade intake"
    )]
    NewerSchema { found: u64 },
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("a stored record cannot be read ({what}): {source}")]
    Corrupt {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("job {0} is not in the store")]
    UnknownJob(JobId),
    #[error("upload file {path}: {source}")]
    Upload {
        path: String,
        source: std::io::Error,
    },
}

/// What `submit` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// A new job, stored.
    New(Job),
    /// The same account, kind and file were already submitted: that job.
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

/// Decides a [`ReviewChange`] from the item as stored; may run more than once.
pub type ReviewFn<'a> = dyn Fn(Option<&ReviewItem>) -> Result<ReviewChange, ReviewError> + 'a;

/// The pipeline's storage, small enough to put another backend behind.
/// Sequence numbers (`seq`) of verdicts, review items and audit entries are
/// assigned by the store.
pub trait Store: Send + Sync {
    /// Stores the upload's bytes under `job.blob` and the job record with its
    /// audit entry, durable before it returns; an existing job with the same
    /// id wins (and nothing is audited).
    fn submit(&self, job: Job, bytes: &[u8], audit: AuditEntry) -> Result<Submitted, StoreError>;
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
    /// The next queue position consumer `name` will read (0 for a new one).
    fn consumer_offset(&self, name: &str) -> Result<u64, StoreError>;
    fn account(&self, id: &str) -> Result<Option<Account>, StoreError>;
    fn accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Writes account projections, moves consumer `offset.0` to `offset.1`
    /// and writes `audit`, in one transaction; durable at the next [`flush`](Store::flush).
    fn save_accounts(
        &self,
        accounts: &[Account],
        offset: Option<(&str, u64)>,
        audit: Vec<AuditEntry>,
    ) -> Result<(), StoreError>;
    fn flush(&self) -> Result<(), StoreError>;
    fn review_items(&self) -> Result<Vec<ReviewItem>, StoreError>;
    /// Applies `change` to the review item of `job` atomically (the item,
    /// a reviewer verdict noted on the job, audit), flushed; returns the
    /// verdict's seq, if any.
    fn change_review(&self, job: &JobId, change: &ReviewFn<'_>)
        -> Result<Option<u64>, ReviewError>;
    /// The audit log, oldest first; only `account`'s entries if given.
    fn audit_log(&self, account: Option<&str>) -> Result<Vec<AuditEntry>, StoreError>;
}

/// The sled-backed store.
pub struct SledStore {
    db: sled::Db,
    /// Where the uploads' files live.
    uploads: PathBuf,
    blobs: sled::Tree,
    jobs: sled::Tree,
    verdicts: sled::Tree,
    accounts: sled::Tree,
    review: sled::Tree,
    audit: sled::Tree,
    /// Schema version, counters and consumer offsets.
    meta: sled::Tree,
}

const SCHEMA: &[u8] = b"schema_version";
const NEXT_SEQ: &[u8] = b"next_seq";
const NEXT_AUDIT: &[u8] = b"next_audit";

fn offset_key(consumer: &str) -> Vec<u8> {
    format!("offset/{consumer}").into_bytes()
}

impl SledStore {
    /// Opens (or creates) the store in `dir` with a page cache of
    /// `cache_bytes` (sled's default of 1 GB is far too much for a worker).
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|source| StoreError::Open {
                path: dir.display().to_string(),
                source,
            })?;
        let uploads = dir.join("uploads");
        std::fs::create_dir_all(&uploads).map_err(|source| StoreError::Upload {
            path: uploads.display().to_string(),
            source,
        })?;
        let store = SledStore {
            uploads,
            blobs: db.open_tree("blobs")?,
            jobs: db.open_tree("jobs")?,
            verdicts: db.open_tree("verdicts")?,
            accounts: db.open_tree("accounts")?,
            review: db.open_tree("review")?,
            audit: db.open_tree("audit")?,
            meta: db.open_tree("meta")?,
            db,
        };
        match store.meta.get(SCHEMA)? {
            Some(v) => {
                let found = read_u64(&v);
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema { found });
                }
            }
            None => {
                store.meta.insert(SCHEMA, &SCHEMA_VERSION.to_be_bytes())?;
                store.db.flush()?;
            }
        }
        Ok(store)
    }
}

impl SledStore {
    /// The file of the upload with this SHA-256 (hex); `None` for a name
    /// that is not a SHA-256, which never reaches the file system.
    fn upload_path(&self, sha256: &str) -> Option<PathBuf> {
        let is_hash = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        is_hash.then(|| self.uploads.join(&sha256[..2]).join(sha256))
    }

    /// Writes the upload's file durably (temporary file, fsync, rename,
    /// fsync of the directory) unless it is already there.
    fn write_upload(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let Some(path) = self.upload_path(sha256) else {
            return Err(StoreError::Upload {
                path: sha256.chars().take(80).collect(),
                source: std::io::Error::other("not a SHA-256"),
            });
        };
        let failed = |source| StoreError::Upload {
            path: path.display().to_string(),
            source,
        };
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.uploads);
        std::fs::create_dir_all(dir).map_err(failed)?;
        let temporary = dir.join(format!("{sha256}.{}.tmp", std::process::id()));
        let mut file = std::fs::File::create(&temporary).map_err(failed)?;
        file.write_all(bytes).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        std::fs::rename(&temporary, &path).map_err(failed)?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(failed)
    }
}

fn read_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[8 - n..].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(buf)
}

fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt { what, source })
}

fn encode<T: serde::Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|source| StoreError::Corrupt { what, source })
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
    audit: &TransactionalTree,
    meta: &TransactionalTree,
    entries: &[AuditEntry],
) -> Tx<(), E> {
    for entry in entries {
        let mut entry = entry.clone();
        entry.seq = take_counter(meta, NEXT_AUDIT)?;
        audit.insert(
            &entry.seq.to_be_bytes(),
            encode("audit", &entry).map_err(abort)?,
        )?;
    }
    Ok(())
}

/// Appends `entry` to the verdict queue under a new seq; returns it.
fn append_verdict<E: From<StoreError>>(
    verdicts: &TransactionalTree,
    meta: &TransactionalTree,
    entry: &VerdictEntry,
) -> Tx<u64, E> {
    let mut entry = entry.clone();
    entry.seq = take_counter(meta, NEXT_SEQ)?;
    verdicts.insert(
        &entry.seq.to_be_bytes(),
        encode("verdict", &entry).map_err(abort)?,
    )?;
    Ok(entry.seq)
}

fn finished<T, E: From<StoreError>>(result: Result<T, TransactionError<E>>) -> Result<T, E> {
    match result {
        Ok(value) => Ok(value),
        Err(TransactionError::Abort(e)) => Err(e),
        Err(TransactionError::Storage(e)) => Err(StoreError::from(e).into()),
    }
}

fn all<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    tree.iter()
        .map(|item| {
            let (_, value) = item?;
            decode(what, &value)
        })
        .collect()
}

impl Store for SledStore {
    fn submit(&self, job: Job, bytes: &[u8], audit: AuditEntry) -> Result<Submitted, StoreError> {
        // Content-addressed: the same bytes are one file whoever sends them.
        self.write_upload(&job.blob, bytes)?;
        self.blobs
            .insert(job.blob.as_bytes(), &(bytes.len() as u64).to_be_bytes())?;
        let key = job.id.0.as_bytes();
        let record = encode("job", &job)?;
        let result = (&self.jobs, &self.audit, &self.meta).transaction(|(jobs, log, meta)| {
            if let Some(existing) = jobs.get(key)? {
                return Ok(Some(existing));
            }
            jobs.insert(key, record.as_slice())?;
            append_audit::<StoreError>(log, meta, std::slice::from_ref(&audit))?;
            Ok(None)
        });
        let existing = finished(result)?;
        self.db.flush()?;
        match existing {
            None => Ok(Submitted::New(job)),
            Some(current) => Ok(Submitted::Existing(decode("job", &current)?)),
        }
    }

    fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.jobs
            .get(id.0.as_bytes())?
            .map(|v| decode("job", &v))
            .transpose()
    }

    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(path) = self.upload_path(sha256) else {
            return Ok(None);
        };
        match std::fs::read(&path) {
            // A damaged file is as good as a lost one.
            Ok(bytes) if crate::check::sha256_hex(&bytes) == sha256 => Ok(Some(bytes)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Upload {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    fn pending(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs: Vec<Job> = all(&self.jobs, "job")?;
        jobs.retain(|job| job.state == JobState::Pending);
        jobs.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        Ok(jobs)
    }

    fn finish(
        &self,
        entry: VerdictEntry,
        review: Option<ReviewItem>,
        audit: Vec<AuditEntry>,
    ) -> Result<u64, StoreError> {
        let key = entry.job.0.as_bytes();
        let trees = (
            &self.jobs,
            &self.verdicts,
            &self.review,
            &self.audit,
            &self.meta,
        );
        let result = trees.transaction(|(jobs, verdicts, queue, log, meta)| {
            // No side effects in here: sled may run this closure again.
            let Some(raw) = jobs.get(key)? else {
                return Err(abort(StoreError::UnknownJob(entry.job.clone())));
            };
            let mut job: Job = decode("job", &raw).map_err(abort)?;
            if let (JobState::Done, Some(seq)) = (job.state, job.verdict_seq) {
                return Ok(seq);
            }
            let seq = append_verdict::<StoreError>(verdicts, meta, &entry)?;
            job.state = JobState::Done;
            job.verdict_seq = Some(seq);
            jobs.insert(key, encode("job", &job).map_err(abort)?)?;
            if let Some(item) = &review {
                let item = ReviewItem {
                    seq,
                    ..item.clone()
                };
                queue.insert(key, encode("review", &item).map_err(abort)?)?;
            }
            append_audit(log, meta, &audit)?;
            Ok(seq)
        });
        let seq = finished(result)?;
        self.db.flush()?;
        Ok(seq)
    }

    fn verdicts_from(&self, from: u64, limit: usize) -> Result<Vec<VerdictEntry>, StoreError> {
        self.verdicts
            .range(from.to_be_bytes()..)
            .take(limit)
            .map(|item| {
                let (_, value) = item?;
                decode("verdict", &value)
            })
            .collect()
    }

    fn consumer_offset(&self, name: &str) -> Result<u64, StoreError> {
        Ok(self.meta.get(offset_key(name))?.map_or(0, |v| read_u64(&v)))
    }

    fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.accounts
            .get(id.as_bytes())?
            .map(|v| decode("account", &v))
            .transpose()
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        all(&self.accounts, "account")
    }

    fn save_accounts(
        &self,
        accounts: &[Account],
        offset: Option<(&str, u64)>,
        audit: Vec<AuditEntry>,
    ) -> Result<(), StoreError> {
        let records = accounts
            .iter()
            .map(|a| Ok((a.id.as_bytes(), encode("account", a)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let trees = (&self.accounts, &self.audit, &self.meta);
        let result = trees.transaction(|(stored, log, meta)| {
            for (key, record) in &records {
                stored.insert(*key, record.as_slice())?;
            }
            if let Some((name, next)) = offset {
                meta.insert(offset_key(name), &next.to_be_bytes())?;
            }
            append_audit::<StoreError>(log, meta, &audit)
        });
        finished(result)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn review_items(&self) -> Result<Vec<ReviewItem>, StoreError> {
        let mut items: Vec<ReviewItem> = all(&self.review, "review")?;
        items.sort_by_key(|item| item.seq);
        Ok(items)
    }

    fn change_review(
        &self,
        job: &JobId,
        change: &ReviewFn<'_>,
    ) -> Result<Option<u64>, ReviewError> {
        let key = job.0.as_bytes();
        let trees = (
            &self.review,
            &self.verdicts,
            &self.jobs,
            &self.audit,
            &self.meta,
        );
        let result = trees.transaction(|(queue, verdicts, jobs, log, meta)| {
            let current: Option<ReviewItem> = queue
                .get(key)?
                .map(|v| decode("review", &v))
                .transpose()
                .map_err(abort)?;
            let decided = change(current.as_ref()).map_err(ConflictableTransactionError::Abort)?;
            match &decided.item {
                Some(item) => queue.insert(key, encode("review", item).map_err(abort)?)?,
                None => queue.remove(key)?,
            };
            let seq = match &decided.verdict {
                Some(entry) => {
                    let seq = append_verdict(verdicts, meta, entry)?;
                    if let Some(raw) = jobs.get(key)? {
                        let mut record: Job = decode("job", &raw).map_err(abort)?;
                        record.review_seq = Some(seq);
                        jobs.insert(key, encode("job", &record).map_err(abort)?)?;
                    }
                    Some(seq)
                }
                None => None,
            };
            append_audit(log, meta, &decided.audit)?;
            Ok(seq)
        });
        let seq = finished(result)?;
        self.db.flush().map_err(StoreError::from)?;
        Ok(seq)
    }

    fn audit_log(&self, account: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        let mut entries: Vec<AuditEntry> = all(&self.audit, "audit")?;
        if let Some(account) = account {
            entries.retain(|e| e.account == account);
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use intake_models::{Actor, DocumentKind, Verdict};

    fn job(id: &str) -> Job {
        Job {
            id: JobId(id.into()),
            account: "acc-1".into(),
            kind: DocumentKind::Passport,
            profile: None,
            file_name: "scan.jpg".into(),
            blob: crate::check::sha256_hex(id.as_bytes()),
            received_at: 1,
            state: JobState::Pending,
            verdict_seq: None,
            review_seq: None,
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
        let first = store.submit(job("a"), b"x", audit("job_submitted"));
        assert!(matches!(first.unwrap(), Submitted::New(_)));
        let again = store.submit(job("a"), b"x", audit("job_submitted"));
        assert!(matches!(again.unwrap(), Submitted::Existing(_)));
        assert_eq!(store.pending().unwrap().len(), 1);
        let blob = crate::check::sha256_hex(b"a");
        assert_eq!(
            store.blob(&blob).unwrap(),
            None,
            "a file whose hash is wrong is not served"
        );
        store
            .submit(job("b"), b"b", audit("job_submitted"))
            .unwrap();
        let blob = crate::check::sha256_hex(b"b");
        assert_eq!(store.blob(&blob).unwrap().as_deref(), Some(&b"b"[..]));
        assert_eq!(store.blob("../../etc/passwd").unwrap(), None);
        let log = store.audit_log(Some("acc-1")).unwrap();
        assert_eq!(log.len(), 2, "one entry per new job: {log:?}");
    }

    #[test]
    fn a_job_gets_exactly_one_verdict_and_sequence_numbers_grow() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.submit(job("a"), b"x", audit("s")).unwrap();
        store.submit(job("b"), b"y", audit("s")).unwrap();
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
            )
            .unwrap();
        store.flush().unwrap();
        assert_eq!(store.consumer_offset("c").unwrap(), 7);
        assert_eq!(store.account("acc-1").unwrap(), Some(account));
        assert_eq!(store.audit_log(Some("acc-1")).unwrap().len(), 1);
    }

    #[test]
    fn it_all_survives_reopening_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            store.submit(job("a"), b"x", audit("s")).unwrap();
            store.submit(job("b"), b"y", audit("s")).unwrap();
            store.finish(verdict("a"), None, Vec::new()).unwrap();
        }
        {
            let store = open(dir.path());
            let a = store.job(&JobId("a".into())).unwrap().unwrap();
            assert_eq!(a.state, JobState::Done);
            assert_eq!(store.pending().unwrap().len(), 1);
            assert_eq!(store.verdicts_from(0, 10).unwrap().len(), 1);
            store
                .meta
                .insert(SCHEMA, &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            store.db.flush().unwrap();
        }
        match SledStore::open(dir.path(), 1 << 20) {
            Err(StoreError::NewerSchema { found }) => assert_eq!(found, SCHEMA_VERSION + 1),
            other => panic!("expected NewerSchema, got {:?}", other.map(|_| ())),
        }
    }
}
