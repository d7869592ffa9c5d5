//! Durable storage of uploads, jobs and the verdict queue.
//!
//! The pipeline sees only the [`Store`] trait; [`SledStore`] implements it on
//! sled 0.34 (one database directory). Every promise to a client is made
//! after a flush: a job exists once `submit` returns, a verdict once
//! `finish` returns.

use intake_models::{Job, JobId, JobState, VerdictEntry};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::path::Path;

/// The layout this code writes; a newer one is refused, not misread.
pub const SCHEMA_VERSION: u64 = 1;

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

/// The pipeline's storage, small enough to put another backend behind.
pub trait Store: Send + Sync {
    /// Stores the upload's bytes under `job.blob` and the job record, both
    /// durable before it returns; an existing job with the same id wins.
    fn submit(&self, job: Job, bytes: &[u8]) -> Result<Submitted, StoreError>;
    fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError>;
    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Jobs without a verdict, oldest first: the work to (re)do after a start.
    fn pending(&self) -> Result<Vec<Job>, StoreError>;
    /// Appends the verdict of a pending job and marks the job done, in one
    /// transaction, flushed before it returns. For a job already done it
    /// changes nothing and returns the existing entry's sequence number.
    fn finish(&self, entry: VerdictEntry) -> Result<u64, StoreError>;
    /// Verdict queue entries with `seq >= from`, at most `limit`.
    fn verdicts_from(&self, from: u64, limit: usize) -> Result<Vec<VerdictEntry>, StoreError>;
}

/// The sled-backed store.
pub struct SledStore {
    db: sled::Db,
    blobs: sled::Tree,
    jobs: sled::Tree,
    verdicts: sled::Tree,
    meta: sled::Tree,
}

const NEXT_SEQ: &[u8] = b"next_seq";
const SCHEMA: &[u8] = b"schema_version";

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
        let store = SledStore {
            blobs: db.open_tree("blobs")?,
            jobs: db.open_tree("jobs")?,
            verdicts: db.open_tree("verdicts")?,
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

impl Store for SledStore {
    fn submit(&self, job: Job, bytes: &[u8]) -> Result<Submitted, StoreError> {
        // Content-addressed: the same bytes are one blob whoever sends them.
        self.blobs.insert(job.blob.as_bytes(), bytes)?;
        let key = job.id.0.as_bytes();
        let created =
            self.jobs
                .compare_and_swap(key, None as Option<&[u8]>, Some(encode("job", &job)?))?;
        self.db.flush()?;
        match created {
            Ok(()) => Ok(Submitted::New(job)),
            Err(existing) => {
                let current = existing.current.ok_or(StoreError::UnknownJob(job.id))?;
                Ok(Submitted::Existing(decode("job", &current)?))
            }
        }
    }

    fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.jobs
            .get(id.0.as_bytes())?
            .map(|v| decode("job", &v))
            .transpose()
    }

    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.blobs.get(sha256.as_bytes())?.map(|v| v.to_vec()))
    }

    fn pending(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::new();
        for item in self.jobs.iter() {
            let (_, value) = item?;
            let job: Job = decode("job", &value)?;
            if job.state == JobState::Pending {
                jobs.push(job);
            }
        }
        jobs.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        Ok(jobs)
    }

    fn finish(&self, entry: VerdictEntry) -> Result<u64, StoreError> {
        let key = entry.job.0.clone();
        let result =
            (&self.jobs, &self.verdicts, &self.meta).transaction(|(jobs, verdicts, meta)| {
                // No side effects in here: sled may run this closure again.
                let Some(raw) = jobs.get(key.as_bytes())? else {
                    return Err(ConflictableTransactionError::Abort(StoreError::UnknownJob(
                        entry.job.clone(),
                    )));
                };
                let mut job: Job =
                    decode("job", &raw).map_err(ConflictableTransactionError::Abort)?;
                if let (JobState::Done, Some(seq)) = (job.state, job.verdict_seq) {
                    return Ok(seq);
                }
                let seq = meta.get(NEXT_SEQ)?.map_or(1, |v| read_u64(&v));
                let mut entry = entry.clone();
                entry.seq = seq;
                job.state = JobState::Done;
                job.verdict_seq = Some(seq);
                let abort = ConflictableTransactionError::Abort;
                verdicts.insert(
                    &seq.to_be_bytes(),
                    encode("verdict", &entry).map_err(abort)?,
                )?;
                jobs.insert(key.as_bytes(), encode("job", &job).map_err(abort)?)?;
                meta.insert(NEXT_SEQ, &(seq + 1).to_be_bytes())?;
                Ok(seq)
            });
        let seq = match result {
            Ok(seq) => seq,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        };
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
            blob: format!("blob-{id}"),
            received_at: 1,
            state: JobState::Pending,
            verdict_seq: None,
        }
    }

    fn verdict(id: &str) -> VerdictEntry {
        VerdictEntry {
            seq: 0,
            job: JobId(id.into()),
            account: "acc-1".into(),
            kind: DocumentKind::Passport,
            verdict: Verdict::Accepted,
            codes: Vec::new(),
            by: Actor::Pipeline,
            at: 2,
            report: None,
        }
    }

    #[test]
    fn a_resubmitted_upload_is_the_same_job() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        assert!(matches!(
            store.submit(job("a"), b"x").unwrap(),
            Submitted::New(_)
        ));
        assert!(matches!(
            store.submit(job("a"), b"x").unwrap(),
            Submitted::Existing(_)
        ));
        assert_eq!(store.pending().unwrap().len(), 1);
        assert_eq!(store.blob("blob-a").unwrap().as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn a_job_gets_exactly_one_verdict_and_sequence_numbers_grow() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        store.submit(job("a"), b"x").unwrap();
        store.submit(job("b"), b"y").unwrap();
        let first = store.finish(verdict("a")).unwrap();
        assert_eq!(
            store.finish(verdict("a")).unwrap(),
            first,
            "finishing twice is one verdict"
        );
        let second = store.finish(verdict("b")).unwrap();
        assert!(second > first);
        let queue = store.verdicts_from(0, 10).unwrap();
        assert_eq!(
            queue.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![first, second]
        );
        assert!(store.pending().unwrap().is_empty());
        assert!(matches!(
            store.finish(verdict("zzz")),
            Err(StoreError::UnknownJob(_))
        ));
    }

    #[test]
    fn it_all_survives_reopening_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), 1 << 20).unwrap();
            store.submit(job("a"), b"x").unwrap();
            store.submit(job("b"), b"y").unwrap();
            store.finish(verdict("a")).unwrap();
        }
        {
            let store = SledStore::open(dir.path(), 1 << 20).unwrap();
            assert_eq!(
                store.job(&JobId("a".into())).unwrap().unwrap().state,
                JobState::Done
            );
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
