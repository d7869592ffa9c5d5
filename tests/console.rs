//! The reviewer console end to end: headless Chromium (Debian's, driven by
//! playwright-core from `tests/e2e`) against a real `intake serve`.

use crate::api::{decided, send, upload, Body, Server, REVIEWER, UPLOADER};
use std::process::Command;

#[test]
fn a_reviewer_requests_a_correction_in_the_console_and_the_account_follows() {
    let server = Server::start("");
    let flagged = upload(
        &server,
        UPLOADER,
        "acc-e2e",
        "passport",
        "passport.jpg",
        Some("passport.mismatch_surname.json"),
    );
    assert_eq!(flagged.status, 202);
    let job = flagged.json()["job_id"].as_str().unwrap().to_string();
    assert_eq!(decided(&server, UPLOADER, &job)["state"], "in_review");

    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("out/e2e");
    let run = Command::new("node")
        .arg("tests/e2e/console.mjs")
        .args([&server.base, REVIEWER])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("node runs (make setup installs Chromium and playwright-core)");
    assert!(
        run.status.success(),
        "the console script failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(said.contains("needs_correction"), "{said}");
    assert!(out.join("console-item.png").is_file() && out.join("console-decided.png").is_file());

    let account = send(
        "GET",
        &server.url("/v1/accounts/acc-e2e"),
        Some(UPLOADER),
        Body::None,
    )
    .json();
    assert_eq!(account["status"], "needs_correction");
    assert_eq!(account["items"][0]["code"], "correction_requested");
    assert_eq!(account["items"][0]["field"], "surname");
    let job = send(
        "GET",
        &server.url(&format!("/v1/jobs/{job}")),
        Some(REVIEWER),
        Body::None,
    )
    .json();
    assert_eq!(job["review"]["by"]["id"], "r1");
    assert_eq!(
        job["review"]["comment"],
        "The surname in the form does not match the passport."
    );
}
