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
    Account, AccountStatus, Actor, Change, JobId, JobState, Notice, ReviewItem, Verdict,
    VerdictEntry,
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
);

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
