//! One suite, two backends: each test below runs against a [`SledStore`]
//! in a temporary directory and against a [`JetStreamStore`] on a
//! `nats-server -js` of its own (a child process on a free loopback port,
//! with a temporary store directory, killed at the end). Without the
//! `nats-server` binary the JetStream half says so loudly and passes;
//! `make deps` installs it, so CI runs both.
//!
//! Each test takes `open`, which hands out a store: the same sled store
//! every time (sled is one process's), a new JetStream store (a new
//! connection, as another process would have) every time.

use super::fixtures::{audit, job, review, verdict};
use super::jetstream::server::{LocalServer, LocalServerError};
use super::{JetStreamStore, ReviewChange, SledStore, Store, StoreError, Submitted};
use crate::digest::sha256_hex;
use crate::store::crypto::Sealer;
use intake_models::config::JetStreamConfig;
use intake_models::{
    Account, AccountStatus, Actor, AuditAction, Change, JobId, JobState, Notice, ReviewItem,
    Verdict, VerdictEntry,
};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

type Open<'a> = &'a dyn Fn() -> Arc<dyn Store>;

fn sealer() -> Sealer {
    Sealer::with_key(&[7; 32])
}

/// A nats-server with JetStream for one test; killed when dropped.
pub(super) struct NatsServer(LocalServer);

impl NatsServer {
    /// Starts one, or says loudly why not (no binary) and returns `None`.
    pub(super) fn start() -> Option<NatsServer> {
        match LocalServer::start() {
            Ok(server) => Some(NatsServer(server)),
            Err(LocalServerError::NotInstalled) => {
                eprintln!(
                    "\n**** SKIPPED: nats-server is not installed (`make deps` installs it): \
                     the JetStream store is NOT being tested ****\n"
                );
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    pub(super) fn url(&self) -> String {
        self.0.url()
    }

    pub(super) fn dir(&self) -> &Path {
        self.0.dir()
    }

    /// SIGKILL, as a crash would: no shutdown of its own.
    pub(super) fn kill9(&mut self) {
        self.0.kill9();
    }

    /// Starts it again on the same port and store directory.
    pub(super) fn restart(&mut self) {
        self.0.restart().expect("nats-server starts again");
    }

    pub(super) fn config(&self) -> JetStreamConfig {
        JetStreamConfig {
            url: self.url(),
            prefix: "t".into(),
            replicas: 1,
            // Short, so that the tests of redelivery and of duties passing
            // on do not wait long.
            ack_wait_s: 1,
            duty_ttl_s: 1,
        }
    }

    /// A store on this server; retried while the server is still starting
    /// its JetStream (after a restart it first recovers its streams).
    pub(super) fn store(&self, spool: &Path) -> JetStreamStore {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match JetStreamStore::connect(&self.config(), sealer(), spool) {
                Ok(store) => return store,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("waiting for JetStream: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("the JetStream store does not open: {e}"),
            }
        }
    }
}

fn with_sled(test: fn(Open<'_>)) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SledStore::open_sealed(dir.path(), 1 << 20, sealer()).unwrap());
    test(&|| store.clone());
}

fn with_jetstream(test: fn(Open<'_>)) {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    test(&|| Arc::new(server.store(spool.path())));
}

/// A test function run against both backends: `NAME::sled` and `NAME::jetstream`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sled() {
                super::with_sled(super::$name);
            }
            #[test]
            fn jetstream() {
                super::with_jetstream(super::$name);
            }
        }
    )*};
}

both!(
    a_job_submitted_twice_is_one_job,
    a_job_finished_twice_has_one_verdict,
    of_two_concurrent_deciders_exactly_one_wins,
    the_audit_chain_holds_with_concurrent_writers,
    accounts_offsets_and_outbox_events_are_kept,
    uploads_decided_before_the_limit_are_purged_and_their_jobs_marked,
);

/// What the orphan tests need beyond the trait: `plant` puts an upload's
/// file or object in place with no job naming it (an upload refused after
/// its write), `sweep` removes orphans (on JetStream without the grace
/// period that leaves objects this young).
struct Uploads<'a> {
    plant: &'a dyn Fn(&[u8]),
    sweep: &'a dyn Fn() -> usize,
}

fn with_sled_uploads(test: fn(Open<'_>, &Uploads<'_>)) {
    let dir = tempfile::tempdir().unwrap();
    let sled = Arc::new(SledStore::open_sealed(dir.path(), 1 << 20, sealer()).unwrap());
    let store: Arc<dyn Store> = sled.clone();
    let plant = |bytes: &[u8]| {
        let mut writer = sled.receive_upload().unwrap();
        writer.write(bytes).unwrap();
        sled.keep_upload(writer.finish().unwrap()).unwrap();
    };
    let sweep = || sled.remove_orphans().unwrap();
    let uploads = Uploads {
        plant: &plant,
        sweep: &sweep,
    };
    test(&|| store.clone(), &uploads);
}

fn with_jetstream_uploads(test: fn(Open<'_>, &Uploads<'_>)) {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let js = server.store(spool.path());
    let plant = |bytes: &[u8]| {
        let mut writer = js.receive_upload().unwrap();
        writer.write(bytes).unwrap();
        js.keep_upload(writer.finish().unwrap()).unwrap();
    };
    let sweep = || js.sweep_orphans(Duration::ZERO).unwrap();
    let uploads = Uploads {
        plant: &plant,
        sweep: &sweep,
    };
    test(&|| Arc::new(server.store(spool.path())), &uploads);
}

/// [`both!`] for tests that also take [`Uploads`].
macro_rules! both_with_uploads {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sled() {
                super::with_sled_uploads(super::$name);
            }
            #[test]
            fn jetstream() {
                super::with_jetstream_uploads(super::$name);
            }
        }
    )*};
}

both_with_uploads!(uploads_no_job_needs_are_removed_as_orphans);

fn a_job_submitted_twice_is_one_job(open: Open<'_>) {
    let store = open();
    let first = store
        .submit(job("a"), b"a", audit("job_submitted"))
        .unwrap();
    assert!(matches!(first, Submitted::New(_)));
    // Another process (for JetStream) sends the same upload.
    let again = open()
        .submit(job("a"), b"a", audit("job_submitted"))
        .unwrap();
    assert!(matches!(again, Submitted::Existing(ref j) if j.id == job("a").id));
    assert_eq!(store.pending().unwrap().len(), 1);
    let blob = sha256_hex(b"a");
    assert_eq!(store.blob(&blob).unwrap().as_deref(), Some(&b"a"[..]));
    assert_eq!(store.blob(&sha256_hex(b"never sent")).unwrap(), None);
    assert_eq!(store.blob("../../etc/passwd").unwrap(), None);
    // A job id that is no KV key as it is.
    let mut odd = job("a.b c/ä");
    odd.blob = sha256_hex(b"odd");
    store.submit(odd.clone(), b"odd", audit("s")).unwrap();
    assert_eq!(store.job(&odd.id).unwrap(), Some(odd));
    assert_eq!(store.pending().unwrap().len(), 2);
    let log = store.audit_log(Some("acc-1")).unwrap();
    assert_eq!(log.len(), 2, "one entry per new job: {log:?}");
    // A big upload, many chunks of the sealed stream and of the object store.
    let big: Vec<u8> = (0..700_000).map(|i| (i % 251) as u8).collect();
    let mut j = job("big");
    j.blob = sha256_hex(&big);
    store.submit(j.clone(), &big, audit("s")).unwrap();
    assert_eq!(open().blob(&j.blob).unwrap(), Some(big));
    let mut writer = store.receive_upload().unwrap();
    writer.write(b"other bytes").unwrap();
    assert!(matches!(
        store.submit_received(job("c"), writer.finish().unwrap(), audit("s")),
        Err(StoreError::BlobMismatch { .. })
    ));
}

fn a_job_finished_twice_has_one_verdict(open: Open<'_>) {
    let store = open();
    store.submit(job("a"), b"a", audit("s")).unwrap();
    store.submit(job("b"), b"b", audit("s")).unwrap();
    let first = store
        .finish(verdict("a"), Some(review("a")), vec![audit("verdict")])
        .unwrap();
    let twice = open()
        .finish(verdict("a"), Some(review("a")), vec![audit("verdict")])
        .unwrap();
    assert_eq!(twice, first, "finishing twice is one verdict");
    let second = store.finish(verdict("b"), None, Vec::new()).unwrap();
    assert!(second > first);
    let queue = open().verdicts_from(0, 10).unwrap();
    let seqs: Vec<u64> = queue.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![first, second]);
    assert_eq!(queue[0].job, JobId("a".into()));
    assert_eq!(queue[1].job, JobId("b".into()));
    assert_eq!(store.verdicts_from(second, 10).unwrap().len(), 1);
    assert_eq!(store.verdicts_from(first, 1).unwrap().len(), 1);
    assert!(store.verdicts_from(second + 1, 10).unwrap().is_empty());
    assert!(store.pending().unwrap().is_empty());
    let a = store.job(&JobId("a".into())).unwrap().unwrap();
    assert_eq!((a.state, a.verdict_seq), (JobState::Done, Some(first)));
    let reviews = store.review_items().unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(
        reviews[0].seq, first,
        "the review item points at its verdict"
    );
    let log = store.audit_log(None).unwrap();
    assert_eq!(log.len(), 3, "two submissions and one verdict: {log:?}");
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
    let events = store.outbox_from(0, 10).unwrap();
    assert_eq!(events.len(), 2, "one event per verdict: {events:?}");
    assert!(matches!(
        events[0].notice.change,
        Change::Verdict { verdict_seq, .. } if verdict_seq == first
    ));
    assert!(matches!(
        store.finish(verdict("zzz"), None, Vec::new()),
        Err(StoreError::UnknownJob(_))
    ));
}

fn of_two_concurrent_deciders_exactly_one_wins(open: Open<'_>) {
    let store = open();
    for round in 0..4 {
        let id = format!("r{round}");
        let mut j = job(&id);
        j.blob = sha256_hex(id.as_bytes());
        store.submit(j, id.as_bytes(), audit("s")).unwrap();
        let pipeline_seq = store
            .finish(verdict(&id), Some(review(&id)), Vec::new())
            .unwrap();
        let start = Arc::new(Barrier::new(2));
        let deciders: Vec<_> = ["r1", "r2"]
            .into_iter()
            .map(|reviewer| {
                let (store, start, id) = (open(), start.clone(), id.clone());
                std::thread::spawn(move || {
                    let decide = |item: Option<&ReviewItem>| match item {
                        Some(_) => Ok(ReviewChange {
                            item: None,
                            verdict: Some(VerdictEntry {
                                by: Actor::Reviewer(reviewer.into()),
                                verdict: Verdict::Accepted,
                                ..verdict(&id)
                            }),
                            audit: vec![audit("review_decided")],
                        }),
                        None => Err("already decided".into()),
                    };
                    start.wait();
                    store.change_review(&JobId(id.clone()), &decide)
                })
            })
            .collect();
        let results: Vec<_> = deciders.into_iter().map(|d| d.join().unwrap()).collect();
        let won: Vec<u64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().copied().flatten())
            .collect();
        let declined = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Declined(_))))
            .count();
        assert_eq!((won.len(), declined), (1, 1), "{results:?}");
        let queue = store.verdicts_from(pipeline_seq, 10).unwrap();
        assert_eq!(queue.len(), 2, "the pipeline's verdict and one reviewer's");
        assert_eq!(queue[1].seq, won[0]);
        let j = store.job(&JobId(id.clone())).unwrap().unwrap();
        assert_eq!(j.review_seq, Some(won[0]));
    }
    assert!(store.review_items().unwrap().is_empty());
    let check = store.verify_audit().unwrap();
    assert_eq!(check.broken, None);
    // Per round: a submission and one decision.
    assert_eq!(check.entries, 8);
}

fn the_audit_chain_holds_with_concurrent_writers(open: Open<'_>) {
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let store = open();
            std::thread::spawn(move || {
                for i in 0..15 {
                    let id = format!("w{w}-{i}");
                    let mut j = job(&id);
                    j.blob = sha256_hex(id.as_bytes());
                    store.submit(j, id.as_bytes(), audit("s")).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let store = open();
    let check = store.verify_audit().unwrap();
    assert_eq!(check.broken, None, "{check:?}");
    assert_eq!(check.entries, 30);
    let seqs: Vec<u64> = store
        .audit_log(None)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=30).collect::<Vec<u64>>());
    assert_eq!(store.pending().unwrap().len(), 30);
}

fn accounts_offsets_and_outbox_events_are_kept(open: Open<'_>) {
    let store = open();
    assert_eq!(store.consumer_offset("accounts").unwrap(), 0);
    let account = Account {
        id: "ivanov-petr-1995".into(),
        ..Account::default()
    };
    let notice = Notice {
        at: 3,
        account: account.id.clone(),
        job: None,
        by: Actor::Pipeline,
        change: Change::Status {
            status: AccountStatus::InReview,
            status_ru: AccountStatus::InReview.label_ru().into(),
            previous: None,
            verdict_seq: None,
            items: Vec::new(),
        },
    };
    let mut head = store.outbox_head();
    store
        .save_accounts(
            std::slice::from_ref(&account),
            Some(("accounts", 7)),
            vec![audit("status")],
            vec![notice.clone()],
        )
        .unwrap();
    store.flush().unwrap();
    let other = open();
    assert_eq!(other.consumer_offset("accounts").unwrap(), 7);
    assert_eq!(other.consumer_offset("some other/consumer").unwrap(), 0);
    other.set_offset("some other/consumer", 3).unwrap();
    assert_eq!(store.consumer_offset("some other/consumer").unwrap(), 3);
    assert_eq!(other.account(&account.id).unwrap(), Some(account.clone()));
    assert_eq!(other.account("nobody").unwrap(), None);
    assert_eq!(other.accounts().unwrap(), vec![account]);
    assert_eq!(other.audit_log(Some("acc-1")).unwrap().len(), 1);
    let events = other.outbox_from(0, 10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].notice, notice);
    assert_eq!(events[0].seq, 1);
    assert!(events[0].idempotency_key.ends_with("-1"));
    assert!(*head.borrow_and_update() >= 1, "the flush moves the head");
    assert!(other.outbox_from(2, 10).unwrap().is_empty());
}

fn uploads_decided_before_the_limit_are_purged_and_their_jobs_marked(open: Open<'_>) {
    let store = open();
    let id = |id: &str| JobId(id.into());
    // a decided long ago; b pending; c decided, d pending with c's file;
    // e decided lately.
    for name in ["a", "b", "c", "e"] {
        store
            .submit(job(name), name.as_bytes(), audit("s"))
            .unwrap();
    }
    let mut d = job("d");
    d.blob = job("c").blob;
    store.submit(d, b"c", audit("s")).unwrap();
    store.finish(verdict("a"), None, Vec::new()).unwrap();
    store.finish(verdict("c"), None, Vec::new()).unwrap();
    let lately = VerdictEntry {
        at: 50,
        ..verdict("e")
    };
    store.finish(lately, None, Vec::new()).unwrap();
    let purged = open().purge_uploads(10, 100).unwrap();
    assert_eq!(purged, vec![id("a")]);
    assert_eq!(store.blob(&job("a").blob).unwrap(), None);
    for kept in ["b", "c", "e"] {
        let bytes = store.blob(&job(kept).blob).unwrap();
        assert_eq!(bytes.as_deref(), Some(kept.as_bytes()), "{kept}'s upload");
    }
    let purged_at = |name: &str| store.job(&id(name)).unwrap().unwrap().purged_at;
    assert_eq!(purged_at("a"), Some(100));
    assert_eq!((purged_at("c"), purged_at("e")), (None, None));
    // Nothing more to purge, here or in another process.
    assert!(store.purge_uploads(10, 101).unwrap().is_empty());
    assert!(open().purge_uploads(10, 101).unwrap().is_empty());
    assert_eq!(purged_at("a"), Some(100));
    // d decided too: the file of c and d goes, both jobs marked.
    store.finish(verdict("d"), None, Vec::new()).unwrap();
    let mut purged = open().purge_uploads(10, 102).unwrap();
    purged.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(purged, vec![id("c"), id("d")]);
    assert_eq!(store.blob(&job("c").blob).unwrap(), None);
    // A purged job's upload sent again: the job stays as it was, the
    // upload is not kept.
    let again = store.submit(job("a"), b"a", audit("s")).unwrap();
    assert!(matches!(again, Submitted::Existing(ref j) if j.purged_at == Some(100)));
    store.remove_orphans().unwrap();
    assert_eq!(store.blob(&job("a").blob).unwrap(), None);
    // The same file for a new job is kept, and kept from purges while
    // that job is pending.
    let mut f = job("f");
    f.blob = job("a").blob;
    let stored = store.submit(f, b"a", audit("s")).unwrap();
    assert!(matches!(stored, Submitted::New(_)));
    assert!(open().purge_uploads(10, 103).unwrap().is_empty());
    let bytes = open().blob(&job("a").blob).unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"a"[..]));
    // Verdicts and audit entries stay; each purge is audited once.
    assert_eq!(store.verdicts_from(0, 10).unwrap().len(), 4);
    let log = store.audit_log(None).unwrap();
    let mut purges: Vec<_> = log
        .iter()
        .filter(|e| e.action == AuditAction::UploadPurged)
        .map(|e| e.job.clone())
        .collect();
    purges.sort();
    assert_eq!(purges, vec![Some(id("a")), Some(id("c")), Some(id("d"))]);
    assert_eq!(store.verify_audit().unwrap().broken, None);
}

fn uploads_no_job_needs_are_removed_as_orphans(open: Open<'_>, uploads: &Uploads<'_>) {
    let store = open();
    let a = job("a").blob;
    store.submit(job("a"), b"a", audit("s")).unwrap();
    (uploads.plant)(b"refused");
    let refused = sha256_hex(b"refused");
    assert_eq!(
        open().blob(&refused).unwrap().as_deref(),
        Some(&b"refused"[..])
    );
    assert_eq!((uploads.sweep)(), 1);
    assert_eq!(store.blob(&refused).unwrap(), None);
    assert_eq!(store.blob(&a).unwrap().as_deref(), Some(&b"a"[..]));
    assert_eq!((uploads.sweep)(), 0);
    // A purged job's file written again is needed by no job; a file
    // written before its new job is created is needed once it is.
    store.finish(verdict("a"), None, Vec::new()).unwrap();
    assert_eq!(store.purge_uploads(10, 100).unwrap().len(), 1);
    (uploads.plant)(b"a");
    (uploads.plant)(b"b");
    let stored = open().submit(job("b"), b"b", audit("s")).unwrap();
    assert!(matches!(stored, Submitted::New(_)));
    assert_eq!((uploads.sweep)(), 1);
    assert_eq!(store.blob(&a).unwrap(), None);
    let b = job("b").blob;
    assert_eq!(open().blob(&b).unwrap().as_deref(), Some(&b"b"[..]));
    // The trait's own sweep takes nothing that is needed.
    store.remove_orphans().unwrap();
    assert_eq!(store.blob(&b).unwrap().as_deref(), Some(&b"b"[..]));
}

/// The JetStream store alone: what sled's backend cannot be put through.
mod jetstream_only {
    use super::*;

    #[test]
    fn acknowledged_jobs_and_verdicts_survive_a_kill_9_of_the_server() {
        let Some(mut server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let ids = ["k0", "k1", "k2", "k3"];
        let mut seqs = Vec::new();
        {
            let store = server.store(spool.path());
            for id in ids {
                let mut j = job(id);
                j.blob = sha256_hex(id.as_bytes());
                store.submit(j, id.as_bytes(), audit("s")).unwrap();
            }
            for id in &ids[..2] {
                seqs.push(store.finish(verdict(id), None, Vec::new()).unwrap());
            }
            server.kill9();
        }
        server.restart();
        let store = server.store(spool.path());
        let pending: Vec<String> = store
            .pending()
            .unwrap()
            .into_iter()
            .map(|j| j.id.0)
            .collect();
        assert_eq!(pending, vec!["k2", "k3"]);
        let queue: Vec<u64> = store
            .verdicts_from(0, 10)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(queue, seqs);
        for id in ids {
            let blob = sha256_hex(id.as_bytes());
            assert_eq!(store.blob(&blob).unwrap().as_deref(), Some(id.as_bytes()));
        }
        // The same verdict for a job already done, a new one for the rest.
        assert_eq!(
            store.finish(verdict("k0"), None, Vec::new()).unwrap(),
            seqs[0]
        );
        let next = store.finish(verdict("k2"), None, Vec::new()).unwrap();
        assert!(next > seqs[1]);
        let check = store.verify_audit().unwrap();
        assert_eq!((check.entries, check.broken), (4, None));
    }

    #[test]
    fn it_can_be_called_and_dropped_inside_another_tokio_runtime() {
        let Some(server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let store = server.store(spool.path());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            store.submit(job("a"), b"a", audit("s")).unwrap();
            assert_eq!(store.pending().unwrap().len(), 1);
            drop(store);
        });
    }

    fn taken(store: &JetStreamStore, wait_ms: u64) -> Vec<super::super::Work> {
        use super::super::WorkQueue;
        store
            .take(10, Duration::from_millis(wait_ms))
            .expect("the work queue answers")
    }

    fn taken_one(store: &JetStreamStore, wait_ms: u64) -> Vec<super::super::Work> {
        use super::super::WorkQueue;
        store
            .take(1, Duration::from_millis(wait_ms))
            .expect("the work queue answers")
    }

    #[test]
    fn a_job_taken_and_not_done_is_handed_out_again_and_once_done_never() {
        let Some(server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let (first, second) = (server.store(spool.path()), server.store(spool.path()));
        first.submit(job("a"), b"a", audit("s")).unwrap();
        // The same upload again (a retry) queues nothing new.
        second.submit(job("a"), b"a", audit("s")).unwrap();
        let work = taken(&first, 500);
        let ids: Vec<&str> = work.iter().map(|w| w.job.0.as_str()).collect();
        assert_eq!(ids, vec!["a"]);
        // Taken, not done: nobody else gets it within the ack wait...
        assert!(taken(&second, 300).is_empty());
        drop(work); // ...its worker dies...
        std::thread::sleep(Duration::from_millis(1200));
        // ...and another worker gets it after the ack wait (1 s here).
        // (One at a time: a batch still open past the ack wait would get
        // its own unacked message again.)
        let again = taken_one(&second, 2000);
        assert_eq!(again.len(), 1, "the job comes back");
        for work in again {
            work.done();
        }
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            taken(&first, 500).is_empty(),
            "a job done is not handed out again"
        );
    }

    #[test]
    fn requeueing_hands_out_the_pending_jobs_only() {
        use super::super::WorkQueue;
        let Some(server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let store = server.store(spool.path());
        store.submit(job("a"), b"a", audit("s")).unwrap();
        store.submit(job("b"), b"b", audit("s")).unwrap();
        store.finish(verdict("a"), None, Vec::new()).unwrap();
        // Queued, so nothing to requeue.
        assert_eq!(store.requeue_pending().unwrap(), 0);
        // Both messages gone, as if b's queueing had been lost to a crash.
        for work in taken(&store, 500) {
            work.done();
        }
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(store.requeue_pending().unwrap(), 1);
        assert_eq!(store.requeue_pending().unwrap(), 0, "queued once");
        let ids: Vec<String> = taken(&store, 500).into_iter().map(|w| w.job.0).collect();
        assert_eq!(ids, vec!["b"]);
    }

    #[test]
    fn a_duty_has_one_holder_and_passes_on_when_it_is_not_renewed() {
        let Some(server) = NatsServer::start() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let (first, second) = (server.store(spool.path()), server.store(spool.path()));
        assert!(first.hold_duty("accounts").unwrap());
        assert!(!second.hold_duty("accounts").unwrap());
        assert!(
            first.hold_duty("accounts").unwrap(),
            "renewed by its holder"
        );
        // Another duty is free.
        assert!(second.hold_duty("webhooks").unwrap());
        // The holder stops renewing (killed): after the TTL (1 s here) it passes on.
        std::thread::sleep(Duration::from_millis(1200));
        assert!(second.hold_duty("accounts").unwrap());
        assert!(!first.hold_duty("accounts").unwrap());
    }

    /// Which of `secrets` some file under `dir` holds in the clear.
    fn in_the_clear(dir: &Path, secrets: &[&str]) -> Vec<String> {
        let mut hits = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else if let Ok(bytes) = std::fs::read(&path) {
                for secret in secrets {
                    if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                        hits.push(format!("{secret} in {}", path.display()));
                    }
                }
            }
        }
        hits
    }

    /// A job, its upload, verdict, review item and account, all naming
    /// the applicant, written through a store sealing with `sealer`.
    fn write_personal_data(server: &NatsServer, sealer: Sealer, secrets: [&str; 3]) {
        let [surname, number, account] = secrets;
        let spool = tempfile::tempdir().unwrap();
        let store = JetStreamStore::connect(&server.config(), sealer, spool.path()).unwrap();
        let upload = format!("P<UZB{surname}<<ZHAKHONGIR {number}");
        let mut job = job("a");
        job.account = account.into();
        job.blob = sha256_hex(upload.as_bytes());
        job.profile = Some(intake_models::Profile {
            surname: Some(surname.into()),
            document_number: Some(number.into()),
            ..Default::default()
        });
        let mut submitted = audit("job_submitted");
        submitted.account = account.into();
        store
            .submit(job.clone(), upload.as_bytes(), submitted)
            .unwrap();
        let mut entry = verdict("a");
        entry.account = account.into();
        entry.comment = Some(format!("{surname} {number}"));
        let mut item = review("a");
        item.account = account.into();
        store.finish(entry, Some(item), Vec::new()).unwrap();
        let projected = Account {
            id: account.into(),
            ..Account::default()
        };
        store
            .save_accounts(&[projected], None, Vec::new(), Vec::new())
            .unwrap();
        assert_eq!(
            store.job(&job.id).unwrap().unwrap().account,
            account,
            "it reads its own"
        );
        assert_eq!(store.blob(&job.blob).unwrap().unwrap(), upload.as_bytes());
    }

    #[test]
    fn the_servers_files_hold_no_personal_data_in_the_clear() {
        let secrets = ["KHODZHAEV", "OL4676496", "khodzhaev-zhakhongir-20010807"];
        let Some(server) = NatsServer::start() else {
            return;
        };
        write_personal_data(&server, sealer(), secrets);
        let hits = in_the_clear(server.dir(), &secrets);
        assert!(hits.is_empty(), "personal data in the clear: {hits:?}");
        // Unsealed, the same search finds them: it would see them.
        let Some(plain) = NatsServer::start() else {
            return;
        };
        write_personal_data(&plain, Sealer::plain(), secrets);
        assert!(!in_the_clear(plain.dir(), &secrets).is_empty());
    }

    #[test]
    fn a_prefix_that_is_no_name_is_refused() {
        let config = JetStreamConfig {
            prefix: "a.b".into(),
            ..JetStreamConfig::default()
        };
        let spool = tempfile::tempdir().unwrap();
        let opened = JetStreamStore::connect(&config, sealer(), spool.path());
        assert!(matches!(opened, Err(StoreError::JetStream { .. })));
    }
}
