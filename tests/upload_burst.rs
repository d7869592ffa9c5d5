//! Upload bursts (issue 13): 300 concurrent 5 MB uploads against a served
//! instance with `in_flight = 4`. Bodies are streamed to their files, so the
//! server's peak RSS stays under the bound the README states, and its RSS
//! comes back down afterwards. Before, each body was buffered whole: the
//! same burst took the server to 2,087 MiB and it stayed there.

use crate::api::{agent, pending_jobs, Server, BOUNDARY, UPLOADER};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const UPLOADS: usize = 300;
const FILE_BYTES: usize = 5_000_000;
const MIB: u64 = 1 << 20;

/// A `/proc/PID/status` figure, in bytes.
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Uploads `file` (5 MB, streamed from memory the test shares between its
/// clients) until it is accepted; returns the `503`s it got first.
fn upload_until_accepted(
    server: &Server,
    account: &str,
    unique: &[u8],
    file: &Arc<Vec<u8>>,
) -> usize {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\npassport\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"burst.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let length = head.len() + unique.len() + file.len() + tail.len();
    let url = server.url(&format!("/v1/accounts/{account}/documents"));
    let mut refused = 0;
    loop {
        let body = head
            .as_bytes()
            .chain(unique)
            .chain(&file[..])
            .chain(tail.as_bytes());
        let result = agent()
            .post(&url)
            .set("Authorization", &format!("Bearer {UPLOADER}"))
            .set(
                "Content-Type",
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .set("Content-Length", &length.to_string())
            .send(body);
        match result {
            Ok(response) => {
                assert_eq!(response.status(), 202);
                return refused;
            }
            Err(ureq::Error::Status(503, response)) => {
                assert!(response.header("retry-after").is_some());
                refused += 1;
            }
            // Refused while still sending: the answer may be lost with the connection.
            Err(ureq::Error::Transport(_)) => refused += 1,
            Err(e) => panic!("upload: {e}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the pipeline has decided every job.
fn wait_decided(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while pending_jobs(server) > 0 {
        assert!(Instant::now() < deadline, "jobs still pending");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn three_hundred_concurrent_5mb_uploads_stay_under_the_stated_memory_bound() {
    let server = Server::start("[workers]\nin_flight = 4\nsubmit_wait_ms = 60000\n");
    let pid = server.pid();
    // Not a scan: each is decided at once (unsupported format), so the
    // memory measured is that of receiving and storing.
    let file: Arc<Vec<u8>> = Arc::new((0..FILE_BYTES).map(|i| (i * 7919 % 251) as u8).collect());
    upload_until_accepted(&server, "acc-warm", b"warm-up", &file);
    wait_decided(&server);
    let idle = proc_status(pid, "VmRSS");

    let started = Instant::now();
    let refused = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for n in 0..UPLOADS {
            let (server, file, refused) = (&server, &file, &refused);
            scope.spawn(move || {
                let unique = format!("burst-{n:04}");
                let account = format!("acc-{}", n % 20);
                let got = upload_until_accepted(server, &account, unique.as_bytes(), file);
                refused.fetch_add(got, Ordering::Relaxed);
            });
        }
    });
    let burst = started.elapsed();
    wait_decided(&server);
    let peak = proc_status(pid, "VmHWM");
    // The server gives memory back within a second or two of the burst's end.
    std::thread::sleep(Duration::from_secs(3));
    let after = proc_status(pid, "VmRSS");
    eprintln!(
        "{UPLOADS} concurrent uploads of {FILE_BYTES} bytes in {burst:.1?} ({} answered 503 first): \
         RSS idle {} MiB, peak {} MiB, after {} MiB",
        refused.load(Ordering::Relaxed),
        idle / MIB,
        peak / MIB,
        after / MIB
    );

    // The README's bound with this config (defaults but in_flight = 4).
    const KIB: u64 = 1024;
    let (cache, max_connections, max_receiving, in_flight) = (64 * MIB, 512, 32, 4);
    let (pipeline_files, max_bytes) = (1 + 2 + 2, 5 * MIB);
    let bound = idle
        + cache
        + max_connections * 2 * 64 * KIB
        + max_receiving * 8 * 64 * KIB
        + in_flight * 4 * KIB
        // No image: these files are not scans.
        + pipeline_files * 2 * max_bytes;
    assert!(
        peak < bound,
        "peak RSS {} MiB over the bound {} MiB",
        peak / MIB,
        bound / MIB
    );
    // What stays is the sled cache, filled by the burst's jobs.
    assert!(
        after < idle + cache,
        "RSS did not come back down: {} MiB after, {} MiB idle",
        after / MIB,
        idle / MIB
    );

    // Every file is a job's: none left behind by a 503, no temporary file.
    let uploads = server.config.with_file_name("intake.db").join("uploads");
    let mut files = 0;
    for dir in std::fs::read_dir(&uploads).unwrap() {
        let dir = dir.unwrap().path();
        assert!(dir.is_dir(), "a stray file in uploads/: {}", dir.display());
        files += std::fs::read_dir(dir).unwrap().count();
    }
    assert_eq!(files, UPLOADS + 1, "one file per accepted upload");
}
