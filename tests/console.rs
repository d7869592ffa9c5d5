//! The reviewer console end to end: headless Chromium (Debian's, driven by
//! playwright-core from `tests/e2e`) against a real `intake serve`; two
//! officers work one queue in Russian (`tests/e2e/console.mjs`).

use crate::api::{decided, send, upload, Body, Server, REVIEWER, REVIEWER_2, UPLOADER};
use serde_json::Value;
use std::process::Command;

/// An account id as long as the portal may send (it must wrap, not push
/// the columns off-screen).
const LONG_ACCOUNT: &str =
    "regional-portal-application-2026-000000000000000000000000000000000000000000000042";

fn get(server: &Server, path: &str) -> Value {
    send("GET", &server.url(path), Some(REVIEWER), Body::None).json()
}

#[test]
fn two_officers_work_the_queue_in_the_console_in_russian() {
    let server = Server::start("");
    let uploads = [
        (
            "ivanov-1",
            "passport",
            "passport.jpg",
            "passport.mismatch_surname.json",
        ),
        // Not a scan: refused for its format, no reviewer needed (a
        // second document in the applicant's panel).
        ("ivanov-1", "visa", "manifest.json", "visa.matching.json"),
        (
            "petrova-2",
            "id_card",
            "id_card.pdf",
            "id_card.mismatch_birth_date.json",
        ),
        (
            "sidorov-3",
            "visa",
            "visa.jpg",
            "visa.mismatch_surname.json",
        ),
        (
            LONG_ACCOUNT,
            "passport",
            "passport_upside_down.jpg",
            "passport_upside_down.mismatch_document_number.json",
        ),
    ];
    for (account, kind, file, profile) in uploads {
        let reply = upload(&server, UPLOADER, account, kind, file, Some(profile));
        assert_eq!(reply.status, 202, "{file}");
        let job = reply.json()["job_id"].as_str().unwrap().to_string();
        let state = decided(&server, UPLOADER, &job)["state"].clone();
        let expected = if file == "manifest.json" {
            "done"
        } else {
            "in_review"
        };
        assert_eq!(state, expected, "{account} {file}");
    }

    // Where the screenshots go: out/e2e, or the committed ones when
    // INTAKE_E2E_SCREENSHOTS=tests/e2e/screenshots.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shots =
        root.join(std::env::var("INTAKE_E2E_SCREENSHOTS").unwrap_or_else(|_| "out/e2e".into()));
    let run = Command::new("node")
        .arg("tests/e2e/console.mjs")
        .args([&server.base, REVIEWER, REVIEWER_2])
        .arg(&shots)
        .current_dir(root)
        .output()
        .expect("node runs (make setup installs Chromium and playwright-core)");
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the console script failed:\n{said}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    println!("{said}");
    for shot in [
        "01-login.png",
        "02-item-zoomed.png",
        "03-account-panel.png",
        "04-correction.png",
        "05-reject-confirm.png",
        "06-undo-window.png",
        "07-held-long-name.png",
        "08-second-officer-sees-held.png",
        "09-second-officer-english.png",
    ] {
        assert!(shots.join(shot).is_file(), "{shot} missing");
    }

    // What the officers did, as the service recorded it.
    let queue = get(&server, "/v1/review");
    assert_eq!(queue["items"].as_array().unwrap().len(), 1, "{queue}");
    assert_eq!(queue["items"][0]["account"], LONG_ACCOUNT);
    assert_eq!(queue["items"][0]["claimed_by"], Value::Null);
    // An account's status and the job of its document of `kind`.
    let review_of = |account: &str, kind: &str| {
        let status = get(&server, &format!("/v1/accounts/{account}"));
        let job = status["documents"][kind]["job"]
            .as_str()
            .unwrap()
            .to_string();
        (status, get(&server, &format!("/v1/jobs/{job}")))
    };

    let (ivanov, job) = review_of("ivanov-1", "passport");
    assert_eq!(ivanov["status"], "needs_correction");
    let codes: Vec<&str> = ivanov["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"resolution_too_low"), "{codes:?}");
    assert!(codes.contains(&"correction_requested"), "{codes:?}");
    assert_eq!(job["review"]["by"]["id"], "r1");
    assert_eq!(
        job["review"]["comment"],
        "Фамилия в анкете не совпадает с паспортом; скан нечёткий."
    );

    // Rejected once (after the undo), for the reason given.
    let (petrova, job) = review_of("petrova-2", "id_card");
    assert_eq!(petrova["status"], "refused");
    assert_eq!(job["review"]["verdict"], "rejected");
    assert_eq!(job["review"]["items"][0]["code"], "document_refused");
    let audit = get(&server, "/v1/accounts/petrova-2/audit");
    let resolved = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "review_resolved")
        .count();
    assert_eq!(resolved, 1, "{audit}");

    // Released by the first officer, accepted by the second.
    let (_, job) = review_of("sidorov-3", "visa");
    assert_eq!(job["review"]["verdict"], "accepted");
    assert_eq!(job["review"]["by"]["id"], "r2");
    let audit = get(&server, "/v1/accounts/sidorov-3/audit");
    let actions: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let by = e["by"]["id"].as_str().unwrap_or("").to_string();
            (e["action"].as_str().unwrap().to_string(), by)
        })
        .collect();
    for step in [
        ("review_claimed", "r1"),
        ("review_released", "r1"),
        ("review_claimed", "r2"),
        ("review_resolved", "r2"),
    ] {
        assert!(
            actions.iter().any(|(a, by)| a == step.0 && by == step.1),
            "{step:?} missing: {actions:?}"
        );
    }

    // Held by the first officer while the second worked, then released.
    let audit = get(&server, &format!("/v1/accounts/{LONG_ACCOUNT}/audit"));
    let held: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("review_"))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        held.ends_with(&["review_claimed", "review_released"]),
        "{held:?}"
    );
}
