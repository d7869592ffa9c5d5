//! The pipeline on JetStream across processes, under crashes: three
//! `intake worker` and two `intake serve` processes on one nats-server of
//! the test's own; 300 uploads through the two APIs while ten `kill -9`
//! land on random workers and APIs (each started again) and the
//! nats-server itself is killed and restarted twice. Every acknowledged
//! upload must end with exactly one verdict, and `accounts verify` and
//! `audit verify` must pass on what is left.

use intake::store::jetstream::server::{LocalServer, LocalServerError};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const UPLOADER: &str = "uploader-token-7f3a9c1e5b2d4086a1c3";
const UPLOADS: usize = 300;
const KILLS: usize = 10;

/// One `intake` process of the cluster, started again after each kill.
struct Process {
    args: Vec<String>,
    log: PathBuf,
    child: Child,
}

impl Process {
    fn spawn(args: &[String], log: &Path) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("a log file");
        Command::new(env!("CARGO_BIN_EXE_intake"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("intake starts")
    }

    fn start(args: Vec<String>, log: PathBuf) -> Process {
        let child = Process::spawn(&args, &log);
        Process { args, log, child }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.kill9();
        self.child = Process::spawn(&self.args, &self.log);
    }

    /// Starts it again if it has exited (one that found the server down
    /// at its start, say), as a supervisor would.
    fn supervise(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            self.child = Process::spawn(&self.args, &self.log);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `intake ARGS --config CONFIG`, its output.
fn intake_on(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(args)
        .arg("--config")
        .arg(config)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("intake runs")
}

/// The upload `i`: one in ten a passport scan read by OCR, the rest small
/// files refused early (their verdicts are as much a commit as any).
fn upload(i: usize, passport: &[u8]) -> (String, Vec<u8>) {
    let (name, bytes) = if i % 10 == 0 {
        ("passport.jpg", passport.to_vec())
    } else {
        ("note.txt", format!("not a scan, upload {i}").into_bytes())
    };
    let boundary = "chaos-boundary-3f9a";
    let mut body = Vec::new();
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\npassport\r\n"
        )
        .bytes(),
    );
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").bytes());
    body.extend_from_slice(&bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Sends upload `i` to the APIs in turn until one acknowledges it (a
/// `202` with its job id); an API being killed answers nothing or an error.
fn send_until_acknowledged(i: usize, ports: &[u16], passport: &[u8]) -> String {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build();
    let (content_type, body) = upload(i, passport);
    let deadline = Instant::now() + Duration::from_secs(240);
    for attempt in 0.. {
        assert!(Instant::now() < deadline, "upload {i} never acknowledged");
        let port = ports[(i + attempt) % ports.len()];
        let url = format!("http://127.0.0.1:{port}/v1/accounts/chaos-{i}/documents");
        let reply = agent
            .post(&url)
            .set("Authorization", &format!("Bearer {UPLOADER}"))
            .set("Content-Type", &content_type)
            .send_bytes(&body);
        if let Ok(reply) = reply {
            if reply.status() == 202 {
                let json: serde_json::Value = reply.into_json().expect("a JSON body");
                return json["job_id"].as_str().expect("a job id").to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    unreachable!()
}

#[test]
fn every_acknowledged_upload_gets_one_verdict_through_kills_of_workers_apis_and_nats() {
    let mut nats = match LocalServer::start() {
        Ok(server) => server,
        Err(LocalServerError::NotInstalled) => {
            eprintln!("\n**** SKIPPED: nats-server is not installed (`make deps`) ****\n");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("intake.key");
    let keygen = Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .expect("intake keygen runs");
    assert!(keygen.status.success());
    let ports = [free_port(), free_port()];
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nbackend = \"jetstream\"\npath = {:?}\nkey_file = {:?}\n\n\
             [jetstream]\nurl = {:?}\nprefix = \"chaos\"\nack_wait_s = 5\nduty_ttl_s = 3\n\n\
             [server]\n[[server.tokens]]\ntoken = {UPLOADER:?}\nrole = \"uploader\"\nname = \"portal\"\n",
            dir.path().join("local").display().to_string(),
            key.display().to_string(),
            nats.url(),
        ),
    )
    .unwrap();
    let common = |command: &str| -> Vec<String> {
        let mut args = vec![command.to_string(), "--config".into()];
        args.push(config.display().to_string());
        args.extend(["--today".into(), "2026-06-01".into()]);
        args
    };
    let mut processes: Vec<Process> = (0..3)
        .map(|n| Process::start(common("worker"), dir.path().join(format!("worker-{n}.log"))))
        .collect();
    for (n, port) in ports.iter().enumerate() {
        let mut args = common("serve");
        args.extend([
            "--api-only".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ]);
        processes.push(Process::start(
            args,
            dir.path().join(format!("api-{n}.log")),
        ));
    }

    let passport = std::fs::read("samples/committed/passport.jpg").unwrap();
    let acknowledged: Arc<Mutex<BTreeMap<usize, String>>> = Arc::default();
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let (acknowledged, passport) = (acknowledged.clone(), passport.clone());
            std::thread::spawn(move || {
                for i in (t..UPLOADS).step_by(4) {
                    let job = send_until_acknowledged(i, &ports, &passport);
                    acknowledged.lock().unwrap().insert(i, job);
                }
            })
        })
        .collect();

    // The chaos: kills spread over the uploads, two of nats-server among them.
    let mut rng = rand::rngs::StdRng::seed_from_u64(9303);
    let mut kills = Vec::new();
    for k in 0..KILLS {
        let target = UPLOADS * (k + 1) / (KILLS + 2);
        while acknowledged.lock().unwrap().len() < target
            && senders.iter().any(|s| !s.is_finished())
        {
            processes.iter_mut().for_each(Process::supervise);
            std::thread::sleep(Duration::from_millis(20));
        }
        let victim = rng.gen_range(0..processes.len());
        processes[victim].kill9();
        kills.push(victim);
        if k == 3 || k == 7 {
            nats.kill9();
            std::thread::sleep(Duration::from_millis(300));
            nats.restart().expect("nats-server starts again");
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(50..400)));
        processes[victim].restart();
    }
    while senders.iter().any(|s| !s.is_finished()) {
        processes.iter_mut().for_each(Process::supervise);
        std::thread::sleep(Duration::from_millis(50));
    }
    for sender in senders {
        sender.join().expect("every upload is acknowledged");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), UPLOADS);

    // Every acknowledged job gets its verdict, exactly one.
    let deadline = Instant::now() + Duration::from_secs(300);
    let verdicts = loop {
        processes.iter_mut().for_each(Process::supervise);
        let tail = intake_on(&config, &["queue", "tail"]);
        assert!(
            tail.status.success(),
            "queue tail: {}",
            String::from_utf8_lossy(&tail.stderr)
        );
        let mut per_job: BTreeMap<String, usize> = BTreeMap::new();
        for line in String::from_utf8_lossy(&tail.stdout).lines() {
            let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let job = entry["job"].as_str().unwrap_or_default().to_string();
            *per_job.entry(job).or_default() += 1;
        }
        let decided = acknowledged
            .values()
            .filter(|j| per_job.contains_key(*j))
            .count();
        if decided == acknowledged.len() || Instant::now() > deadline {
            break per_job;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    let jobs: BTreeSet<&String> = acknowledged.values().collect();
    let missing: Vec<&&String> = jobs
        .iter()
        .filter(|j| !verdicts.contains_key(**j))
        .collect();
    let twice: Vec<(&String, &usize)> = verdicts.iter().filter(|(_, n)| **n > 1).collect();
    let logs = || {
        let mut all = String::new();
        for p in &processes {
            all.push_str(&std::fs::read_to_string(&p.log).unwrap_or_default());
        }
        all
    };
    assert!(
        missing.is_empty(),
        "{} acknowledged jobs without a verdict (kills: {kills:?}); logs:\n{}",
        missing.len(),
        logs()
    );
    assert!(
        twice.is_empty(),
        "jobs with more than one verdict: {twice:?}"
    );

    // The projection catches up (the duty holder: whichever process) to
    // the first and last accounts, and verifies; so does the chain.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let projected = ["chaos-0", "chaos-299"]
            .iter()
            .all(|account| intake_on(&config, &["status", account]).status.success());
        let accounts = intake_on(&config, &["accounts", "verify"]);
        if projected && accounts.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "projected: {projected}; accounts verify: {}{}",
            String::from_utf8_lossy(&accounts.stdout),
            String::from_utf8_lossy(&accounts.stderr)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let audit = intake_on(&config, &["audit", "verify"]);
    assert!(
        audit.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );
}
