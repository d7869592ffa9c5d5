//! Files nothing else would remove (issue 13, item 4): a `kill -9` between
//! an upload's file written and its job committed leaves a file no job
//! needs, and one during the write a temporary file; the next start
//! removes both, and loses nothing it acknowledged.

use crate::api::{agent, form, Server, BOUNDARY, UPLOADER};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The upload files and the temporary files under the store's uploads.
fn on_disk(store: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut files, mut temporary) = (Vec::new(), Vec::new());
    let Ok(shards) = std::fs::read_dir(store.join("uploads")) else {
        return (files, temporary);
    };
    for shard in shards.flatten() {
        for file in std::fs::read_dir(shard.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                temporary.push(path);
            } else {
                files.push(path);
            }
        }
    }
    (files, temporary)
}

/// The HTTP status of the job, 200 or 404.
fn job_status(server: &Server, account: &str, sha256: &str) -> u16 {
    let job = intake::service::job_id(account, "passport", sha256, None);
    let url = server.url(&format!("/v1/jobs/{}", job.0));
    match agent()
        .get(&url)
        .set("Authorization", &format!("Bearer {UPLOADER}"))
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// An upload as the test tells it: (account, SHA-256 of the file).
type Sent = (String, String);

/// Uploads distinct random files from `threads` clients at once until the
/// server goes away; returns each upload sent and those acknowledged (202).
fn burst(server: &Server, round: usize, threads: usize) -> (Vec<Sent>, Vec<Sent>) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..threads)
        .map(|t| {
            let (sent, acknowledged) = (sent.clone(), acknowledged.clone());
            let base = server.base.clone();
            std::thread::spawn(move || {
                let account = format!("burst-{round}-{t}");
                let url = format!("{base}/v1/accounts/{account}/documents");
                for _ in 0..10_000 {
                    let bytes: Vec<u8> = (0..256 * 1024).map(|_| rand::random::<u8>()).collect();
                    let sha256 = intake::digest::sha256_hex(&bytes);
                    sent.lock().unwrap().push((account.clone(), sha256.clone()));
                    let body = form(&[
                        ("kind", None, b"passport"),
                        ("file", Some("scan.jpg"), &bytes),
                    ]);
                    let reply = agent()
                        .post(&url)
                        .set("Authorization", &format!("Bearer {UPLOADER}"))
                        .set(
                            "Content-Type",
                            &format!("multipart/form-data; boundary={BOUNDARY}"),
                        )
                        .send_bytes(&body);
                    match reply {
                        Ok(r) if r.status() == 202 => {
                            acknowledged.lock().unwrap().push((account.clone(), sha256));
                        }
                        Ok(_) | Err(ureq::Error::Status(..)) => {}
                        // Killed: the connection is gone.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    // Into the burst, at a moment that differs from round to round.
    std::thread::sleep(Duration::from_millis(400 + 170 * round as u64));
    server.kill_now();
    for client in clients {
        let _ = client.join();
    }
    let sent = sent.lock().unwrap().clone();
    let acknowledged = acknowledged.lock().unwrap().clone();
    (sent, acknowledged)
}

#[test]
fn a_kill_between_an_upload_file_and_its_job_leaves_no_orphan_after_restart() {
    let mut server = Server::start("[workers]\nin_flight = 256\nsubmit_wait_ms = 5000\n");
    let store = server.store();
    let (mut orphans_seen, mut temporary_seen, mut acknowledged_all) = (0, 0, Vec::new());
    let mut rounds = 0;
    // Each file sent, by SHA-256: its account.
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    while rounds < 8 && (orphans_seen == 0 || rounds < 2) {
        let (sent, acknowledged) = burst(&server, rounds, 12);
        rounds += 1;
        owner.extend(sent.into_iter().map(|(account, sha)| (sha, account)));
        let (files, temporary) = on_disk(&store);
        temporary_seen += temporary.len();
        server.restart("2026-06-01");
        // A file on disk at the kill has its job now, or it was an orphan and is gone.
        for file in &files {
            let sha = file.file_name().unwrap().to_string_lossy().into_owned();
            let account = owner
                .get(&sha)
                .unwrap_or_else(|| panic!("{sha} was never sent"));
            if job_status(&server, account, &sha) == 404 {
                orphans_seen += 1;
                assert!(
                    !file.exists(),
                    "an upload file no job needs survived the restart"
                );
            }
        }
        let (files, temporary) = on_disk(&store);
        assert!(
            temporary.is_empty(),
            "temporary files survived: {temporary:?}"
        );
        for file in &files {
            let sha = file.file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(
                job_status(&server, &owner[&sha], &sha),
                200,
                "{sha}: a file no job needs"
            );
        }
        acknowledged_all.extend(acknowledged);
        // Nothing acknowledged is lost: its job, and its file.
        for (account, sha) in &acknowledged_all {
            assert_eq!(
                job_status(&server, account, sha),
                200,
                "acknowledged {sha} lost"
            );
            let file = store.join("uploads").join(&sha[..2]).join(sha);
            assert!(file.exists(), "acknowledged {sha}: its file is gone");
        }
    }
    eprintln!(
        "{rounds} kills: {} uploads acknowledged, {orphans_seen} orphan files and {temporary_seen} temporary files at the kills, none after the restarts",
        acknowledged_all.len()
    );
    assert!(
        orphans_seen > 0,
        "no kill fell between a file written and its job committed: the test proved nothing"
    );
}
