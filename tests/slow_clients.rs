//! Slow clients (issue 13): 2,000 connections dribbling their request heads
//! against an `intake serve` limited to 1,024 descriptors (systemd's
//! default) do not keep `/healthz` or an upload from getting through, and
//! the server stays up. Before the connection cap and the header timeout,
//! 1,100 such connections took the service down for everyone. A body that
//! stalls is answered `408` and its partial file removed.

use crate::api::{send, upload, Body, Server, UPLOADER};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SLOW_CONNECTIONS: usize = 2_000;
/// What a client that is not slow may wait for an answer.
const PROMPT: Duration = Duration::from_secs(10);

/// Raises this process's soft descriptor limit to at least `wanted`.
fn raise_own_descriptor_limit(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    assert!(
        limit.rlim_cur >= wanted,
        "the test needs {wanted} descriptors, the hard limit is {}",
        limit.rlim_max
    );
}

#[test]
fn two_thousand_slow_connections_do_not_starve_the_others() {
    raise_own_descriptor_limit(SLOW_CONNECTIONS as u64 + 256);
    let mut server = Server::start_limited("", "", Some(1024));
    let address = server.base.trim_start_matches("http://").to_string();

    let opening = Instant::now();
    let mut slow = Vec::with_capacity(SLOW_CONNECTIONS);
    for _ in 0..SLOW_CONNECTIONS {
        let mut stream = TcpStream::connect(&address).expect("the server accepts");
        // A request head that never ends: one header byte at a time.
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        slow.push(stream);
    }
    let opened = opening.elapsed();
    let dribbling = Arc::new(AtomicBool::new(true));
    let dribbler = {
        let dribbling = dribbling.clone();
        std::thread::spawn(move || {
            while dribbling.load(Ordering::Relaxed) {
                for stream in &mut slow {
                    let _ = stream.write(b"x");
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            slow
        })
    };

    let asked = Instant::now();
    let health = send("GET", &server.url("/healthz"), None, Body::None);
    let healthz_took = asked.elapsed();
    assert_eq!(health.status, 200);
    let asked = Instant::now();
    let uploaded = upload(
        &server,
        UPLOADER,
        "acc-slow",
        "passport",
        "passport.jpg",
        None,
    );
    let upload_took = asked.elapsed();
    assert_eq!(
        uploaded.status,
        202,
        "{}",
        String::from_utf8_lossy(&uploaded.body)
    );
    assert!(
        healthz_took < PROMPT && upload_took < PROMPT,
        "with {SLOW_CONNECTIONS} slow connections: /healthz took {healthz_took:?}, an upload {upload_took:?}"
    );

    dribbling.store(false, Ordering::Relaxed);
    let slow = dribbler.join().expect("the dribbler ends");
    // How many the server still holds: those it closed read as ended.
    let held = slow
        .iter()
        .filter(|stream| {
            let _ = stream.set_nonblocking(true);
            let mut byte = [0u8; 1];
            matches!((&**stream).read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    drop(slow);
    eprintln!(
        "{SLOW_CONNECTIONS} slow connections opened in {opened:?}; /healthz in {healthz_took:?}, \
         an upload in {upload_took:?}; {held} still held by the server at the end"
    );
    assert!(held <= 1024, "the server holds at most its descriptors");
    assert!(server.running(), "the server stays up");
    let after = send("GET", &server.url("/healthz"), None, Body::None);
    assert_eq!(after.status, 200);
}

#[test]
fn a_stalled_upload_body_is_answered_408_and_leaves_no_file() {
    let server = Server::start_limited("", "body_timeout_ms = 500", None);
    let address = server.base.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(address).unwrap();
    let part = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\npassport\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.jpg\"\r\n\r\n\
         the first bytes, and then nothing",
        b = crate::api::BOUNDARY
    );
    let head = format!(
        "POST /v1/accounts/acc-stall/documents HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {UPLOADER}\r\n\
         Content-Type: multipart/form-data; boundary={}\r\nContent-Length: 100000\r\n\r\n",
        crate::api::BOUNDARY
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(part.as_bytes()).unwrap();
    let asked = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "after {:?}: {answer}",
        asked.elapsed()
    );
    assert!(answer.contains("\"error\":\"timeout\""), "{answer}");
    let uploads = server.config.with_file_name("intake.db").join("uploads");
    let left: Vec<_> = std::fs::read_dir(uploads).unwrap().collect();
    assert!(left.is_empty(), "a stalled upload leaves nothing: {left:?}");
}
