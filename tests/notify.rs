//! Notifications through a real `intake serve`: webhooks to a local portal
//! (an axum server here) that checks every signature and de-duplicates by
//! idempotency key, across a `kill -9` of the service between commit and
//! delivery; and the SSE stream of all accounts, resumed without gaps or
//! repeats.

use crate::api::{decided, schema_errors, upload, Server, AUDITOR, UPLOADER, UPLOADER_A};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use intake::service::notify::{
    sign, verify, SignatureError, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "portal-and-intake-share-this-secret";

/// One delivery the portal accepted.
#[derive(Clone)]
struct Delivery {
    key: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    event: Value,
}

#[derive(Default)]
struct Inbox {
    /// Answer 500 to every correctly signed delivery.
    failing: bool,
    /// How long the portal takes to answer after taking a delivery in.
    delay: Duration,
    refused: usize,
    bad_signatures: usize,
    accepted: Vec<Delivery>,
}

/// The portal's webhook receiver on loopback.
struct Portal {
    url: String,
    inbox: Arc<Mutex<Inbox>>,
    _runtime: tokio::runtime::Runtime,
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Takes a delivery in: its outcome, and how long to wait before answering.
fn take_in(inbox: &Mutex<Inbox>, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Duration) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (timestamp, signature, key) = (
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        header(IDEMPOTENCY_HEADER),
    );
    let mut inbox = inbox.lock().unwrap();
    let checked = verify(
        SECRET.as_bytes(),
        &timestamp,
        body,
        &signature,
        unix_seconds(),
        300,
    );
    if checked.is_err() {
        inbox.bad_signatures += 1;
        return (StatusCode::UNAUTHORIZED, Duration::ZERO);
    }
    if inbox.failing {
        inbox.refused += 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO);
    }
    let event: Value = serde_json::from_slice(body).expect("the body is JSON");
    inbox.accepted.push(Delivery {
        key,
        timestamp,
        signature,
        body: body.to_vec(),
        event,
    });
    (StatusCode::NO_CONTENT, inbox.delay)
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (status, delay) = take_in(&inbox, &headers, &body);
    tokio::time::sleep(delay).await;
    status
}

impl Portal {
    fn start(failing: bool) -> Portal {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let inbox = Arc::new(Mutex::new(Inbox {
            failing,
            ..Inbox::default()
        }));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/intake/events", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/intake/events", axum::routing::post(receive))
            .with_state(inbox.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Portal {
            url,
            inbox,
            _runtime: runtime,
        }
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap()
    }
}

/// An SSE event as read off the wire.
#[derive(Debug, Clone, PartialEq)]
struct Sse {
    id: u64,
    name: String,
    data: Value,
}

/// Reads `path`'s event stream until it has been quiet for `quiet`, or
/// until `until` events were read.
fn read_stream(
    server: &Server,
    path: &str,
    token: &str,
    last_event_id: Option<u64>,
    quiet: Duration,
    until: usize,
) -> Vec<Sse> {
    let agent = ureq::AgentBuilder::new().timeout_read(quiet).build();
    let mut request = agent
        .get(&server.url(path))
        .set("Authorization", &format!("Bearer {token}"));
    if let Some(id) = last_event_id {
        request = request.set("Last-Event-ID", &id.to_string());
    }
    let response = request.call().expect("the event stream opens");
    assert_eq!(response.content_type(), "text/event-stream");
    let mut events = Vec::new();
    let (mut id, mut name, mut data) = (None, String::new(), String::new());
    // A read timeout ends the stream: it has been quiet for `quiet`.
    for line in BufReader::new(response.into_reader()).lines() {
        let Ok(line) = line else { break };
        if let Some(v) = line.strip_prefix("id: ") {
            id = v.parse().ok();
        } else if let Some(v) = line.strip_prefix("event: ") {
            name = v.to_string();
        } else if let Some(v) = line.strip_prefix("data: ") {
            data = v.to_string();
        } else if line.is_empty() && !data.is_empty() {
            events.push(Sse {
                id: id.take().expect("every event has an id"),
                name: std::mem::take(&mut name),
                data: serde_json::from_str(&std::mem::take(&mut data)).unwrap(),
            });
            if events.len() == until {
                break;
            }
        }
    }
    events
}

/// Every event committed so far, from the all-accounts stream.
fn all_events(server: &Server) -> Vec<Sse> {
    read_stream(
        server,
        "/v1/events",
        AUDITOR,
        None,
        Duration::from_secs(2),
        usize::MAX,
    )
}

fn job_of(reply: crate::api::Reply) -> String {
    assert_eq!(
        reply.status,
        202,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["job_id"].as_str().unwrap().to_string()
}

/// One person's document (`intake_samples::one_person`) on `acc-ok`, with
/// its matching profile: the account verifies.
fn persons(server: &Server, kind: &str, file: &str) -> String {
    let profile = crate::accounts::profile(kind, "matching");
    let reply = crate::accounts::upload(server, "acc-ok", kind, file, &profile);
    reply["job_id"].as_str().unwrap().to_string()
}

/// Uploads documents of three accounts, waits for their verdicts, and for
/// the account statuses (reading an account applies the verdicts so far);
/// returns the job ids.
fn upload_three_accounts(server: &Server) -> Vec<String> {
    let jobs = vec![
        persons(server, "passport", "passport.jpg"),
        persons(server, "visa", "visa.jpg"),
        job_of(upload(
            server,
            UPLOADER,
            "acc-fix",
            "passport",
            "passport_scan.bmp",
            None,
        )),
        job_of(upload(
            server,
            UPLOADER,
            "acc-a",
            "passport",
            "passport.jpg",
            Some("passport.mismatch_surname.json"),
        )),
    ];
    for job in &jobs {
        decided(server, UPLOADER, job);
    }
    for account in ["acc-ok", "acc-fix", "acc-a"] {
        let url = server.url(&format!("/v1/accounts/{account}"));
        let reply = crate::api::send("GET", &url, Some(UPLOADER), crate::api::Body::None);
        assert_eq!(reply.status, 200);
    }
    jobs
}

/// The account's status now.
fn status_of(server: &Server, account: &str) -> Value {
    let url = server.url(&format!("/v1/accounts/{account}"));
    crate::api::send("GET", &url, Some(UPLOADER), crate::api::Body::None).json()["status"].clone()
}

/// What every committed event must satisfy: one verdict event per job, in
/// seq order; each account's status events chain (`previous` is the
/// status of the one before) and the last is its status now; labels in
/// Russian; no personal data.
fn check_events(server: &Server, events: &[Sse], jobs: &[String]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.id).collect();
    let expected: Vec<u64> = (1..=events.len() as u64).collect();
    assert_eq!(seqs, expected, "the outbox has no gaps");
    let verdict_jobs: Vec<&str> = events
        .iter()
        .filter(|e| e.name == "verdict")
        .map(|e| e.data["job"].as_str().unwrap())
        .collect();
    for job in jobs {
        assert_eq!(
            verdict_jobs.iter().filter(|j| *j == job).count(),
            1,
            "one verdict event for job {job}: {verdict_jobs:?}"
        );
    }
    let mut last_status: BTreeMap<String, Value> = BTreeMap::new();
    let schema = json!({"$ref": "#/$defs/OutboxEvent"});
    for event in events {
        let errors = schema_errors(&schema, &event.data);
        assert!(errors.is_empty(), "{errors:?} in {}", event.data);
        assert_eq!(event.data["seq"], event.id);
        assert_eq!(event.data["type"], event.name.as_str());
        let account = event.data["account"].as_str().unwrap().to_string();
        if event.name == "status" {
            let previous = last_status.get(&account).cloned().unwrap_or(Value::Null);
            assert_eq!(event.data["previous"], previous, "{:?}", event.data);
            last_status.insert(account, event.data["status"].clone());
        }
    }
    for (account, status) in &last_status {
        assert_eq!(
            &status_of(server, account),
            status,
            "the last status event of {account} is its status now"
        );
    }
    assert_eq!(last_status["acc-ok"], "verified");
    assert_eq!(last_status["acc-fix"], "needs_correction");
    let labels: BTreeSet<(String, String)> = events
        .iter()
        .filter(|e| e.name == "status")
        .map(|e| {
            let field = |k: &str| e.data[k].as_str().unwrap().to_string();
            (field("status"), field("status_ru"))
        })
        .collect();
    assert!(labels.contains(&("verified".into(), "подтверждён".into())));
    assert!(labels.contains(&("needs_correction".into(), "требуется дополнение".into())));
    let text: String = events.iter().map(|e| e.data.to_string()).collect();
    let persons_surname = crate::accounts::profile("passport", "matching")["surname"].clone();
    assert!(!text.contains(persons_surname.as_str().unwrap()));
    for secret in [
        "KHODZHAEV",
        "ZHAKHONGIR",
        "OL4676496",
        "2001-08-07",
        "2027-06-01",
    ] {
        assert!(!text.contains(secret), "{secret} in the events");
    }
}

#[test]
fn webhooks_deliver_every_event_once_per_key_in_order_across_a_kill_9() {
    let portal = Portal::start(true);
    let secret_dir = tempfile::tempdir().unwrap();
    let secret_file = secret_dir.path().join("webhook.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let mut server = Server::start(&format!(
        "[webhooks]\nurl = {:?}\nsecret_file = {:?}\ninitial_backoff_ms = 50\nmax_backoff_ms = 400\n",
        portal.url,
        secret_file.display().to_string()
    ));
    let jobs = upload_three_accounts(&server);
    let committed = all_events(&server);
    assert!(committed.len() >= jobs.len() + 3, "{committed:?}");
    // The portal refuses for a while: the events are committed, not delivered.
    let deadline = Instant::now() + Duration::from_secs(30);
    while portal.inbox().refused < 3 {
        assert!(
            Instant::now() < deadline,
            "no delivery attempt reached the portal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(portal.inbox().accepted.is_empty());
    server.kill();
    // The portal takes deliveries in but answers slowly; the service is
    // killed again while it waits for an answer: that delivery was taken
    // in, not marked delivered, so it must come again under its key.
    {
        let mut inbox = portal.inbox();
        inbox.failing = false;
        inbox.delay = Duration::from_millis(1000);
    }
    server.restart("2026-06-01");
    let deadline = Instant::now() + Duration::from_secs(30);
    while portal.inbox().accepted.len() < 3 {
        assert!(Instant::now() < deadline, "no delivery after the restart");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    assert!(portal.inbox().accepted.len() < committed.len());
    portal.inbox().delay = Duration::ZERO;
    server.restart("2026-06-01");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let keys: BTreeSet<String> = portal
            .inbox()
            .accepted
            .iter()
            .map(|d| d.key.clone())
            .collect();
        if keys.len() >= committed.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} events delivered",
            keys.len(),
            committed.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Nothing new was committed meanwhile: the stream is the ground truth.
    let committed = all_events(&server);
    check_events(&server, &committed, &jobs);
    let inbox = portal.inbox();
    assert_eq!(inbox.bad_signatures, 0, "every delivery was signed right");
    // De-duplicated by key, the portal has exactly the committed events...
    let mut first: BTreeMap<String, &Delivery> = BTreeMap::new();
    let mut arrivals = Vec::new();
    for delivery in &inbox.accepted {
        assert_eq!(delivery.event["idempotency_key"], delivery.key.as_str());
        match first.get(&delivery.key) {
            // A resend is the same event under the same key.
            Some(earlier) => assert_eq!(earlier.event, delivery.event),
            None => {
                first.insert(delivery.key.clone(), delivery);
                arrivals.push(delivery.event["seq"].as_u64().unwrap());
            }
        }
    }
    let delivered: BTreeMap<u64, Value> = first
        .values()
        .map(|d| (d.event["seq"].as_u64().unwrap(), d.event.clone()))
        .collect();
    let expected: BTreeMap<u64, Value> = committed.iter().map(|e| (e.id, e.data.clone())).collect();
    assert_eq!(
        delivered, expected,
        "the webhook bodies are the stream's events"
    );
    // ...which first arrived in sequence order.
    assert!(arrivals.windows(2).all(|w| w[0] < w[1]), "{arrivals:?}");
    assert!(
        inbox.accepted.len() > first.len(),
        "the delivery cut by the kill came again"
    );
    eprintln!(
        "{} events, {} deliveries accepted, {} refused",
        committed.len(),
        inbox.accepted.len(),
        inbox.refused
    );
    // A tampered body, or one signed with another secret, fails verification.
    let sample = &inbox.accepted[0];
    let now = unix_seconds();
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &sample.timestamp,
            &sample.body,
            &sample.signature,
            now,
            300
        ),
        Ok(())
    );
    let mut tampered = sample.body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &sample.timestamp,
            &tampered,
            &sample.signature,
            now,
            300
        ),
        Err(SignatureError::Mismatch)
    );
    let forged = sign(b"not the portal's secret", &sample.timestamp, &sample.body);
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &sample.timestamp,
            &sample.body,
            &forged,
            now,
            300
        ),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn the_event_stream_of_all_accounts_resumes_without_gaps_or_repeats() {
    let server = Server::start("");
    let jobs = upload_three_accounts(&server);
    let full = all_events(&server);
    check_events(&server, &full, &jobs);
    let names: BTreeSet<&str> = full.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["status", "verdict"]));
    // Resumed after any event, by Last-Event-ID or ?after=: the rest, exactly.
    let quiet = Duration::from_secs(2);
    for cut in [0, full.len() / 2, full.len() - 1] {
        let seen = full[cut].id;
        let resumed = read_stream(
            &server,
            "/v1/events",
            AUDITOR,
            Some(seen),
            quiet,
            usize::MAX,
        );
        assert_eq!(resumed, full[cut + 1..], "after Last-Event-ID {seen}");
        let path = format!("/v1/events?after={seen}");
        let resumed = read_stream(&server, &path, AUDITOR, None, quiet, usize::MAX);
        assert_eq!(resumed, full[cut + 1..], "after ?after={seen}");
    }
    // One account's stream is the same feed, filtered; so is a limited uploader's.
    let mine: Vec<Sse> = full
        .iter()
        .filter(|e| e.data["account"] == "acc-a")
        .cloned()
        .collect();
    let account = read_stream(
        &server,
        "/v1/accounts/acc-a/events",
        UPLOADER,
        None,
        quiet,
        usize::MAX,
    );
    assert_eq!(account, mine);
    let limited = read_stream(&server, "/v1/events", UPLOADER_A, None, quiet, usize::MAX);
    assert_eq!(limited, mine);
    // A new commit reaches an open stream without a poll of the store.
    let last = full.last().unwrap().id;
    let live = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            read_stream(
                &server,
                "/v1/events",
                AUDITOR,
                Some(last),
                Duration::from_secs(60),
                1,
            )
        });
        std::thread::sleep(Duration::from_millis(300));
        let job = job_of(upload(
            &server,
            UPLOADER,
            "acc-new",
            "passport",
            "passport_scan.bmp",
            None,
        ));
        (reader.join().unwrap(), job)
    });
    let (events, job) = live;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, last + 1);
    assert_eq!(events[0].name, "verdict");
    assert_eq!(events[0].data["job"], job.as_str());
    assert_eq!(events[0].data["verdict"], "needs_correction");
}
