//! A bounded load test on loopback: 20 clients upload generated scans for
//! `INTAKE_LOAD_SECONDS` (default 60) against a real `intake serve`. No
//! response may be a 5xx, and every accepted upload must end with exactly
//! one verdict. Requests per second and upload latency are printed.

use crate::api::{form, pending_jobs, send, Body, Server, UPLOADER};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 20;

/// One generated scan: its kind and bytes.
fn scans() -> Vec<(String, String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::intake(&[
        "samples",
        "--out",
        dir.path().to_str().unwrap(),
        "--count",
        "24",
        "--seed",
        "11",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let kind = e["kind"].as_str()?.to_string();
            let file = e["file"].as_str()?.to_string();
            let bytes = std::fs::read(dir.path().join(&file)).ok()?;
            Some((kind, file, bytes))
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[test]
fn twenty_clients_for_a_minute_get_no_5xx_and_every_accepted_upload_one_verdict() {
    let seconds: u64 = std::env::var("INTAKE_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    // Upload handlers wait for room rather than being told to come back:
    // 20 clients share ~8 places a second, so the wait is a few seconds.
    let mut server = Server::start("[workers]\nsubmit_wait_ms = 30000\n");
    let scans = Arc::new(scans());
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let statuses = Arc::new(Mutex::new(BTreeMap::<u16, usize>::new()));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let url = server.url("/v1/accounts/ACCOUNT/documents");
    let end = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (scans, accepted, statuses, latencies, url) = (
                scans.clone(),
                accepted.clone(),
                statuses.clone(),
                latencies.clone(),
                url.clone(),
            );
            std::thread::spawn(move || {
                let mut n = 0;
                while Instant::now() < end {
                    let (kind, file, bytes) = &scans[(client * 7 + n) % scans.len()];
                    let body =
                        form(&[("kind", None, kind.as_bytes()), ("file", Some(file), bytes)]);
                    let account = format!("load-{client}-{n}");
                    let sent = Instant::now();
                    let reply = send(
                        "POST",
                        &url.replace("ACCOUNT", &account),
                        Some(UPLOADER),
                        Body::Multipart(body),
                    );
                    latencies
                        .lock()
                        .unwrap()
                        .push(sent.elapsed().as_secs_f64() * 1000.0);
                    *statuses.lock().unwrap().entry(reply.status).or_default() += 1;
                    if reply.status == 202 {
                        accepted
                            .lock()
                            .unwrap()
                            .insert(reply.json()["job_id"].as_str().unwrap().to_string());
                    }
                    n += 1;
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client thread");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let statuses = statuses.lock().unwrap().clone();
    let requests: usize = statuses.values().sum();
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort_by(f64::total_cmp);
    eprintln!(
        "load: {CLIENTS} clients, {elapsed:.1} s, {requests} uploads ({:.1}/s), statuses {statuses:?}, upload latency p50 {:.0} ms, p99 {:.0} ms",
        requests as f64 / elapsed,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0)
    );
    assert!(statuses.keys().all(|s| *s < 500), "a 5xx: {statuses:?}");
    let accepted = accepted.lock().unwrap().clone();
    assert!(!accepted.is_empty());

    // Let the pipeline finish what it accepted, then read the queue.
    let deadline = Instant::now() + Duration::from_secs(300);
    while pending_jobs(&server) > 0 {
        assert!(Instant::now() < deadline, "accepted jobs still pending");
        std::thread::sleep(Duration::from_millis(500));
    }
    server.kill();
    let config: PathBuf = server.config.clone();
    let queue = crate::intake(&["queue", "tail", "--config", config.to_str().unwrap()]);
    assert!(queue.status.success());
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    for line in String::from_utf8_lossy(&queue.stdout).lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        *verdicts
            .entry(entry["job"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(
        verdicts.values().all(|&n| n == 1),
        "a job with two verdicts"
    );
    let decided: BTreeSet<String> = verdicts.into_keys().collect();
    assert_eq!(
        decided, accepted,
        "every accepted upload, and only those, has a verdict"
    );
}
