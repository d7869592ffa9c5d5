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
//! - not yet: `purge_uploads` and `remove_orphans` ([`StoreError::NotSupported`]):
//!   with several processes, deleting an object needs a guard against a
//!   submit of the same file in flight in another process (sled's backend
//!   has its `blobs` tree and an in-process guard; here a submit would
//!   have to check the object again after creating its job, and a purge
//!   the jobs again after deleting it).
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
use super::sled::verdict_notice;
use super::{
    AuditCheck, Outage, OutageWatch, ReceivedUpload, ReviewFn, Store, StoreError, Submitted,
    UploadWriter, WorkQueue,
};
use crate::digest::{sha256_hex, to_hex};
use crate::store::crypto::Sealer;
use async_nats::jetstream::kv::{self, CreateErrorKind, UpdateErrorKind};
use async_nats::jetstream::object_store::{GetErrorKind, InfoErrorKind, ObjectStore};
use async_nats::jetstream::stream::Stream;
use async_nats::jetstream::Context;
use bytes::Bytes;
use intake_models::config::JetStreamConfig;
use intake_models::{
    Account, AuditEntry, Job, JobId, JobState, Notice, OutboxEvent, ReviewItem, VerdictEntry,
};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::AsyncReadExt;
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
    /// This process's name as a holder of duties.
    instance: String,
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
        // Dropping a runtime blocks, which panics inside another runtime:
        // let its thread wind down on its own instead.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
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
            // Content-addressed: the same bytes are one object whoever sends them.
            let there = match self.uploads.info(&upload.sha256).await {
                Ok(info) => !info.deleted,
                Err(e) if e.kind() == InfoErrorKind::NotFound => false,
                Err(e) => return Err(failed("reading an upload's info")(e)),
            };
            if !there {
                let path = upload.temporary.path();
                let mut file =
                    tokio::fs::File::open(path)
                        .await
                        .map_err(|cause| StoreError::Upload {
                            path: path.display().to_string(),
                            cause,
                        })?;
                self.uploads
                    .put(upload.sha256.as_str(), &mut file)
                    .await
                    .map_err(failed("storing an upload"))?;
            }
            let tag = format!("submit.{key}");
            self.append_audit(std::slice::from_ref(&audit), Some(&tag))
                .await?;
            let record = self.codec.encode("job", job.id.0.as_bytes(), &job)?;
            let submitted = match self.jobs.create(&key, Bytes::from(record)).await {
                Ok(_) => Submitted::New(job.clone()),
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                    match self.job_entry(&key, &job.id).await? {
                        (Some(existing), _) => Submitted::Existing(existing),
                        (None, _) => return Err(StoreError::UnknownJob(job.id.clone())),
                    }
                }
                Err(e) => return Err(failed("creating a job")(e)),
            };
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
        let is_hash = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hash {
            return Ok(None);
        }
        let stored = self.run(async {
            let mut object = match self.uploads.get(sha256).await {
                Ok(object) => object,
                Err(e) if e.kind() == GetErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(failed("reading an upload")(e)),
            };
            let mut bytes = Vec::new();
            object
                .read_to_end(&mut bytes)
                .await
                .map_err(failed("reading an upload"))?;
            Ok(Some(bytes))
        })?;
        // A damaged object is as good as a lost one.
        Ok(stored.and_then(|stored| {
            let bytes = self.codec.open("upload", sha256.as_bytes(), &stored).ok();
            bytes.filter(|b| sha256_hex(b) == sha256)
        }))
    }

    fn pending(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs: Vec<Job> = self.run(async {
            let mut jobs = Vec::new();
            for (key, value) in nats::values(&self.jobs).await? {
                jobs.push(self.codec.decode("job", &untoken(&key), &value)?);
            }
            Ok(jobs)
        })?;
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

    fn purge_uploads(&self, _before_ms: u64, _now: u64) -> Result<Vec<JobId>, StoreError> {
        Err(StoreError::NotSupported("purging uploads"))
    }

    fn remove_orphans(&self) -> Result<usize, StoreError> {
        Err(StoreError::NotSupported("removing orphaned uploads"))
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
