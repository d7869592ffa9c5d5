//! The HTTP API through a real `intake serve` on loopback: every response is
//! checked against the OpenAPI document `intake openapi` generates; every route refuses a
//! missing token (401) and the wrong role (403).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TOKENS: &str = r#"
[[server.tokens]]
token = "uploader-token-7f3a9c1e5b2d4086a1c3"
role = "uploader"
name = "portal"

[[server.tokens]]
token = "uploader-a-token-2b8e6d4f0a9c1e3b57"
role = "uploader"
name = "portal-a"
accounts = ["acc-a"]

[[server.tokens]]
token = "reviewer-1-token-9d1f3b5a7c2e4f6081"
role = "reviewer"
name = "r1"

[[server.tokens]]
token = "reviewer-2-token-4e6a8c0b2d4f6a8c13"
role = "reviewer"
name = "r2"

[[server.tokens]]
# by its SHA-256: the config holds no usable secret
token_sha256 = "6361fe57e64fc42229a873b5e033e68530e250c7d01a3bf781e3ce29abce8842"
role = "auditor"
name = "audit"

[[server.tokens]]
token = "admin-token-1a3c5e7b9d2f4a6c8e0b2"
role = "admin"
name = "root"
"#;

pub const UPLOADER: &str = "uploader-token-7f3a9c1e5b2d4086a1c3";
pub const UPLOADER_A: &str = "uploader-a-token-2b8e6d4f0a9c1e3b57";
pub const REVIEWER: &str = "reviewer-1-token-9d1f3b5a7c2e4f6081";
pub const REVIEWER_2: &str = "reviewer-2-token-4e6a8c0b2d4f6a8c13";
pub const AUDITOR: &str = "auditor-token-6c8e0a2c4e6b8d0f2a4c";
pub const ADMIN: &str = "admin-token-1a3c5e7b9d2f4a6c8e0b2";

/// A running `intake serve` with its store in a temporary directory.
pub struct Server {
    pub base: String,
    /// Its `pipeline.toml`.
    pub config: PathBuf,
    child: Child,
    /// The descriptor limit it runs under, if one is set.
    descriptors: Option<u64>,
    /// Its store's directory.
    store: PathBuf,
    /// Holds the store and config until the server is dropped.
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `intake serve`, under a descriptor limit (soft and hard) if one is
/// given; its log goes on to `serve.log` beside the config.
fn spawn_serve(config: &Path, today: &str, descriptors: Option<u64>) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.with_file_name("serve.log"))
        .expect("a log file");
    let mut command = match descriptors {
        // `exec` keeps the pid: the tests read the server's /proc entries.
        Some(n) => {
            let mut sh = Command::new("sh");
            sh.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\"")])
                .arg(env!("CARGO_BIN_EXE_intake"));
            sh
        }
        None => Command::new(env!("CARGO_BIN_EXE_intake")),
    };
    command
        .args(["serve", "--config"])
        .arg(config)
        .args(["--today", today])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("intake serve starts")
}

impl Server {
    /// Starts the server with `extra` TOML appended to its config.
    pub fn start(extra: &str) -> Server {
        Server::start_limited(extra, "", None)
    }

    /// Starts the server as [`Server::start`] does, with `server_keys` in
    /// its `[server]` table and at most `descriptors` open files if given.
    pub fn start_limited(extra: &str, server_keys: &str, descriptors: Option<u64>) -> Server {
        Server::launch(extra, server_keys, descriptors, None)
    }

    /// Starts the server as [`Server::start`] does, its store in `store`.
    pub fn start_on(store: &Path, extra: &str) -> Server {
        Server::launch(extra, "", None, Some(store.to_path_buf()))
    }

    fn launch(
        extra: &str,
        server_keys: &str,
        descriptors: Option<u64>,
        store: Option<PathBuf>,
    ) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let store = store.unwrap_or_else(|| dir.path().join("intake.db"));
        let key = dir.path().join("intake.key");
        let keygen = crate::intake(&["keygen", "--out", key.to_str().unwrap()]);
        assert!(keygen.status.success());
        let config = dir.path().join("pipeline.toml");
        std::fs::write(
            &config,
            format!(
                "{extra}\n{}\n[server]\nlisten = \"127.0.0.1:{port}\"\n{server_keys}\n{TOKENS}",
                crate::store_toml(&store, &key.display().to_string()),
            ),
        )
        .unwrap();
        let child = spawn_serve(&config, "2026-06-01", descriptors);
        let server = Server {
            base: format!("http://127.0.0.1:{port}"),
            config,
            child,
            descriptors,
            store,
            _dir: dir,
        };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&self.url("/healthz")).call().is_err() {
            assert!(Instant::now() < deadline, "intake serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server and starts it again on the same store, its clock
    /// set to `today`.
    pub fn restart(&mut self, today: &str) {
        self.kill();
        self.child = spawn_serve(&self.config, today, self.descriptors);
        self.wait_healthy();
    }

    /// Stops the server (SIGKILL: nothing is owed to it), freeing its store.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGKILL, from another thread while clients are still sending.
    pub fn kill_now(&self) {
        let _ = Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status();
    }

    /// The server's process id (for its /proc entries).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Its store's directory.
    pub fn store(&self) -> PathBuf {
        self.store.clone()
    }

    /// What it has logged so far (every run on this store).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config.with_file_name("serve.log")).unwrap_or_default()
    }
}

/// One HTTP exchange, its response read in full.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

/// Sends a request and checks the reply against the OpenAPI document.
pub fn send(method: &str, url: &str, token: Option<&str>, body: Body) -> Reply {
    send_with(method, url, token, &[], body)
}

/// [`send`] with more request headers.
pub fn send_with(
    method: &str,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Body,
) -> Reply {
    let mut request = agent().request(method, url);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let result = match body {
        Body::None => request.call(),
        Body::Json(v) => request.send_json(v),
        Body::Multipart(bytes) => request
            .set(
                "Content-Type",
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .send_bytes(&bytes),
        Body::Raw(content_type, bytes) => {
            request.set("Content-Type", content_type).send_bytes(&bytes)
        }
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let content_type = response.content_type().to_string();
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    let mut body = Vec::new();
    response
        .into_reader()
        .take(50 << 20)
        .read_to_end(&mut body)
        .unwrap();
    let reply = Reply {
        status,
        content_type,
        headers,
        body,
    };
    conforms(method, url, &reply);
    reply
}

pub enum Body {
    None,
    Json(Value),
    Multipart(Vec<u8>),
    /// Bytes with the content type given.
    Raw(&'static str, Vec<u8>),
}

pub const BOUNDARY: &str = "intake-test-boundary-7d1f";

/// A multipart form: (name, file name, bytes) for each part.
pub fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend(format!("--{BOUNDARY}\r\n").bytes());
        match file_name {
            Some(f) => body.extend(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").bytes(),
            ),
            None => body.extend(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").bytes());
    body
}

pub fn committed(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("samples/committed").join(name)).expect("committed sample")
}

/// Uploads a committed sample for `account`.
pub fn upload(
    server: &Server,
    token: &str,
    account: &str,
    kind: &str,
    file: &str,
    profile: Option<&str>,
) -> Reply {
    let bytes = committed(file);
    let profile = profile.map(|p| committed(&format!("profiles/{p}")));
    let mut parts: Vec<(&str, Option<&str>, &[u8])> = vec![
        ("kind", None, kind.as_bytes()),
        ("file", Some(file), &bytes),
    ];
    if let Some(p) = &profile {
        parts.push(("profile", None, p));
    }
    let url = server.url(&format!("/v1/accounts/{account}/documents"));
    send("POST", &url, Some(token), Body::Multipart(form(&parts)))
}

/// Polls the job until the pipeline has decided it.
pub fn decided(server: &Server, token: &str, job: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = send(
            "GET",
            &server.url(&format!("/v1/jobs/{job}")),
            Some(token),
            Body::None,
        );
        assert_eq!(reply.status, 200);
        let job = reply.json();
        if job["state"] != "pending" {
            return job;
        }
        assert!(Instant::now() < deadline, "no verdict for {job}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `/metrics` as an auditor reads it.
pub fn scrape(server: &Server) -> String {
    let reply = send("GET", &server.url("/metrics"), Some(AUDITOR), Body::None);
    assert_eq!(reply.status, 200);
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// The value of the first series `name` of a scrape whose labels include `labels`.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.trim_end_matches('}')),
                None => (series, ""),
            };
            let wanted = series_name == name
                && labels.iter().all(|(key, want)| {
                    series_labels
                        .split(',')
                        .any(|pair| pair == format!("{key}=\"{want}\""))
                });
            wanted.then(|| value.parse().ok()).flatten()
        })
}

/// Jobs without a verdict, from `/metrics`.
pub fn pending_jobs(server: &Server) -> u64 {
    let text = scrape(server);
    sample(&text, "intake_jobs_pending", &[]).expect("the pending gauge") as u64
}

/// The OpenAPI document as `intake openapi` generates it from the code,
/// with its component schemas as `$defs` so that a JSON Schema validator
/// resolves the references.
fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let out = crate::intake(&["openapi"]);
        assert!(out.status.success(), "intake openapi failed");
        let text = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str(&text.replace("#/components/schemas/", "#/$defs/")).unwrap()
    })
}

/// The documented operation whose path template matches `path`.
fn operation(method: &str, path: &str) -> Option<(&'static str, &'static Value)> {
    let paths = openapi()["paths"].as_object()?;
    let segments: Vec<&str> = path.split('/').collect();
    paths.iter().find_map(|(template, ops)| {
        let parts: Vec<&str> = template.split('/').collect();
        let fits = parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| t.starts_with('{') || t == s);
        let op = ops.get(method.to_lowercase())?;
        fits.then_some((template.as_str(), op))
    })
}

/// How `value` departs from `schema`, whose references name the OpenAPI
/// document's component schemas as `#/$defs/NAME`.
pub fn schema_errors(schema: &Value, value: &Value) -> Vec<String> {
    let mut schema = schema.clone();
    schema["$defs"] = openapi()["components"]["schemas"].clone();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

/// Asserts that the reply is one the OpenAPI document describes.
fn conforms(method: &str, url: &str, reply: &Reply) {
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let (template, op) =
        operation(method, path).unwrap_or_else(|| panic!("{method} {path} is not in openapi.json"));
    let documented = &op["responses"][reply.status.to_string()];
    assert!(
        documented.is_object(),
        "{method} {template} answered {} which openapi.json does not list",
        reply.status
    );
    let Some(content) = documented["content"].as_object() else {
        return;
    };
    let media = reply.content_type.as_str();
    let (_, spec) = content
        .iter()
        .find(|(m, _)| m.as_str() == media)
        .unwrap_or_else(|| {
            panic!(
                "{method} {template} {}: content type {media} is not documented",
                reply.status
            )
        });
    if media != "application/json" {
        return;
    }
    let body = reply.json();
    let errors = schema_errors(&spec["schema"], &body);
    assert!(
        errors.is_empty(),
        "{method} {template} {}: the body does not match openapi.json: {errors:?}\n{body}",
        reply.status
    );
}

#[test]
fn an_upload_is_decided_reviewed_and_its_account_follows() {
    let launched = std::time::SystemTime::now();
    let server = Server::start("");
    let started = Instant::now();
    let first = upload(
        &server,
        UPLOADER,
        "acc-1",
        "passport",
        "passport.jpg",
        Some("passport.mismatch_surname.json"),
    );
    assert_eq!(
        first.status,
        202,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let job = first.json()["job_id"].as_str().unwrap().to_string();
    let again = upload(
        &server,
        UPLOADER,
        "acc-1",
        "passport",
        "passport.jpg",
        Some("passport.mismatch_surname.json"),
    );
    assert_eq!(again.status, 202);
    assert_eq!(again.json()["job_id"], job.as_str());
    assert_eq!(again.json()["resubmitted"], true);
    // Another person's visa goes to another account (on acc-1 it would be a
    // `cross_document_mismatch`, tested in tests/accounts.rs).
    let visa = upload(
        &server,
        UPLOADER,
        "acc-2",
        "visa",
        "visa.jpg",
        Some("visa.matching.json"),
    );
    let visa = visa.json()["job_id"].as_str().unwrap().to_string();

    let decided_job = decided(&server, UPLOADER, &job);
    assert_eq!(decided_job["state"], "in_review");
    assert_eq!(decided_job["verdict"]["verdict"], "needs_review");
    assert_eq!(
        decided(&server, UPLOADER, &visa)["verdict"]["verdict"],
        "accepted"
    );
    let account = send(
        "GET",
        &server.url("/v1/accounts/acc-1"),
        Some(UPLOADER),
        Body::None,
    )
    .json();
    assert_eq!(account["status"], "in_review");

    let queue = send("GET", &server.url("/v1/review"), Some(REVIEWER), Body::None).json();
    assert_eq!(queue["items"].as_array().unwrap().len(), 1);
    assert_eq!(queue["items"][0]["job_id"], job.as_str());
    assert_eq!(queue["next_cursor"], Value::Null);
    // The flagged document waits: its age, by the service's clock, is
    // within the time since it was uploaded.
    let waiting = scrape(&server);
    assert_eq!(
        sample(&waiting, "intake_review_queue_depth", &[]),
        Some(1.0)
    );
    let age = sample(&waiting, "intake_review_oldest_age_seconds", &[]).expect("the age gauge");
    assert!(
        age > 0.0 && age <= started.elapsed().as_secs_f64(),
        "{age} s"
    );
    let claim = server.url(&format!("/v1/review/{job}/claim"));
    assert_eq!(send("POST", &claim, Some(REVIEWER), Body::None).status, 200);
    assert_eq!(
        send("POST", &claim, Some(REVIEWER_2), Body::None).status,
        409
    );
    let held = send(
        "GET",
        &server.url("/v1/review"),
        Some(REVIEWER_2),
        Body::None,
    )
    .json();
    let held = &held["items"][0];
    assert_eq!(held["claimed_by"], "r1");
    for instant in ["since", "claimed_since", "claimed_until"] {
        let text = held[instant].as_str().unwrap_or_default();
        assert!(
            text.starts_with("2026-") && text.ends_with('Z'),
            "{instant}: {held}"
        );
    }
    // Only the claimant releases; the item is then free for another.
    let release = server.url(&format!("/v1/review/{job}/release"));
    assert_eq!(
        send("POST", &release, Some(REVIEWER_2), Body::None).status,
        409
    );
    let released = send("POST", &release, Some(REVIEWER), Body::None);
    assert_eq!(released.status, 200);
    assert_eq!(released.json()["released_by"], "r1");
    assert_eq!(
        send("POST", &claim, Some(REVIEWER_2), Body::None).status,
        200
    );
    assert_eq!(
        send("POST", &release, Some(REVIEWER_2), Body::None).status,
        200
    );
    assert_eq!(send("POST", &claim, Some(REVIEWER), Body::None).status, 200);
    let me = send("GET", &server.url("/v1/me"), Some(REVIEWER), Body::None).json();
    assert_eq!(
        (&me["name"], &me["role"]),
        (&json!("r1"), &json!("reviewer"))
    );
    let decision = server.url(&format!("/v1/review/{job}/decision"));
    let correct =
        json!({"decision": "correct", "items": ["surname"], "comment": "as in the passport"});
    assert_eq!(
        send(
            "POST",
            &decision,
            Some(REVIEWER_2),
            Body::Json(correct.clone())
        )
        .status,
        409
    );
    let bad = json!({"decision": "correct", "items": ["shoe_size"]});
    assert_eq!(
        send("POST", &decision, Some(REVIEWER), Body::Json(bad)).status,
        400
    );
    let done = send("POST", &decision, Some(REVIEWER), Body::Json(correct));
    assert_eq!(done.status, 200);
    let done = done.json();
    assert_eq!(done["account"]["status"], "needs_correction");
    assert_eq!(done["account"]["items"][0]["code"], "correction_requested");
    assert_eq!(done["account"]["items"][0]["field"], "surname");

    let reviewed = send(
        "GET",
        &server.url(&format!("/v1/jobs/{job}")),
        Some(REVIEWER),
        Body::None,
    )
    .json();
    assert_eq!(reviewed["state"], "reviewed");
    assert_eq!(reviewed["review"]["by"]["id"], "r1");
    assert_eq!(reviewed["review"]["comment"], "as in the passport");

    // The account's events: verdicts and status changes, each status the
    // one after its change, up to the reviewer's request; they resume
    // after the given id.
    let events = sse_events(&server, "acc-1", UPLOADER, None, |e| {
        e["type"] == "status" && e["status"] == "needs_correction"
    });
    let last = events.last().unwrap();
    assert_eq!(last["by"]["id"], "r1");
    assert_eq!(last["status_ru"], "требуется дополнение");
    assert_eq!(last["items"][0]["field"], "surname");
    let reviewed = events
        .iter()
        .find(|e| e["type"] == "verdict" && e["by"]["id"] == "r1")
        .expect("the reviewer's verdict");
    assert_eq!(reviewed["verdict"], "needs_correction");
    let ids: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let resumed = sse_events(&server, "acc-1", UPLOADER, Some(ids[1]), |_| true);
    assert_eq!(resumed[0]["seq"], ids[2]);

    for region in ["page", "mrz"] {
        let url = server.url(&format!("/v1/jobs/{job}/image?region={region}"));
        let png = send("GET", &url, Some(REVIEWER), Body::None);
        assert_eq!(png.status, 200);
        assert!(png.body.starts_with(b"\x89PNG"), "{region} is a PNG");
    }
    let audit = send(
        "GET",
        &server.url("/v1/accounts/acc-1/audit"),
        Some(AUDITOR),
        Body::None,
    )
    .json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"review_resolved"), "{actions:?}");
    assert!(actions.contains(&"review_released"), "{actions:?}");
    let unknown = undocumented("GET", &server.url("/v1/nowhere/acc-1"));
    assert_eq!(unknown.0, 404);
    let text = scrape(&server);
    assert!(
        text.contains("intake_verdicts_total{verdict=\"needs_review\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("intake_findings_total{code=\"field_mismatch\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("intake_stage_duration_seconds_bucket{stage=\"ocr\""),
        "{text}"
    );
    assert!(text.contains("# TYPE intake_job_duration_seconds histogram"));
    assert!(text.contains("intake_review_queue_depth 0"), "{text}");
    assert_eq!(
        sample(&text, "intake_review_oldest_age_seconds", &[]),
        Some(0.0)
    );
    let decisions = |decision| {
        sample(
            &text,
            "intake_review_decisions_total",
            &[("decision", decision)],
        )
    };
    assert_eq!(
        (decisions("correct"), decisions("accept")),
        (Some(1.0), None)
    );
    // r1, r2 and r1 again claimed (r2 was refused once); r1 and r2 released.
    assert_eq!(sample(&text, "intake_review_claims_total", &[]), Some(3.0));
    assert_eq!(
        sample(&text, "intake_review_releases_total", &[]),
        Some(2.0)
    );
    // Requests by route template: the account and job ids stay out.
    let requests = |method, route, status| {
        sample(
            &text,
            "http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
        .unwrap_or(0.0)
    };
    assert!(
        requests("GET", "/v1/accounts/{account}", "200") >= 1.0,
        "{text}"
    );
    assert_eq!(
        requests("POST", "/v1/accounts/{account}/documents", "202"),
        3.0
    );
    assert_eq!(requests("POST", "/v1/review/{job}/decision", "409"), 1.0);
    assert_eq!(requests("POST", "/v1/review/{job}/decision", "400"), 1.0);
    assert_eq!(requests("POST", "/v1/review/{job}/decision", "200"), 1.0);
    assert_eq!(requests("GET", "unmatched", "404"), 1.0);
    assert!(text.contains("http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/accounts/{account}/documents\",le=\"0.5\"}"), "{text}");
    let process = |name| sample(&text, name, &[]).unwrap_or(0.0);
    assert!(process("process_resident_memory_bytes") > 1e6, "{text}");
    assert!(process("process_cpu_seconds_total") > 0.0, "{text}");
    assert!(process("process_threads") >= 2.0, "{text}");
    assert!(process("process_open_fds") >= 3.0, "{text}");
    assert!(process("process_max_fds") >= process("process_open_fds"));
    // The boot time it is counted from is in whole seconds.
    let unix_seconds = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let start = process("process_start_time_seconds");
    assert!(
        unix_seconds(launched) - 1.0 <= start
            && start <= unix_seconds(std::time::SystemTime::now()) + 1.0,
        "{start}"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(&text, "intake_build_info", &[("version", version)]),
        Some(1.0)
    );
    for secret in [
        "KHODZHAEV",
        "ZHAKHONGIR",
        "OL4676496",
        "2001-08-07",
        "acc-1",
        &job,
    ] {
        assert!(!text.contains(secret), "{secret} in the metrics");
    }
    let spec = send("GET", &server.url("/openapi.json"), None, Body::None).json();
    assert_eq!(spec["openapi"], "3.1.0");
}

/// Reads the account's stream, after `last_id` if given, up to the first
/// event `last` accepts.
fn sse_events(
    server: &Server,
    account: &str,
    token: &str,
    last_id: Option<u64>,
    last: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut request = agent()
        .get(&server.url(&format!("/v1/accounts/{account}/events")))
        .set("Authorization", &format!("Bearer {token}"));
    if let Some(id) = last_id {
        request = request.set("Last-Event-ID", &id.to_string());
    }
    let response = request.call().expect("the event stream opens");
    assert_eq!(response.content_type(), "text/event-stream");
    let mut events = Vec::new();
    for line in BufReader::new(response.into_reader()).lines() {
        let line = line.expect("the stream reads");
        if let Some(data) = line.strip_prefix("data: ") {
            let event = serde_json::from_str::<Value>(data).unwrap();
            let done = last(&event);
            events.push(event);
            if done {
                break;
            }
        }
    }
    events
}

/// An exchange outside the documented routes: status, `Allow`, JSON body.
fn undocumented(method: &str, url: &str) -> (u16, Option<String>, Value) {
    let response = match agent()
        .request(method, url)
        .set("Authorization", &format!("Bearer {ADMIN}"))
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let allow = response.header("allow").map(str::to_string);
    (status, allow, response.into_json().unwrap())
}

#[test]
fn conventions_404_405_415_location_and_unknown_accounts() {
    let server = Server::start("");
    // Every error has the error body, the router's own included.
    let (status, _, body) = undocumented("GET", &server.url("/v1/nowhere"));
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let error_body = json!({"$ref": "#/$defs/ErrorBody"});
    assert_eq!(schema_errors(&error_body, &body), Vec::<String>::new());
    let (status, allow, body) = undocumented("DELETE", &server.url("/healthz"));
    assert_eq!(schema_errors(&error_body, &body), Vec::<String>::new());
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("method_not_allowed")),
        "{body}"
    );
    assert!(
        allow.is_some_and(|a| a.contains("GET")),
        "405 without Allow"
    );
    // A body of the wrong type is 415, not 400.
    let url = server.url("/v1/accounts/acc-c/documents");
    let json_upload = send(
        "POST",
        &url,
        Some(UPLOADER),
        Body::Raw("application/json", b"{}".to_vec()),
    );
    assert_eq!(json_upload.status, 415, "{}", json_upload.json());
    let profile = server.url("/v1/accounts/acc-c/profile");
    let form_profile = send(
        "PUT",
        &profile,
        Some(UPLOADER),
        Body::Raw("text/plain", b"{}".to_vec()),
    );
    assert_eq!(form_profile.status, 415);
    // An account no upload was made for is 404; once one is, it exists.
    let account = server.url("/v1/accounts/acc-c");
    assert_eq!(
        send("GET", &account, Some(UPLOADER), Body::None).status,
        404
    );
    let accepted = upload(&server, UPLOADER, "acc-c", "passport", "passport.jpg", None);
    assert_eq!(accepted.status, 202);
    let job = accepted.json()["job_id"].as_str().unwrap().to_string();
    assert_eq!(
        accepted.header("location"),
        Some(format!("/v1/jobs/{job}").as_str())
    );
    let known = send("GET", &account, Some(UPLOADER), Body::None);
    assert_eq!(known.status, 200);
    assert_eq!(known.json()["account"], "acc-c");

    // What an operator checks while the service holds the store.
    decided(&server, UPLOADER, &job);
    let queue = send(
        "GET",
        &server.url("/v1/queue?limit=1"),
        Some(AUDITOR),
        Body::None,
    );
    assert_eq!(queue.json()["items"][0]["job"], job.as_str());
    assert!(queue.json()["items"][0]["at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    // Lists come a page at a time: walking the audit log one entry per page
    // gives every entry once, in order, and the last page says so.
    let audit = server.url("/v1/accounts/acc-c/audit");
    let whole = send("GET", &audit, Some(AUDITOR), Body::None).json();
    let mut walked = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!("{audit}?limit=1&cursor={cursor}");
        let page = send("GET", &url, Some(AUDITOR), Body::None).json();
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        walked.push(page["items"][0]["seq"].clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    let seqs: Vec<Value> = whole["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].clone())
        .collect();
    assert!(seqs.len() >= 2, "{whole}");
    assert_eq!(walked, seqs);
    // The last cursor there can be is an empty page, not an overflow.
    let beyond = send(
        "GET",
        &server.url(&format!("/v1/queue?cursor={}", u64::MAX)),
        Some(AUDITOR),
        Body::None,
    );
    assert_eq!(beyond.status, 200);
    assert_eq!(beyond.json()["items"], json!([]));
    for bad in [
        "/v1/queue?cursor=first",
        "/v1/review?cursor=-1",
        "/v1/queue?limit=many",
    ] {
        let token = if bad.starts_with("/v1/review") {
            REVIEWER
        } else {
            AUDITOR
        };
        let refused = send("GET", &server.url(bad), Some(token), Body::None);
        assert_eq!(refused.status, 400, "{bad}");
    }
    let audit = send(
        "GET",
        &server.url("/v1/admin/audit/verify"),
        Some(AUDITOR),
        Body::None,
    );
    assert!(
        audit.json()["entries"].as_u64().unwrap() >= 2,
        "{}",
        audit.json()
    );
    assert_eq!(audit.json()["broken"], Value::Null);
    let accounts = send(
        "GET",
        &server.url("/v1/admin/accounts/verify"),
        Some(AUDITOR),
        Body::None,
    );
    assert_eq!(accounts.json()["differences"], json!([]));
}

#[test]
fn operator_commands_ask_the_running_service_that_holds_the_store() {
    if !crate::sled_only(
        "only sled's store is held by one process; on JetStream every command opens it",
    ) {
        return;
    }
    let server = Server::start("");
    let accepted = upload(
        &server,
        UPLOADER,
        "acc-op",
        "passport",
        "passport.jpg",
        Some("passport.mismatch_surname.json"),
    );
    let job = accepted.json()["job_id"].as_str().unwrap().to_string();
    decided(&server, UPLOADER, &job);
    let config = server.config.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--config", config]);
        let out = crate::intake(&args);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let (ok, out, err) = run(&["status", "acc-op"]);
    assert!(ok && out.starts_with("acc-op: "), "{out}{err}");
    let (ok, out, err) = run(&["review", "list"]);
    assert!(
        ok && out.contains(&job) && out.contains("field_mismatch"),
        "{out}{err}"
    );
    let (ok, out, err) = run(&["queue", "tail", "--brief"]);
    assert!(ok && out.contains(&job), "{out}{err}");
    let (ok, out, err) = run(&["audit", "acc-op"]);
    assert!(ok && out.contains("job_submitted"), "{out}{err}");
    let (ok, out, err) = run(&["audit", "verify"]);
    assert!(ok && out.contains("hash chain holds"), "{out}{err}");
    let (ok, out, err) = run(&["accounts", "verify"]);
    assert!(
        ok && out.contains("every account status equals"),
        "{out}{err}"
    );
    // An account nobody uploaded for: said once, with what to do.
    let (ok, _, err) = run(&["status", "nobody"]);
    assert!(!ok && err.matches("no verdict").count() == 1, "{err}");
    // Without a usable token the command says how to give one.
    let no_tokens = server.config.with_file_name("no-tokens.toml");
    let text = std::fs::read_to_string(&server.config).unwrap();
    let cut = text.find("[[server.tokens]]").unwrap();
    std::fs::write(&no_tokens, &text[..cut]).unwrap();
    let out = crate::intake(&["audit", "verify", "--config", no_tokens.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("INTAKE_TOKEN"),
        "{err}"
    );
    assert_eq!(err.matches("held by").count(), 1, "{err}");
}

#[test]
fn bad_uploads_get_clear_refusals() {
    let server = Server::start("");
    let url = server.url("/v1/accounts/acc-1/documents");
    let jpeg = committed("passport.jpg");
    let send_form = |parts: &[(&str, Option<&str>, &[u8])]| {
        send("POST", &url, Some(UPLOADER), Body::Multipart(form(parts)))
    };
    let boat = send_form(&[("kind", None, b"boat"), ("file", Some("a.jpg"), &jpeg)]);
    assert_eq!(boat.status, 400);
    assert!(boat.json()["message"]
        .as_str()
        .unwrap()
        .contains("passport"));
    let profile = send_form(&[
        ("kind", None, b"passport"),
        ("profile", None, b"{\"surname\": 3}"),
        ("file", Some("a.jpg"), &jpeg),
    ]);
    assert_eq!(profile.status, 400);
    assert!(profile.json()["message"]
        .as_str()
        .unwrap()
        .contains("profile"));
    assert_eq!(
        send_form(&[("kind", None, b"passport")]).status,
        400,
        "no file"
    );
    let big = vec![0xAB; 5 * 1024 * 1024 + 1];
    let too_large = send_form(&[("kind", None, b"passport"), ("file", Some("big.jpg"), &big)]);
    assert_eq!(too_large.status, 413);
    let bad_account = server.url("/v1/accounts/..%2Fetc/documents");
    let refused = send(
        "POST",
        &bad_account,
        Some(UPLOADER),
        Body::Multipart(form(&[
            ("kind", None, b"passport"),
            ("file", Some("a.jpg"), &jpeg),
        ])),
    );
    assert_eq!(refused.status, 400);
    let account = send(
        "GET",
        &server.url("/v1/accounts/nobody"),
        Some(UPLOADER),
        Body::None,
    );
    assert_eq!(
        (account.status, account.json()["error"].as_str()),
        (404, Some("not_found")),
        "an account no upload was made for is not found"
    );
    let missing = send(
        "GET",
        &server.url("/v1/jobs/0123456789abcdef0123456789abcdef"),
        Some(UPLOADER),
        Body::None,
    );
    assert_eq!(missing.status, 404);
}

#[test]
fn a_full_pipeline_answers_503_with_retry_after() {
    if !crate::sled_only(
        "on a shared store the work queue takes every upload: no admission to be full",
    ) {
        return;
    }
    let server = Server::start("[workers]\nin_flight = 1\nsubmit_wait_ms = 10\n");
    // The migration card takes the one place for hundreds of milliseconds (Russian OCR).
    let first = upload(
        &server,
        UPLOADER,
        "acc-1",
        "migration_card",
        "migration_card.jpg",
        None,
    );
    assert_eq!(first.status, 202);
    let second = upload(&server, UPLOADER, "acc-2", "passport", "passport.jpg", None);
    assert_eq!(
        second.status,
        503,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
    assert_eq!(second.header("retry-after"), Some("2"));
    assert_eq!(second.json()["error"], "busy");
}

#[test]
fn an_internal_error_tells_the_client_a_request_id_and_the_log_the_detail() {
    if !crate::sled_only("the fault is made by blocking a path of sled's upload files") {
        return;
    }
    let server = Server::start("");
    // A directory where the upload's file goes: the store cannot read or
    // write it, a real internal error.
    let jpeg = committed("passport.jpg");
    let sha256 = intake::digest::sha256_hex(&jpeg);
    let blocked = server
        .store()
        .join("uploads")
        .join(&sha256[..2])
        .join(&sha256);
    std::fs::create_dir_all(&blocked).unwrap();
    let url = server.url("/v1/accounts/acc-1/documents");
    let parts: &[(&str, Option<&str>, &[u8])] =
        &[("kind", None, b"passport"), ("file", Some("a.jpg"), &jpeg)];
    let id = "portal-42.7f:x";
    let reply = send_with(
        "POST",
        &url,
        Some(UPLOADER),
        &[("X-Request-Id", id)],
        Body::Multipart(form(parts)),
    );
    assert_eq!(
        reply.status,
        500,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["error"], "internal");
    assert_eq!(body["request_id"], id);
    assert_eq!(reply.header("x-request-id"), Some(id));
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(id), "{message}");
    for internal in ["/", "uploads", &sha256[..8], "directory"] {
        assert!(!message.contains(internal), "{internal:?} in {message:?}");
    }
    // The detail is in the log, under the id.
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("internal error") && l.contains(id))
        .unwrap_or_else(|| panic!("no internal error logged under {id}:\n{log}"));
    assert!(line.contains(&sha256), "{line}");

    // A request id that is not sane is replaced; one is made when none is sent.
    let long = "x".repeat(65);
    for sent in [&long[..], "two words", "a;b"] {
        let reply = send_with(
            "GET",
            &server.url("/v1/jobs/0123456789abcdef0123456789abcdef"),
            Some(UPLOADER),
            &[("X-Request-Id", sent)],
            Body::None,
        );
        assert_eq!(reply.status, 404);
        let made = reply.header("x-request-id").unwrap().to_string();
        assert!(made != sent && made.len() == 24, "{made}");
        assert_eq!(reply.json()["request_id"], made.as_str());
    }
    // Every response has one, errors or not, and two requests two.
    let health = send("GET", &server.url("/healthz"), None, Body::None);
    let again = send("GET", &server.url("/healthz"), None, Body::None);
    let ids = [health.header("x-request-id"), again.header("x-request-id")];
    assert!(ids[0].is_some() && ids[0] != ids[1], "{ids:?}");
    let refused = send("GET", &server.url("/v1/review"), None, Body::None);
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.json()["request_id"].as_str(),
        refused.header("x-request-id")
    );
}

/// Every protected route, with the roles allowed on it (admin always is).
fn routes(job: &str) -> Vec<(&'static str, String, &'static [&'static str])> {
    vec![
        ("POST", "/v1/accounts/acc-a/documents".into(), &["uploader"]),
        ("PUT", "/v1/accounts/acc-a/profile".into(), &["uploader"]),
        (
            "GET",
            "/v1/accounts/acc-a".into(),
            &["uploader", "reviewer", "auditor"],
        ),
        (
            "GET",
            "/v1/accounts/acc-a/events".into(),
            &["uploader", "reviewer", "auditor"],
        ),
        (
            "GET",
            "/v1/events".into(),
            &["uploader", "reviewer", "auditor"],
        ),
        (
            "GET",
            "/v1/accounts/acc-a/audit".into(),
            &["reviewer", "auditor"],
        ),
        ("GET", "/v1/me".into(), &["uploader", "reviewer", "auditor"]),
        (
            "GET",
            format!("/v1/jobs/{job}"),
            &["uploader", "reviewer", "auditor"],
        ),
        (
            "GET",
            format!("/v1/jobs/{job}/image"),
            &["uploader", "reviewer"],
        ),
        ("GET", "/v1/review".into(), &["reviewer"]),
        ("POST", format!("/v1/review/{job}/claim"), &["reviewer"]),
        ("POST", format!("/v1/review/{job}/release"), &["reviewer"]),
        ("POST", format!("/v1/review/{job}/decision"), &["reviewer"]),
        ("GET", "/metrics".into(), &["auditor"]),
        ("GET", "/v1/queue".into(), &["auditor"]),
        ("GET", "/v1/admin/audit/verify".into(), &["auditor"]),
        ("GET", "/v1/admin/accounts/verify".into(), &["auditor"]),
    ]
}

fn body_for(method: &str, path: &str) -> Body {
    match (
        method,
        path.ends_with("/decision"),
        path.ends_with("/documents"),
    ) {
        ("POST", true, _) => Body::Json(json!({"decision": "accept"})),
        ("PUT", _, _) => Body::Json(json!({})),
        ("POST", _, true) => Body::Multipart(form(&[
            ("kind", None, b"passport"),
            ("file", Some("a.jpg"), &committed("passport.jpg")),
        ])),
        _ => Body::None,
    }
}

#[test]
fn every_route_refuses_a_missing_token_and_the_wrong_role() {
    let server = Server::start("");
    let job = upload(
        &server,
        UPLOADER_A,
        "acc-a",
        "passport",
        "passport.jpg",
        Some("passport.mismatch_surname.json"),
    );
    let job = job.json()["job_id"].as_str().unwrap().to_string();
    decided(&server, UPLOADER_A, &job);
    let roles = [
        ("uploader", UPLOADER),
        ("reviewer", REVIEWER),
        ("auditor", AUDITOR),
    ];
    for (method, path, allowed) in routes(&job) {
        let url = server.url(&path);
        for token in [None, Some("not-a-token")] {
            let reply = send(method, &url, token, Body::None);
            assert_eq!(reply.status, 401, "{method} {path} with {token:?}");
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        }
        for (role, token) in roles {
            if allowed.contains(&role) {
                continue;
            }
            // The role is checked before a byte of the body is read.
            let reply = send(method, &url, Some(token), Body::None);
            assert_eq!(reply.status, 403, "{method} {path} as {role}");
        }
        let admin = if path.ends_with("/events") {
            // An event stream does not end: its status is enough.
            let opened = agent()
                .get(&url)
                .set("Authorization", &format!("Bearer {ADMIN}"))
                .call();
            opened.map_or_else(
                |e| e.into_response().map_or(0, |r| r.status()),
                |r| r.status(),
            )
        } else {
            send(method, &url, Some(ADMIN), body_for(method, &path)).status
        };
        assert!(
            admin != 401 && admin != 403,
            "{method} {path} as admin: {admin}"
        );
    }
    // An uploader limited to acc-a acts for nobody else, and cannot see their jobs.
    let other = upload(&server, UPLOADER, "acc-b", "visa", "visa.jpg", None);
    let other = other.json()["job_id"].as_str().unwrap().to_string();
    assert_eq!(
        upload(&server, UPLOADER_A, "acc-b", "visa", "visa.jpg", None).status,
        403
    );
    assert_eq!(
        send(
            "GET",
            &server.url("/v1/accounts/acc-b"),
            Some(UPLOADER_A),
            Body::None
        )
        .status,
        403
    );
    assert_eq!(
        send(
            "GET",
            &server.url("/v1/accounts/acc-b/events"),
            Some(UPLOADER_A),
            Body::None
        )
        .status,
        403
    );
    assert_eq!(
        send(
            "GET",
            &server.url(&format!("/v1/jobs/{other}")),
            Some(UPLOADER_A),
            Body::None
        )
        .status,
        404
    );
    let image = server.url(&format!("/v1/jobs/{other}/image"));
    assert_eq!(
        send("GET", &image, Some(UPLOADER_A), Body::None).status,
        404
    );
    // Public routes need no token.
    for path in ["/healthz", "/readyz", "/openapi.json", "/review"] {
        assert_eq!(
            send("GET", &server.url(path), None, Body::None).status,
            200,
            "{path}"
        );
    }
}

/// `intake serve` with `tokens` as its only `[server]` tokens: it must
/// refuse to start; what it says.
fn refused_start(tokens: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("intake.key");
    assert!(crate::intake(&["keygen", "--out", key.to_str().unwrap()])
        .status
        .success());
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = {:?}\nkey_file = {:?}\n\n[server]\nlisten = \"127.0.0.1:{}\"\n{tokens}",
            dir.path().join("intake.db").display().to_string(),
            key.display().to_string(),
            free_port()
        ),
    )
    .unwrap();
    let out = crate::intake(&["serve", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success(), "intake serve started with {tokens}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn tokens_are_long_unique_compared_by_digest_and_the_scheme_is_any_case() {
    let short = refused_start(
        "[[server.tokens]]\ntoken = \"admin-token\"\nrole = \"admin\"\nname = \"root\"\n",
    );
    assert!(
        short.contains("\"root\"") && short.contains("fewer than 32"),
        "{short}"
    );
    let twice = format!(
        "[[server.tokens]]\ntoken = \"{ADMIN}\"\nrole = \"admin\"\nname = \"root\"\n\n[[server.tokens]]\ntoken = \"{ADMIN}\"\nrole = \"reviewer\"\nname = \"r9\"\n"
    );
    let twice = refused_start(&twice);
    assert!(twice.contains("have the same token"), "{twice}");

    let server = Server::start("");
    let url = server.url("/v1/review");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let reply = agent()
            .get(&url)
            .set("Authorization", &format!("{scheme} {REVIEWER}"))
            .call();
        assert_eq!(reply.map(|r| r.status()).ok(), Some(200), "{scheme}");
    }
    // The auditor's token is configured by its SHA-256 only.
    let audit = send("GET", &server.url("/metrics"), Some(AUDITOR), Body::None);
    assert_eq!(audit.status, 200);
    // A prefix or an extension of a real token is no token.
    for near in [&REVIEWER[..20], &format!("{REVIEWER}x")] {
        assert_eq!(send("GET", &url, Some(near), Body::None).status, 401);
    }
}
