//! [`JetStreamStore`]: the [`Store`] on NATS JetStream (server 2.9), for
//! several processes on one set of streams. Records are sealed with the
//! store key before they leave the process, as with sled.
//!
//! What holds what (every name under `jetstream.prefix`, `P` below):
//! - jobs: KV bucket `P_jobs`, one key per job (its id, see `nats::token`);
//! - uploads: object store `P_uploads`, one object per SHA-256, holding the
//!   sealed file exactly as sled's backend keeps it on disk;
//! - the verdict queue: stream `P_verdicts`, a verdict's seq being its
//!   stream sequence; a pipeline verdict on `P.verdicts.pipeline.JOB`, a
//!   reviewer's on `P.verdicts.review.JOB.REV`;
//! - the audit log: stream `P_audit`, entry n at sequence n, each append
//!   made with `Nats-Expected-Last-Sequence` so the hash chain stays one
//!   line with any number of writers;
//! - the outbox: stream `P_outbox`;
//! - review items: KV bucket `P_review`; accounts: `P_accounts`, keyed by
//!   the hex of [`Sealer::name_key`] of their id; consumer offsets and the
//!   store's id: `P_meta`.
//!
//! JetStream 2.9 has no transaction over several keys or streams, so each
//! sled transaction becomes a sequence of steps that are each idempotent,
//! ending with one revision-checked write, the commit point:
//! - `submit`: the upload, the audit entry, then the job key `create`d
//!   (refused if present: [`Submitted::Existing`]);
//! - `finish`: the verdict (looked up on its subject first, published with
//!   `Nats-Msg-Id` = that subject), the review item (written only if its
//!   key never was, so a redo cannot requeue a decided item), the audit
//!   entries and outbox event (message ids), then the job key written with
//!   the revision it was read at. A crash before that last write leaves
//!   the job pending; the pipeline finishes it again after a restart and
//!   every step finds its earlier result, so the job still has one verdict.
//! - `change_review`: the decision is written into the review record with
//!   the revision it was read at (one of two concurrent deciders wins, the
//!   other's `ReviewFn` runs again on the new record), as a *pending*
//!   decision; its verdict, the job's note, audit and outbox event follow,
//!   then the pending mark is cleared. Whoever reads a record with a
//!   pending decision (`review_items`, `change_review`) carries it out
//!   first, so a crash between the steps delays them, never loses them.
//!
//! Promises kept differently from sled's:
//! - durable means acknowledged by the server: nats-server writes each
//!   message to its files before acking, but fsyncs them on its own
//!   schedule (`sync_interval`, two minutes by default), so a power loss of
//!   a single server may take back recent acks; a kill of the server does
//!   not. Run replicas (`jetstream.replicas = 3`) where that matters.
//!   `flush` has nothing left to do.
//! - several writers: `save_accounts` writes accounts without a revision
//!   check (the account projection is to have a single writer, through a
//!   lease: not yet), and its steps are not one transaction: the consumer
//!   offset is written last, so a crash replays the verdicts into the same
//!   projection; audit entries and outbox events of a replay within the
//!   duplicate window are dropped by their message ids, later ones repeat.
//! - a verdict's and an outbox event's seal is bound to its subject or
//!   message id, not to its sequence number (the server gives that only
//!   once the message is stored); audit entries are bound to their seq.
//! - `purge_uploads` and `remove_orphans`: sled's backend keeps a file
//!   from sweeps with its `blobs` tree and an in-process guard; here a
//!   submit of the same file may be in flight in another process, and an
//!   object cannot be deleted on a condition. So a submit looks at its
//!   object again after creating its job and puts it back if it is gone,
//!   and a sweep copies each object into the spool before deleting it,
//!   then reads the jobs again and puts back any object a job created
//!   meanwhile needs (a purge then leaves that file's jobs unmarked, as
//!   sled's does). A job created before that re-read is seen by it; one
//!   created after has its submit's second look after the delete: either
//!   way the object is there. The orphan sweep also leaves objects younger
//!   than `ORPHAN_GRACE`, as a submit puts its object before its job.
//!   A purge audits a job (message id `purge.JOB`) before marking it at
//!   the revision read, so a crash between is redone by the next purge.
//!   Not covered: a sweep killed between a delete and its re-read while a
//!   submit of that very file races it (the copy dies with its spool):
//!   that job finds no upload and gets a failed verdict.
//! - uploads being received are spooled under `store.path/spool/<pid>`
//!   (a dead process's directory is removed at the next open), then put
//!   in the object store whole by `submit_received`.
//!
//! The trait is synchronous and async-nats is not: the store owns a tokio
//! runtime with one worker thread, which runs the client's connection, and
//! each call blocks on its future. A caller inside another tokio runtime
//! (where `block_on` would panic) has the future run on a scoped thread of
//! its own instead; the API's handlers call the store from
//! `spawn_blocking` anyway.

mod nats;
pub mod server;
mod work;

use self::nats::{
    current, failed, last_on, last_seq, message_at, publish, token, untoken, Names, Published,
};
use super::chain::{ChainWalk, GENESIS};
use super::codec::Codec;
use super::retention::{decided_before, expired_uploads, needed_uploads};
use super::sled::verdict_notice;
use super::{
    AuditCheck, Outage, OutageWatch, ReceivedUpload, ReviewFn, Store, StoreError, Submitted,
    UploadWriter, WorkQueue,
};
use crate::clock::system_ms;
use crate::digest::{is_sha256_hex, sha256_hex, to_hex};
use crate::store::crypto::Sealer;
use async_nats::jetstream::kv::{self, CreateErrorKind, UpdateErrorKind};
use async_nats::jetstream::object_store::ObjectStore;
use async_nats::jetstream::stream::Stream;
use async_nats::jetstream::Context;
use bytes::Bytes;
use intake_models::config::JetStreamConfig;
use intake_models::{
    Account, AuditEntry, Job, JobId, JobState, Notice, OutboxEvent, ReviewItem, VerdictEntry,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// The store on a JetStream server.
pub struct JetStreamStore {
    /// `None` only while dropping (see `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    js: Context,
    names: Names,
    jobs: kv::Store,
    review: kv::Store,
    accounts: kv::Store,
    meta: kv::Store,
    verdicts: Stream,
    audit: Stream,
    outbox: Stream,
    uploads: ObjectStore,
    codec: Codec,
    /// Where uploads are received before they go to the object store.
    spool: PathBuf,
    /// The prefix of outbox idempotency keys, kept in `P_meta`.
    store_id: String,
    head: Arc<watch::Sender<u64>>,
    /// The audit log's last (seq, hash) as this process last saw it:
    /// spares two requests per append while it is still the last.
    audit_head: Mutex<Option<(u64, String)>>,
    outage: Arc<OutageWatch>,
    /// The work queue and its consumer (see `work`).
    work: Stream,
    workers: async_nats::jetstream::consumer::PullConsumer,
    /// This process's name as a holder of duties, and the keys of the
    /// duties it has taken (given up when the store is dropped).
    instance: String,
    duties: Mutex<HashSet<String>>,
    duty_ttl: Duration,
}

/// A review item as the `P_review` bucket holds it: the item, and the
/// decision that made it so while that decision's other writes are not
/// all done.
#[derive(Serialize, Deserialize)]
struct ReviewRecord {
    item: Option<ReviewItem>,
    pending: Option<Decision>,
}

#[derive(Serialize, Deserialize)]
struct Decision {
    verdict: Option<VerdictEntry>,
    audit: Vec<AuditEntry>,
}

const STORE_ID: &str = "store_id";
/// How often the outbox head is read for events other processes wrote.
const HEAD_POLL: Duration = Duration::from_millis(500);

impl JetStreamStore {
    /// Opens the store of `config` (`[store]` for the key and the spool
    /// directory's parent, `[jetstream]` for the server and names).
    pub fn open(config: &intake_models::Config) -> Result<JetStreamStore, StoreError> {
        let sealer = Sealer::from_config(&config.store)?;
        JetStreamStore::connect(&config.jetstream, sealer, &config.store.path.join("spool"))
    }

    /// Connects to the server of `cfg`, creating the streams and buckets
    /// that are missing, sealing records with `sealer`; uploads being
    /// received are spooled under `spool`.
    pub fn connect(
        cfg: &JetStreamConfig,
        sealer: Sealer,
        spool: &Path,
    ) -> Result<JetStreamStore, StoreError> {
        let names = Names::new(&cfg.prefix, cfg.replicas)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("intake-nats")
            .enable_all()
            .build()
            .map_err(failed("starting the client's runtime"))?;
        let handle = runtime.handle().clone();
        let spool = spool_dir(spool)?;
        let url = cfg.url.clone();
        let opened = run_on(&handle, async {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(5))
                .connect(url.as_str())
                .await
                .map_err(|e| StoreError::Connect {
                    url: url.clone(),
                    cause: e.to_string(),
                })?;
            let js = async_nats::jetstream::new(client);
            let subjects = |s: String| vec![s];
            let verdicts = format!("{}.verdicts.>", names.prefix);
            Ok::<_, StoreError>((
                nats::bucket(&js, &names, "jobs").await?,
                nats::bucket(&js, &names, "review").await?,
                nats::bucket(&js, &names, "accounts").await?,
                nats::bucket(&js, &names, "meta").await?,
                nats::stream(&js, &names, "verdicts", subjects(verdicts)).await?,
                nats::stream(&js, &names, "audit", subjects(names.audit_subject())).await?,
                nats::stream(&js, &names, "outbox", subjects(names.outbox_subject())).await?,
                nats::objects(&js, &names).await?,
                work::work_queue(&js, &names, Duration::from_secs(cfg.ack_wait_s.max(1))).await?,
                js,
            ))
        })?;
        let (jobs, review, accounts, meta, verdicts, audit, outbox, uploads, (work, workers), js) =
            opened;
        let store_id = run_on(&handle, async {
            let fresh = to_hex(&rand::random::<[u8; 8]>());
            match meta.create(STORE_ID, Bytes::from(fresh.clone())).await {
                Ok(_) => Ok(fresh),
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                    let (id, _) = current(&meta, STORE_ID).await?;
                    Ok(String::from_utf8_lossy(&id.unwrap_or_default()).into_owned())
                }
                Err(e) => Err(failed("creating the store id")(e)),
            }
        })?;
        let last = run_on(&handle, last_seq(&outbox))?;
        let head = Arc::new(watch::Sender::new(last));
        // Events other processes append wake this process's readers too.
        let (weak, stream) = (Arc::downgrade(&head), outbox.clone());
        handle.spawn(async move {
            loop {
                tokio::time::sleep(HEAD_POLL).await;
                let Some(head) = weak.upgrade() else { break };
                if let Ok(last) = last_seq(&stream).await {
                    advance(&head, last);
                }
            }
        });
        Ok(JetStreamStore {
            runtime: Some(runtime),
            handle,
            js,
            names,
            jobs,
            review,
            accounts,
            meta,
            verdicts,
            audit,
            outbox,
            uploads,
            codec: Codec { sealer },
            spool,
            store_id,
            head,
            audit_head: Mutex::new(None),
            outage: Arc::default(),
            work,
            workers,
            instance: format!(
                "{}-{}",
                std::process::id(),
                to_hex(&rand::random::<[u8; 4]>())
            ),
            duties: Mutex::default(),
            duty_ttl: Duration::from_secs(cfg.duty_ttl_s.max(1)),
        })
    }

    /// Runs `work` to its end on the store's runtime (see the module's doc).
    fn run<T: Send>(
        &self,
        work: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        let result = run_on(&self.handle, work);
        if let Err(e) = &result {
            self.outage.note(e);
        }
        result
    }

    /// The job under `key` and its revision (0 when there is none).
    async fn job_entry(&self, key: &str, id: &JobId) -> Result<(Option<Job>, u64), StoreError> {
        let (value, rev) = current(&self.jobs, key).await?;
        let job = value
            .map(|v| self.codec.decode("job", id.0.as_bytes(), &v))
            .transpose()?;
        Ok((job, rev))
    }

    /// Changes the job under `key` with `change`, retrying on another
    /// writer's revision; `change` returns false to leave it as it is.
    async fn update_job(
        &self,
        key: &str,
        id: &JobId,
        change: impl Fn(&mut Job) -> bool,
    ) -> Result<Option<Job>, StoreError> {
        loop {
            let (Some(mut job), rev) = self.job_entry(key, id).await? else {
                return Ok(None);
            };
            if !change(&mut job) {
                return Ok(Some(job));
            }
            let record = self.codec.encode("job", id.0.as_bytes(), &job)?;
            match self.jobs.update(key, Bytes::from(record), rev).await {
                Ok(_) => return Ok(Some(job)),
                Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(failed("writing a job")(e)),
            }
        }
    }

    /// The verdict on `subject`, published now unless an earlier try did:
    /// its seq. The subject is also the message id, so two writers racing
    /// here get the same message.
    async fn verdict_once(&self, subject: String, entry: &VerdictEntry) -> Result<u64, StoreError> {
        if let Some(found) = last_on(&self.verdicts, &subject).await? {
            return Ok(found.sequence);
        }
        let record = self.codec.encode("verdict", subject.as_bytes(), entry)?;
        let id = subject.clone();
        match publish(&self.js, subject, record, Some(&id), None).await? {
            Published::Acked(ack) => Ok(ack.sequence),
            Published::Raced => Err(StoreError::JetStream {
                what: "publishing a verdict",
                cause: "refused for a sequence it did not expect".into(),
            }),
        }
    }

    /// The audit log's last seq and the hash of its entry.
    async fn read_audit_head(&self) -> Result<(u64, String), StoreError> {
        let cached = self
            .audit_head
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(head) = cached {
            return Ok(head);
        }
        let last = last_seq(&self.audit).await?;
        if last == 0 {
            return Ok((0, GENESIS.to_string()));
        }
        let Some(message) = message_at(&self.audit, last).await? else {
            return Err(StoreError::JetStream {
                what: "reading the audit log",
                cause: format!("its last entry {last} is missing"),
            });
        };
        let plain = self
            .codec
            .open("audit", &last.to_be_bytes(), &message.payload)?;
        Ok((last, sha256_hex(&plain)))
    }

    fn set_audit_head(&self, head: Option<(u64, String)>) {
        *self
            .audit_head
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = head;
    }

    /// Appends `entries` to the audit chain, each linked to the entry
    /// before it: published only if the stream's last sequence is still
    /// the one the link was made from, else made again from the new head.
    /// With `tag`, entry i carries the message id `tag.i`, so a retried
    /// step within the duplicate window adds nothing.
    async fn append_audit(
        &self,
        entries: &[AuditEntry],
        tag: Option<&str>,
    ) -> Result<(), StoreError> {
        for (i, entry) in entries.iter().enumerate() {
            let id = tag.map(|tag| format!("{tag}.{i}"));
            loop {
                let (last, prev_hash) = self.read_audit_head().await?;
                let mut entry = entry.clone();
                entry.seq = last + 1;
                entry.prev_hash = prev_hash;
                let plain = serde_json::to_vec(&entry).map_err(|cause| StoreError::Corrupt {
                    what: "audit",
                    cause,
                })?;
                let sealed = self.codec.seal("audit", &entry.seq.to_be_bytes(), &plain);
                let subject = self.names.audit_subject();
                match publish(&self.js, subject, sealed, id.as_deref(), Some(last)).await? {
                    Published::Acked(ack) if !ack.duplicate && ack.sequence == entry.seq => {
                        self.set_audit_head(Some((entry.seq, sha256_hex(&plain))));
                        break;
                    }
                    // Written before (a retried step): the head is elsewhere.
                    Published::Acked(_) => {
                        self.set_audit_head(None);
                        break;
                    }
                    Published::Raced => self.set_audit_head(None),
                }
            }
        }
        Ok(())
    }

    /// Publishes an outbox event per notice; event i carries the message
    /// id `tag.i` when tagged.
    async fn append_outbox(&self, notices: &[Notice], tag: Option<&str>) -> Result<(), StoreError> {
        for (i, notice) in notices.iter().enumerate() {
            let id = match tag {
                Some(tag) => format!("{tag}.{i}"),
                None => to_hex(&rand::random::<[u8; 16]>()),
            };
            let record = self.codec.encode("outbox", id.as_bytes(), notice)?;
            let subject = self.names.outbox_subject();
            if let Published::Acked(ack) =
                publish(&self.js, subject, record, Some(&id), None).await?
            {
                advance(&self.head, ack.sequence);
            }
        }
        Ok(())
    }

    /// Carries out the decision pending in the review record of `key`
    /// written at `rev`: the reviewer verdict, the job's note of it, the
    /// outbox event, the audit entries, then the record without it (or no
    /// record, when the item left the queue). Every step finds what an
    /// earlier try did. Returns the verdict's seq, if any.
    async fn carry_out(
        &self,
        key: &str,
        job: &JobId,
        rev: u64,
        record: ReviewRecord,
    ) -> Result<Option<u64>, StoreError> {
        let Some(decision) = record.pending else {
            return Ok(None);
        };
        let tag = format!("review.{key}.{rev}");
        let seq = match &decision.verdict {
            Some(entry) => {
                let seq = self
                    .verdict_once(self.names.review_verdict(key, rev), entry)
                    .await?;
                self.update_job(key, job, |j| {
                    let changed = j.review_seq != Some(seq);
                    j.review_seq = Some(seq);
                    changed
                })
                .await?;
                let notice = verdict_notice(entry, seq);
                self.append_outbox(&[notice], Some(&format!("verdict.{seq}")))
                    .await?;
                Some(seq)
            }
            None => None,
        };
        self.append_audit(&decision.audit, Some(&tag)).await?;
        let settled = match record.item {
            Some(item) => {
                let settled = ReviewRecord {
                    item: Some(item),
                    pending: None,
                };
                let bytes = self.codec.encode("review", job.0.as_bytes(), &settled)?;
                let written = self.review.update(key, Bytes::from(bytes), rev).await;
                written.map(|_| ()).map_err(|e| e.to_string())
            }
            None => {
                let deleted = self.review.delete_expect_revision(key, Some(rev)).await;
                deleted.map_err(|e| e.to_string())
            }
        };
        if let Err(cause) = settled {
            // Refused because someone else carried it out and moved the
            // record on: as good. Any other failure is one.
            let (_, now) = current(&self.review, key).await?;
            if now == rev {
                return Err(StoreError::JetStream {
                    what: "settling a review decision",
                    cause,
                });
            }
        }
        Ok(seq)
    }

    /// The review record of `key` (after carrying out a pending decision)
    /// and the revision it was read at.
    async fn review_record(
        &self,
        key: &str,
        job: &JobId,
    ) -> Result<(Option<ReviewRecord>, u64), StoreError> {
        loop {
            let (value, rev) = current(&self.review, key).await?;
            let Some(value) = value else {
                return Ok((None, rev));
            };
            let record: ReviewRecord = self.codec.decode("review", job.0.as_bytes(), &value)?;
            if record.pending.is_none() {
                return Ok((Some(record), rev));
            }
            self.carry_out(key, job, rev, record).await?;
        }
    }
}

/// Moves the outbox head on to `last` if that is further.
fn advance(head: &watch::Sender<u64>, last: u64) {
    head.send_if_modified(|durable| {
        let newer = last > *durable;
        if newer {
            *durable = last;
        }
        newer
    });
}

/// Blocks on `work` on the store's runtime: on this thread, or on a scoped
/// one when this thread is inside a tokio runtime already.
fn run_on<T: Send>(handle: &tokio::runtime::Handle, work: impl Future<Output = T> + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return handle.block_on(work);
    }
    std::thread::scope(|scope| match scope.spawn(|| handle.block_on(work)).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// This process's spool directory under `root` (the owner's only), after
/// removing those of processes no longer running: a dead writer's files.
fn spool_dir(root: &Path) -> Result<PathBuf, StoreError> {
    let failed = |path: &Path, cause| StoreError::Upload {
        path: path.display().to_string(),
        cause,
    };
    super::files::private_dir(root).map_err(|e| failed(root, e))?;
    let entries = std::fs::read_dir(root).map_err(|e| failed(root, e))?;
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().parse::<i32>().ok();
        // kill(pid, 0) fails with ESRCH once the process is gone.
        let gone = pid.is_some_and(|pid| {
            pid > 0
                && unsafe { libc::kill(pid, 0) } != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        });
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let mine = root.join(std::process::id().to_string());
    super::files::private_dir(&mine).map_err(|e| failed(&mine, e))?;
    Ok(mine)
}

impl Drop for JetStreamStore {
    fn drop(&mut self) {
        // Bounded: a server that is gone cannot be told, and need not be.
        let release = async {
            let _ = tokio::time::timeout(Duration::from_secs(2), self.release_duties()).await;
        };
        run_on(&self.handle, release);
        // Dropping a runtime blocks, which panics inside another runtime:
        // let its thread wind down on its own instead.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// How old an object must be for the orphan sweep to take it: a submit
/// puts its object a few requests before it creates its job.
const ORPHAN_GRACE: Duration = Duration::from_secs(5 * 60);

/// An object a sweep deleted, its copy kept until the jobs are read again.
struct Removed {
    blob: String,
    copy: tempfile::NamedTempFile,
}

/// Putting uploads, purging them and removing orphans (see the module's doc).
impl JetStreamStore {
    /// Every job in the store.
    async fn all_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::new();
        for (key, value) in nats::values(&self.jobs).await? {
            jobs.push(self.codec.decode("job", &untoken(&key), &value)?);
        }
        Ok(jobs)
    }

    /// Puts a received upload in the object store under its SHA-256,
    /// unless it is there (content-addressed: the same bytes are one
    /// object whoever sends them).
    async fn put_upload(&self, upload: &ReceivedUpload) -> Result<(), StoreError> {
        self.put_file_unless_there(&upload.sha256, upload.temporary.path())
            .await
    }

    /// Puts the file at `path` as object `name`, unless it is there.
    async fn put_file_unless_there(&self, name: &str, path: &Path) -> Result<(), StoreError> {
        if nats::object_there(&self.uploads, name).await? {
            return Ok(());
        }
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|cause| StoreError::Upload {
                path: path.display().to_string(),
                cause,
            })?;
        self.uploads
            .put(name, &mut file)
            .await
            .map_err(failed("storing an upload"))?;
        Ok(())
    }

    /// The end of a submit, its object put: the audit entry, the job
    /// created, then one more look at the object (see the module's doc).
    async fn create_job(
        &self,
        key: &str,
        job: &Job,
        upload: &ReceivedUpload,
        audit: &AuditEntry,
    ) -> Result<Submitted, StoreError> {
        let tag = format!("submit.{key}");
        self.append_audit(std::slice::from_ref(audit), Some(&tag))
            .await?;
        let record = self.codec.encode("job", job.id.0.as_bytes(), job)?;
        match self.jobs.create(key, Bytes::from(record)).await {
            Ok(_) => {
                // A sweep may have deleted the object since the first look;
                // one deleting after this look sees the job when it re-reads.
                self.put_upload(upload).await?;
                Ok(Submitted::New(job.clone()))
            }
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                match self.job_entry(key, &job.id).await? {
                    (Some(existing), _) => Ok(Submitted::Existing(existing)),
                    (None, _) => Err(StoreError::UnknownJob(job.id.clone())),
                }
            }
            Err(e) => Err(failed("creating a job")(e)),
        }
    }

    /// An upload's object put in place with no job naming it, as a submit
    /// refused after its put leaves it.
    #[cfg(test)]
    pub(in crate::store) fn keep_upload(&self, upload: ReceivedUpload) -> Result<(), StoreError> {
        self.run(self.put_upload(&upload))
    }

    /// Removes the objects no job needs that are older than `grace`.
    pub(in crate::store) fn sweep_orphans(&self, grace: Duration) -> Result<usize, StoreError> {
        let grace = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        let cutoff = system_ms().saturating_sub(grace);
        self.run(async {
            // Objects first: the job of a listed object is in the read
            // below, or created later and seen by the re-read or by its
            // submit's second look.
            let objects = nats::objects_listed(&self.uploads).await?;
            let jobs = self.all_jobs().await?;
            let needed = needed_uploads(&jobs);
            let orphans: Vec<String> = objects
                .into_iter()
                .filter(|(name, modified)| {
                    is_sha256_hex(name)
                        && !needed.contains(name.as_str())
                        && modified.is_some_and(|at| at <= cutoff)
                })
                .map(|(name, _)| name)
                .collect();
            self.remove_orphans_of(&orphans).await
        })
    }

    /// Removes `orphans`, found so by a read of the jobs: those a job
    /// created since needs are put back. Returns how many went.
    async fn remove_orphans_of(&self, orphans: &[String]) -> Result<usize, StoreError> {
        let needs = |jobs: &[Job]| -> HashSet<String> {
            needed_uploads(jobs).into_iter().map(String::from).collect()
        };
        Ok(self.remove_unless_needed(orphans, needs).await?.0)
    }

    /// Deletes the objects of `expired` (the retention rule's choice from
    /// a read of the jobs), then marks their jobs, except where a job
    /// created since keeps the file. Returns the jobs marked.
    async fn purge_expired(
        &self,
        expired: BTreeMap<String, Vec<Job>>,
        before_ms: u64,
        now: u64,
    ) -> Result<Vec<JobId>, StoreError> {
        let blobs: Vec<String> = expired.keys().cloned().collect();
        let newer = |jobs: &[Job]| -> HashSet<String> {
            let newer = jobs.iter().filter(|j| !decided_before(j, before_ms));
            newer.map(|j| j.blob.clone()).collect()
        };
        let (_, kept) = self.remove_unless_needed(&blobs, newer).await?;
        let mut purged = Vec::new();
        for (blob, jobs) in expired {
            if kept.contains(&blob) {
                continue;
            }
            for job in jobs.iter().filter(|j| j.purged_at.is_none()) {
                if self.mark_purged(job, now).await? {
                    purged.push(job.id.clone());
                }
            }
        }
        Ok(purged)
    }

    /// Audits the purge of `job`'s upload, then marks the job; whether this
    /// call marked it (another purge may have come first).
    async fn mark_purged(&self, job: &Job, now: u64) -> Result<bool, StoreError> {
        let key = token(&job.id.0);
        let entry = AuditEntry::upload_purged(job, now);
        self.append_audit(&[entry], Some(&format!("purge.{key}")))
            .await?;
        let marked = AtomicBool::new(false);
        self.update_job(&key, &job.id, |j| {
            let unmarked = j.purged_at.is_none();
            marked.store(unmarked, Ordering::Relaxed);
            if unmarked {
                j.purged_at = Some(now);
            }
            unmarked
        })
        .await?;
        Ok(marked.load(Ordering::Relaxed))
    }

    /// Deletes the objects of `blobs`, each copied into the spool first,
    /// then reads the jobs again and puts back those `needs` names (jobs
    /// created since the caller read them). Returns how many stay deleted
    /// and what `needs` named. On a failure the copies still go back as
    /// needed, or all of them when the jobs cannot be read.
    async fn remove_unless_needed(
        &self,
        blobs: &[String],
        needs: impl Fn(&[Job]) -> HashSet<String>,
    ) -> Result<(usize, HashSet<String>), StoreError> {
        let mut removed = Vec::new();
        let deleted = self.remove_objects(blobs, &mut removed).await;
        let jobs = self.all_jobs().await;
        let needed = match &jobs {
            Ok(jobs) => needs(jobs),
            Err(_) => removed.iter().map(|r| r.blob.clone()).collect(),
        };
        let mut restored = 0;
        for r in removed.iter().filter(|r| needed.contains(&r.blob)) {
            // Its submit may have put it back already.
            self.put_file_unless_there(&r.blob, r.copy.path()).await?;
            restored += 1;
        }
        deleted?;
        jobs?;
        Ok((removed.len() - restored, needed))
    }

    /// Copies and deletes the objects of `blobs` that are there, each
    /// noted in `removed` before its delete (which may fail half done).
    async fn remove_objects(
        &self,
        blobs: &[String],
        removed: &mut Vec<Removed>,
    ) -> Result<(), StoreError> {
        for blob in blobs {
            let Some(bytes) = nats::object_bytes(&self.uploads, blob).await? else {
                continue;
            };
            removed.push(Removed {
                blob: blob.clone(),
                copy: self.spool_copy(&bytes)?,
            });
            nats::delete_object(&self.uploads, blob).await?;
        }
        Ok(())
    }

    /// `bytes` in a new file of this process's spool.
    fn spool_copy(&self, bytes: &[u8]) -> Result<tempfile::NamedTempFile, StoreError> {
        let spool_failed = |cause| StoreError::Upload {
            path: self.spool.display().to_string(),
            cause,
        };
        let mut copy = tempfile::Builder::new()
            .prefix("removed.")
            .tempfile_in(&self.spool)
            .map_err(spool_failed)?;
        copy.write_all(bytes).map_err(spool_failed)?;
        Ok(copy)
    }
}

impl Store for JetStreamStore {
    fn receive_upload(&self) -> Result<UploadWriter, StoreError> {
        let writer = UploadWriter::create(&self.spool, &self.codec.sealer, self.outage.clone());
        if let Err(e) = &writer {
            self.outage.note(e);
        }
        writer
    }

    fn work_queue(&self) -> Option<&dyn WorkQueue> {
        Some(self)
    }

    fn hold_duty(&self, duty: &str) -> Result<bool, StoreError> {
        self.hold(duty)
    }

    fn submit_received(
        &self,
        job: Job,
        upload: ReceivedUpload,
        audit: AuditEntry,
    ) -> Result<Submitted, StoreError> {
        if job.blob != upload.sha256 {
            return Err(StoreError::BlobMismatch {
                job: job.blob,
                received: upload.sha256,
            });
        }
        let key = token(&job.id.0);
        self.run(async {
            if let (Some(existing), _) = self.job_entry(&key, &job.id).await? {
                return Ok(Submitted::Existing(existing));
            }
            self.put_upload(&upload).await?;
            let submitted = self.create_job(&key, &job, &upload, &audit).await?;
            // Queued after the job exists, so a worker always finds it; a
            // pending job sent again is queued again in case a crash came
            // between its creation and its queueing.
            if submitted.job().state == JobState::Pending {
                self.enqueue(&key).await?;
            }
            Ok(submitted)
        })
    }

    fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.run(async { Ok(self.job_entry(&token(&id.0), id).await?.0) })
    }

    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if !is_sha256_hex(sha256) {
            return Ok(None);
        }
        let stored = self.run(nats::object_bytes(&self.uploads, sha256))?;
        // A damaged object is as good as a lost one.
        Ok(stored.and_then(|stored| {
            let bytes = self.codec.open("upload", sha256.as_bytes(), &stored).ok();
            bytes.filter(|b| sha256_hex(b) == sha256)
        }))
    }

    fn pending(&self) -> Result<Vec<Job>, StoreError> {
        Ok(super::pending_of(self.run(self.all_jobs())?))
    }

    fn finish(
        &self,
        entry: VerdictEntry,
        review: Option<ReviewItem>,
        audit: Vec<AuditEntry>,
    ) -> Result<u64, StoreError> {
        let key = token(&entry.job.0);
        let id = entry.job.clone();
        self.run(async {
            let (Some(job), _) = self.job_entry(&key, &id).await? else {
                return Err(StoreError::UnknownJob(id.clone()));
            };
            if let (JobState::Done, Some(seq)) = (job.state, job.verdict_seq) {
                return Ok(seq);
            }
            let seq = self
                .verdict_once(self.names.pipeline_verdict(&key), &entry)
                .await?;
            if let Some(item) = &review {
                let record = ReviewRecord {
                    item: Some(ReviewItem {
                        seq,
                        ..item.clone()
                    }),
                    pending: None,
                };
                let bytes = self.codec.encode("review", id.0.as_bytes(), &record)?;
                // Expecting revision 0: written only if the key never was, so
                // an item queued by an earlier try (and perhaps claimed or
                // decided since, leaving a delete marker) stays as it is.
                match self.review.update(&key, Bytes::from(bytes), 0).await {
                    Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => {}
                    other => {
                        other.map_err(failed("queueing a review item"))?;
                    }
                }
            }
            self.append_audit(&audit, Some(&format!("finish.{key}")))
                .await?;
            let notice = verdict_notice(&entry, seq);
            self.append_outbox(&[notice], Some(&format!("verdict.{seq}")))
                .await?;
            // The commit point: the job done, at the revision it was read.
            let done = self
                .update_job(&key, &id, |job| {
                    if job.state == JobState::Done && job.verdict_seq.is_some() {
                        return false;
                    }
                    job.state = JobState::Done;
                    job.verdict_seq = Some(seq);
                    job.done_at = Some(entry.at);
                    true
                })
                .await?;
            match done.and_then(|job| job.verdict_seq) {
                Some(seq) => Ok(seq),
                None => Err(StoreError::UnknownJob(id.clone())),
            }
        })
    }

    fn verdicts_from(&self, from: u64, limit: usize) -> Result<Vec<VerdictEntry>, StoreError> {
        self.run(async {
            let last = last_seq(&self.verdicts).await?;
            let mut out = Vec::new();
            let mut seq = from.max(1);
            while seq <= last && out.len() < limit {
                if let Some(message) = message_at(&self.verdicts, seq).await? {
                    let mut entry: VerdictEntry = self.codec.decode(
                        "verdict",
                        message.subject.as_bytes(),
                        &message.payload,
                    )?;
                    entry.seq = seq;
                    out.push(entry);
                }
                seq += 1;
            }
            Ok(out)
        })
    }

    fn outbox_from(&self, from: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.run(async {
            let last = last_seq(&self.outbox).await?;
            let mut out = Vec::new();
            let mut seq = from.max(1);
            while seq <= last && out.len() < limit {
                if let Some(message) = message_at(&self.outbox, seq).await? {
                    let id = message
                        .headers
                        .get(async_nats::header::NATS_MESSAGE_ID)
                        .map(|v| v.as_str().to_string())
                        .unwrap_or_default();
                    let notice: Notice =
                        self.codec
                            .decode("outbox", id.as_bytes(), &message.payload)?;
                    out.push(OutboxEvent {
                        seq,
                        idempotency_key: format!("{}-{seq}", self.store_id),
                        notice,
                    });
                }
                seq += 1;
            }
            Ok(out)
        })
    }

    fn outbox_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    fn consumer_offset(&self, name: &str) -> Result<u64, StoreError> {
        let key = format!("offset.{}", token(name));
        self.run(async {
            let (value, _) = current(&self.meta, &key).await?;
            Ok(value.map_or(0, |v| super::sled::read_u64(&v)))
        })
    }

    fn set_offset(&self, name: &str, next: u64) -> Result<(), StoreError> {
        let key = format!("offset.{}", token(name));
        self.run(async {
            self.meta
                .put(&key, Bytes::copy_from_slice(&next.to_be_bytes()))
                .await
                .map_err(failed("writing a consumer offset"))?;
            Ok(())
        })
    }

    fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let name = self.codec.sealer.name_key(id);
        self.run(async {
            let (value, _) = current(&self.accounts, &to_hex(&name)).await?;
            value
                .map(|v| self.codec.decode("account", &name, &v))
                .transpose()
        })
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut accounts: Vec<Account> = self.run(async {
            let mut accounts = Vec::new();
            for (key, value) in nats::values(&self.accounts).await? {
                let name = crate::digest::from_hex(&key).unwrap_or_default();
                accounts.push(self.codec.decode("account", &name, &value)?);
            }
            Ok(accounts)
        })?;
        accounts.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(accounts)
    }

    fn save_accounts(
        &self,
        accounts: &[Account],
        offset: Option<(&str, u64)>,
        audit: Vec<AuditEntry>,
        notices: Vec<Notice>,
    ) -> Result<(), StoreError> {
        let tag = offset.map(|(name, next)| format!("accounts.{}.{next}", token(name)));
        self.run(async {
            for account in accounts {
                let name = self.codec.sealer.name_key(&account.id);
                let record = self.codec.encode("account", &name, account)?;
                self.accounts
                    .put(to_hex(&name), Bytes::from(record))
                    .await
                    .map_err(failed("writing an account"))?;
            }
            let audit_tag = tag.as_ref().map(|t| format!("{t}.audit"));
            self.append_audit(&audit, audit_tag.as_deref()).await?;
            let outbox_tag = tag.as_ref().map(|t| format!("{t}.outbox"));
            self.append_outbox(&notices, outbox_tag.as_deref()).await?;
            Ok(())
        })?;
        // Last: a crash before it replays the same verdicts into the same accounts.
        match offset {
            Some((name, next)) => self.set_offset(name, next),
            None => Ok(()),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every write above returned once the server acknowledged it.
        Ok(())
    }

    fn review_items(&self) -> Result<Vec<ReviewItem>, StoreError> {
        let mut items: Vec<ReviewItem> = self.run(async {
            let mut items = Vec::new();
            for (key, value) in nats::values(&self.review).await? {
                let job = JobId(String::from_utf8_lossy(&untoken(&key)).into_owned());
                let record: ReviewRecord = self.codec.decode("review", job.0.as_bytes(), &value)?;
                let record = match record.pending {
                    // A decision half written: carried out now, then read again.
                    Some(_) => self.review_record(&key, &job).await?.0,
                    None => Some(record),
                };
                items.extend(record.and_then(|r| r.item));
            }
            Ok(items)
        })?;
        items.sort_by_key(|item| item.seq);
        Ok(items)
    }

    fn change_review(&self, job: &JobId, change: &ReviewFn<'_>) -> Result<Option<u64>, StoreError> {
        let key = token(&job.0);
        loop {
            let (record, rev) = self.run(self.review_record(&key, job))?;
            let decided = change(record.as_ref().and_then(|r| r.item.as_ref()))
                .map_err(StoreError::Declined)?;
            let record = ReviewRecord {
                item: decided.item,
                pending: Some(Decision {
                    verdict: decided.verdict,
                    audit: decided.audit,
                }),
            };
            let bytes = self.codec.encode("review", job.0.as_bytes(), &record)?;
            let written = self.run(async {
                match self.review.update(&key, Bytes::from(bytes), rev).await {
                    Ok(rev) => Ok(Some(rev)),
                    // Another decision came first: decide again on it.
                    Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Ok(None),
                    Err(e) => Err(failed("writing a review decision")(e)),
                }
            })?;
            if let Some(rev) = written {
                return self.run(self.carry_out(&key, job, rev, record));
            }
        }
    }

    fn purge_uploads(&self, before_ms: u64, now: u64) -> Result<Vec<JobId>, StoreError> {
        self.run(async {
            let expired = expired_uploads(self.all_jobs().await?, before_ms);
            self.purge_expired(expired, before_ms, now).await
        })
    }

    fn remove_orphans(&self) -> Result<usize, StoreError> {
        self.sweep_orphans(ORPHAN_GRACE)
    }

    fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        self.run(async {
            let last = last_seq(&self.audit).await?;
            let mut walk = ChainWalk::new(&self.codec);
            for seq in 1..=last {
                let Some(message) = message_at(&self.audit, seq).await? else {
                    return Ok(walk.missing(seq));
                };
                if let Some(broken) = walk.step(seq, &message.payload) {
                    return Ok(broken);
                }
            }
            // The stream's last sequence never goes back, even when its
            // last messages are deleted: walking up to it is the head check.
            Ok(walk.done())
        })
    }

    fn audit_log(&self, account: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        self.run(async {
            let last = last_seq(&self.audit).await?;
            let mut entries = Vec::new();
            for seq in 1..=last {
                if let Some(message) = message_at(&self.audit, seq).await? {
                    let entry: AuditEntry =
                        self.codec
                            .decode("audit", &seq.to_be_bytes(), &message.payload)?;
                    if account.is_none_or(|a| a == entry.account) {
                        entries.push(entry);
                    }
                }
            }
            Ok(entries)
        })
    }

    fn outage(&self) -> Option<Outage> {
        self.outage.current()
    }

    fn recover(&self) -> Result<Option<Outage>, StoreError> {
        if self.outage.current().is_none() {
            return Ok(None);
        }
        // A write that succeeds again ends the outage.
        let probe = Bytes::copy_from_slice(&crate::clock::system_ms().to_be_bytes());
        self.run(async {
            self.meta
                .put("last_probe", probe)
                .await
                .map_err(failed("probing"))
        })?;
        Ok(self.outage.clear())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::NatsServer;
    use crate::store::fixtures::{audit, job, review, verdict};
    use crate::store::ReviewChange;
    use intake_models::{Actor, Verdict};

    /// An upload's object put in place with no job naming it.
    fn plant(store: &JetStreamStore, bytes: &[u8]) {
        let mut writer = store.receive_upload().unwrap();
        writer.write(bytes).unwrap();
        store.keep_upload(writer.finish().unwrap()).unwrap();
    }

    #[test]
    fn a_purge_puts_back_an_upload_that_a_job_created_meanwhile_needs() {
        let Some(server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let store = server.store(spool.path());
        store.submit(job("a"), b"a", audit("s")).unwrap();
        store.finish(verdict("a"), None, Vec::new()).unwrap();
        // The purge has read the jobs and chosen a's file...
        let expired = store
            .run(async { Ok(expired_uploads(store.all_jobs().await?, u64::MAX)) })
            .unwrap();
        assert_eq!(expired.len(), 1);
        // ...when another process submits the same file as a new job: the
        // object is there, so it puts nothing, and its second look finds it.
        let other = server.store(spool.path());
        let mut b = job("b");
        b.blob = job("a").blob;
        let submitted = other.submit(b, b"a", audit("s")).unwrap();
        assert!(matches!(submitted, Submitted::New(_)));
        let purged = store
            .run(store.purge_expired(expired, u64::MAX, 5))
            .unwrap();
        assert!(purged.is_empty(), "b keeps the file: {purged:?}");
        let bytes = other.blob(&job("a").blob).unwrap();
        assert_eq!(bytes.as_deref(), Some(&b"a"[..]), "put back");
        let a = other.job(&JobId("a".into())).unwrap().unwrap();
        assert_eq!(a.purged_at, None);
        // Once b is decided too, the file goes with both jobs.
        other.finish(verdict("b"), None, Vec::new()).unwrap();
        assert_eq!(store.purge_uploads(u64::MAX, 6).unwrap().len(), 2);
        assert_eq!(other.blob(&job("a").blob).unwrap(), None);
        assert!(spool_is_empty(&store), "the copies are gone");
    }

    #[test]
    fn an_orphan_sweep_puts_back_an_upload_that_a_job_created_meanwhile_needs() {
        let Some(server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let store = server.store(spool.path());
        plant(&store, b"x");
        // The sweep has found x an orphan, then x's job is created.
        let orphans = vec![job("x").blob];
        let other = server.store(spool.path());
        let submitted = other.submit(job("x"), b"x", audit("s")).unwrap();
        assert!(matches!(submitted, Submitted::New(_)));
        assert_eq!(store.run(store.remove_orphans_of(&orphans)).unwrap(), 0);
        let bytes = other.blob(&job("x").blob).unwrap();
        assert_eq!(bytes.as_deref(), Some(&b"x"[..]), "put back");
        // A true orphan goes, once older than the grace period.
        plant(&store, b"y");
        assert_eq!(store.remove_orphans().unwrap(), 0, "too young");
        assert!(store.blob(&job("y").blob).unwrap().is_some());
        assert_eq!(store.sweep_orphans(Duration::ZERO).unwrap(), 1);
        assert_eq!(store.blob(&job("y").blob).unwrap(), None);
        assert!(store.blob(&job("x").blob).unwrap().is_some());
        assert!(spool_is_empty(&store), "the copies are gone");
    }

    #[test]
    fn uploads_of_submits_racing_purges_and_sweeps_are_kept() {
        let Some(server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let store = Arc::new(server.store(spool.path()));
        let other = Arc::new(server.store(spool.path()));
        for round in 0..6 {
            // A decided job's file, and an orphan, each sent again by a
            // new job while a purge and a sweep run in another process.
            let (old, new, orphan) = (
                format!("o{round}"),
                format!("n{round}"),
                format!("x{round}"),
            );
            let mut decided = job(&old);
            decided.blob = sha256_hex(old.as_bytes());
            store.submit(decided, old.as_bytes(), audit("s")).unwrap();
            store.finish(verdict(&old), None, Vec::new()).unwrap();
            plant(&store, orphan.as_bytes());
            let start = Arc::new(std::sync::Barrier::new(2));
            let sweeper = {
                let (store, start) = (store.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    store.purge_uploads(u64::MAX, 9).unwrap();
                    store.sweep_orphans(Duration::ZERO).unwrap();
                })
            };
            start.wait();
            for (id, bytes) in [
                (new.clone(), old.as_bytes()),
                (format!("{orphan}j"), orphan.as_bytes()),
            ] {
                let mut j = job(&id);
                j.blob = sha256_hex(bytes);
                other.submit(j, bytes, audit("s")).unwrap();
            }
            sweeper.join().unwrap();
            for bytes in [old.as_bytes(), orphan.as_bytes()] {
                let kept = store.blob(&sha256_hex(bytes)).unwrap();
                assert_eq!(kept.as_deref(), Some(bytes), "round {round}");
            }
        }
        assert_eq!(store.verify_audit().unwrap().broken, None);
    }

    #[test]
    fn a_submit_puts_back_its_upload_if_a_sweep_took_it_after_its_first_look() {
        let Some(server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let store = server.store(spool.path());
        let other = server.store(spool.path());
        // The object is there when the submit first looks, so it puts
        // nothing; then a sweep elsewhere takes it, before the job exists.
        plant(&store, b"x");
        let mut writer = other.receive_upload().unwrap();
        writer.write(b"x").unwrap();
        let upload = writer.finish().unwrap();
        assert!(other
            .run(nats::object_there(&other.uploads, &upload.sha256))
            .unwrap());
        assert_eq!(store.sweep_orphans(Duration::ZERO).unwrap(), 1);
        let (key, x, entry) = (token("x"), job("x"), audit("s"));
        let created = other.run(other.create_job(&key, &x, &upload, &entry));
        assert!(matches!(created.unwrap(), Submitted::New(_)));
        let bytes = store.blob(&job("x").blob).unwrap();
        assert_eq!(bytes.as_deref(), Some(&b"x"[..]), "put back");
    }

    fn spool_is_empty(store: &JetStreamStore) -> bool {
        std::fs::read_dir(&store.spool).unwrap().next().is_none()
    }

    #[test]
    fn a_finish_cut_short_after_its_verdict_is_one_verdict_when_done_again() {
        let Some(server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let store = server.store(spool.path());
        store.submit(job("a"), b"a", audit("s")).unwrap();
        // The first steps of a finish, then the process dies: the job is
        // never marked done.
        let key = token("a");
        let subject = store.names.pipeline_verdict(&key);
        let seq = store
            .run(store.verdict_once(subject, &verdict("a")))
            .unwrap();
        let tag = format!("finish.{key}");
        store
            .run(store.append_audit(&[audit("verdict")], Some(&tag)))
            .unwrap();
        assert_eq!(store.pending().unwrap().len(), 1, "redone after a restart");
        // Another process does it again, whole.
        let again = server.store(spool.path());
        let redone = again
            .finish(verdict("a"), Some(review("a")), vec![audit("verdict")])
            .unwrap();
        assert_eq!(redone, seq, "the verdict published before the crash");
        assert_eq!(again.verdicts_from(0, 10).unwrap().len(), 1);
        assert!(again.pending().unwrap().is_empty());
        assert_eq!(again.review_items().unwrap()[0].seq, seq);
        let log = again.audit_log(None).unwrap();
        assert_eq!(log.len(), 2, "the verdict's entry once: {log:?}");
        assert_eq!(again.verify_audit().unwrap().broken, None);
    }

    #[test]
    fn a_review_decision_cut_short_is_carried_out_by_the_next_reader() {
        let Some(server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let store = server.store(spool.path());
        store.submit(job("a"), b"a", audit("s")).unwrap();
        store
            .finish(verdict("a"), Some(review("a")), Vec::new())
            .unwrap();
        // The decision written, the rest not: the process died there.
        let key = token("a");
        let (_, rev) = store.run(current(&store.review, &key)).unwrap();
        let record = ReviewRecord {
            item: None,
            pending: Some(Decision {
                verdict: Some(VerdictEntry {
                    by: Actor::Reviewer("r1".into()),
                    verdict: Verdict::Accepted,
                    ..verdict("a")
                }),
                audit: vec![audit("review_decided")],
            }),
        };
        let bytes = store.codec.encode("review", b"a", &record).unwrap();
        store
            .run(async {
                let written = store.review.update(&key, Bytes::from(bytes), rev).await;
                written.map_err(failed("test"))
            })
            .unwrap();
        let other = server.store(spool.path());
        assert!(other.review_items().unwrap().is_empty(), "carried out");
        let queue = other.verdicts_from(0, 10).unwrap();
        assert_eq!(queue.len(), 2);
        assert_eq!(queue[1].by, Actor::Reviewer("r1".into()));
        let a = other.job(&JobId("a".into())).unwrap().unwrap();
        assert_eq!(a.review_seq, Some(queue[1].seq));
        assert_eq!(other.outbox_from(0, 10).unwrap().len(), 2);
        let check = other.verify_audit().unwrap();
        assert_eq!((check.entries, check.broken), (2, None));
        // Nothing is carried out twice, and the item is gone for deciders.
        assert!(store.review_items().unwrap().is_empty());
        assert_eq!(store.verdicts_from(0, 10).unwrap().len(), 2);
        let decide = |item: Option<&ReviewItem>| match item {
            Some(_) => Ok(ReviewChange::default()),
            None => Err("already decided".into()),
        };
        assert!(matches!(
            other.change_review(&JobId("a".into()), &decide),
            Err(StoreError::Declined(_))
        ));
    }
}
