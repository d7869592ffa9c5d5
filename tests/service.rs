//! The durable service through the CLI: `submit`, `run`, `queue tail`,
//! `status`, `review`, `audit`, `accounts verify` on a real sled store in a
//! temporary directory.

use crate::intake;
use serde_json::Value;
use std::path::Path;

/// A config whose store and key live in `dir`, with a new key.
pub fn config_in(dir: &Path) -> String {
    let key = dir.join("intake.key");
    ok(&["keygen", "--out", key.to_str().unwrap()]);
    config_with_key(dir, &key.display().to_string())
}

/// A config whose store lives in `dir`, with `key_file` set to `key`
/// (`""`: not encrypted); its path.
pub fn config_with_key(dir: &Path, key: &str) -> String {
    let config = dir.join("pipeline.toml");
    let text = crate::store_toml(&dir.join("intake.db"), key);
    std::fs::write(&config, text).expect("config written");
    config.display().to_string()
}

pub fn ok(args: &[&str]) -> String {
    let out = intake(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `intake submit` of `files` (and options) for `account`; its output.
pub fn submit(config: &str, account: &str, kind: &str, rest: &[&str]) -> String {
    let mut args = vec![
        "submit",
        "--config",
        config,
        "--account",
        account,
        "--kind",
        kind,
    ];
    args.extend(rest);
    ok(&args)
}

/// The whole verdict queue.
fn queue(config: &str) -> Vec<Value> {
    ok(&["queue", "tail", "--config", config])
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn every_upload_gets_one_verdict_and_resubmission_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let passport = "samples/committed/passport.jpg";
    let card = "samples/committed/migration_card.jpg";
    let profile = "samples/committed/profiles/passport.matching.json";

    let first = submit(&config, "a1", "passport", &["--profile", profile, passport]);
    assert!(first.contains("stored"), "{first}");
    let again = submit(&config, "a1", "passport", &["--profile", profile, passport]);
    assert!(
        again.contains("already submitted") && again.contains("pending"),
        "{again}"
    );
    // Same file, another account: another job.
    submit(&config, "a2", "passport", &[passport]);
    submit(&config, "a2", "migration_card", &[card]);

    assert!(ok(&["run", "--config", &config, "--today", "2026-06-01"]).starts_with("3 verdicts"));
    // Nothing is left: a second run appends nothing.
    assert!(ok(&["run", "--config", &config, "--today", "2026-06-01"]).starts_with("0 verdicts"));
    let after = submit(&config, "a1", "passport", &["--profile", profile, passport]);
    assert!(after.contains("done"), "{after}");
    // The same file with another (or no) declared profile is a new check.
    let corrected = "samples/committed/profiles/passport.date_format.json";
    let other = submit(
        &config,
        "a1",
        "passport",
        &["--profile", corrected, passport],
    );
    assert!(other.contains("stored"), "{other}");
    assert!(submit(&config, "a1", "passport", &[passport]).contains("stored"));

    let queue = queue(&config);
    assert_eq!(queue.len(), 3);
    let seqs: Vec<u64> = queue.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let jobs: std::collections::BTreeSet<&str> =
        queue.iter().map(|e| e["job"].as_str().unwrap()).collect();
    assert_eq!(jobs.len(), 3, "one verdict per job");
    // The same passport on a1 and a2: whichever came second goes to a
    // person as `duplicate_document`. a2's migration card is another
    // person's: whichever of a2's documents came second is
    // `cross_document_mismatch`. The rest is accepted.
    let has = |code: &'static str| {
        move |e: &&Value| {
            e["findings"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["code"] == code))
        }
    };
    let flagged: Vec<&Value> = queue.iter().filter(has("duplicate_document")).collect();
    assert_eq!(flagged.len(), 1, "{queue:?}");
    assert_eq!(flagged[0]["kind"], "passport");
    assert_eq!(flagged[0]["verdict"], "needs_review");
    let crossed: Vec<&Value> = queue
        .iter()
        .filter(has("cross_document_mismatch"))
        .collect();
    assert_eq!(crossed.len(), 1, "{queue:?}");
    assert_eq!(crossed[0]["account"], "a2");
    assert_eq!(crossed[0]["verdict"], "needs_review");
    assert!(
        queue
            .iter()
            .filter(|e| !has("duplicate_document")(e) && !has("cross_document_mismatch")(e))
            .all(|e| e["verdict"] == "accepted"),
        "{queue:?}"
    );
    let from_two = ok(&[
        "queue",
        "tail",
        "--config",
        &config,
        "--from",
        &seqs[1].to_string(),
    ]);
    assert_eq!(from_two.lines().count(), 2);
}

/// Kills `intake run` with SIGKILL at pseudo-random moments, restarting it
/// each time: every job ends with exactly one verdict, none twice.
#[test]
fn sigkill_at_random_moments_loses_no_job_and_duplicates_no_verdict() {
    const JOBS: usize = 200;
    const KILLS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let files = [
        ("passport", "samples/committed/passport.jpg"),
        ("visa", "samples/committed/visa.jpg"),
        ("id_card", "samples/committed/id_card_png_named_jpg.jpg"),
    ];
    // Two documents per account (passport + visa, ID card + passport, visa +
    // ID card): the same scan for another account is another job.
    for i in 0..JOBS {
        let (kind, file) = files[i % files.len()];
        let account = format!("acc-{}", i / 2);
        submit(&config, &account, kind, &[file]);
    }

    let mut seed: u64 = 0x2026_1123;
    let mut next_delay_ms = || {
        // xorshift64: reproducible "random" moments, 150..1350 ms.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        150 + seed % 1200
    };
    for _ in 0..KILLS {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_intake"))
            .args(["run", "--config", &config, "--today", "2026-06-01"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("intake run starts");
        std::thread::sleep(std::time::Duration::from_millis(next_delay_ms()));
        // Child::kill sends SIGKILL on Unix.
        let _ = child.kill();
        let _ = child.wait();
    }
    let last = ok(&["run", "--config", &config, "--today", "2026-06-01"]);
    assert!(last.contains("verdicts appended"), "{last}");
    eprintln!("after {KILLS} kills, the last run: {}", last.trim());

    let queue = queue(&config);
    let jobs: std::collections::BTreeSet<&str> =
        queue.iter().map(|e| e["job"].as_str().unwrap()).collect();
    assert_eq!(jobs.len(), queue.len(), "a job has two verdicts");
    assert_eq!(queue.len(), JOBS, "a job has no verdict");
    let seqs: Vec<u64> = queue.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    // Nothing is pending any more, whatever was killed when.
    assert!(ok(&["run", "--config", &config, "--today", "2026-06-01"]).starts_with("0 verdicts"));
    // Every account's status is the one the verdicts give, computed afresh.
    let verified = ok(&["accounts", "verify", "--config", &config]);
    assert!(
        verified.contains("every account status equals"),
        "{verified}"
    );
    // The same passport and ID card scans on many accounts: every one but
    // the first committed goes to a person, across every kill (the holders
    // are loaded from the verdict queue at each start): 67 passports and
    // 66 ID cards, one account each.
    let duplicates = queue
        .iter()
        .filter(|e| {
            e["findings"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["code"] == "duplicate_document"))
        })
        .count();
    assert_eq!(duplicates, 66 + 65);
}

/// `intake ARGS --config CONFIG --today DATE`; its output.
pub fn on(config: &str, date: &str, args: &[&str]) -> String {
    ok(&[args, &["--config", config, "--today", date]].concat())
}

/// `intake status ACCOUNT` (human-readable) with the clock at 2026-06-01.
fn status(config: &str, account: &str) -> String {
    on(config, "2026-06-01", &["status", account])
}

#[test]
fn a_flagged_document_is_reviewed_and_the_account_status_follows() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let day = |args: &[&str]| on(&config, "2026-06-01", args);
    let mismatch = "samples/committed/profiles/passport.mismatch_surname.json";
    let passport = "samples/committed/passport.jpg";
    submit(
        &config,
        "acc",
        "passport",
        &["--profile", mismatch, passport],
    );
    day(&["run"]);
    assert!(status(&config, "acc").starts_with("acc: in_review"));

    let listed = day(&["review", "list", "--json"]);
    let item: Value = serde_json::from_str(listed.trim()).expect("one review item");
    assert_eq!(item["findings"][0]["code"], "field_mismatch");
    let job = item["job"].as_str().unwrap();
    assert!(day(&["review", "claim", job, "--reviewer", "r1"]).contains("claimed by r1"));
    let taken = intake(&[
        "review",
        "claim",
        job,
        "--reviewer",
        "r2",
        "--config",
        &config,
        "--today",
        "2026-06-01",
    ]);
    assert!(
        !taken.status.success(),
        "a claimed item cannot be taken: {}",
        String::from_utf8_lossy(&taken.stdout)
    );
    assert!(String::from_utf8_lossy(&taken.stderr).contains("claimed by r1"));
    // Only the claimant gives it back; then it can be taken again.
    let not_theirs = intake(&[
        "review",
        "release",
        job,
        "--reviewer",
        "r2",
        "--config",
        &config,
        "--today",
        "2026-06-01",
    ]);
    assert!(!not_theirs.status.success());
    assert!(String::from_utf8_lossy(&not_theirs.stderr).contains("not claimed by r2"));
    assert!(day(&["review", "release", job, "--reviewer", "r1"]).contains("released by r1"));
    assert!(day(&["review", "list"]).contains("[free]"));
    assert!(day(&["review", "claim", job, "--reviewer", "r1"]).contains("claimed by r1"));
    let resolved = day(&[
        "review",
        "resolve",
        job,
        "--reviewer",
        "r1",
        "--decision",
        "correct",
        "--items",
        "surname",
        "--comment",
        "check the spelling",
    ]);
    assert!(resolved.contains("needs_correction"), "{resolved}");

    let account: Value = serde_json::from_str(day(&["status", "acc", "--json"]).trim()).unwrap();
    assert_eq!(account["status"], "needs_correction");
    assert_eq!(account["items"][0]["code"], "correction_requested");
    assert_eq!(account["items"][0]["field"], "surname");
    assert!(day(&["review", "list"]).is_empty());

    let audit: Vec<Value> = day(&["audit", "acc"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "job_submitted",
            "verdict",
            "review_queued",
            "status",
            "review_claimed",
            "review_released",
            "review_claimed",
            "review_resolved",
            "status"
        ]
    );
    let last = audit.last().unwrap();
    assert_eq!(last["by"]["id"], "r1");
    assert_eq!(last["before"], "in_review");
    assert_eq!(
        last["after"],
        "needs_correction: correction_requested(surname)"
    );
    // Three days on, the unanswered correction restricts the account.
    on(&config, "2026-06-04", &["sweep"]);
    let later = on(&config, "2026-06-04", &["status", "acc"]);
    assert!(later.starts_with("acc: restricted"), "{later}");
    assert!(later.contains("correct the surname"), "{later}");
    assert!(day(&["accounts", "verify"]).contains("every account status equals"));
}

/// `intake profile`, the CLI twin of `PUT /v1/accounts/{account}/profile`:
/// the corrected field checks the account's passport again, audited.
#[test]
fn a_profile_update_at_the_cli_checks_the_documents_again() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let day = |args: &[&str]| on(&config, "2026-06-01", args);
    let passport = "samples/committed/passport.jpg";
    let wrong = "samples/committed/profiles/passport.mismatch_birth_date.json";
    submit(&config, "p1", "passport", &["--profile", wrong, passport]);
    day(&["run"]);
    assert!(status(&config, "p1").starts_with("p1: in_review"));

    let right = dir.path().join("birth_date.json");
    std::fs::write(&right, r#"{"birth_date": "07.08.2001"}"#).unwrap();
    let right = right.to_str().unwrap();
    let updated = day(&["profile", "p1", "--profile", right, "--by", "operator-7"]);
    assert!(
        updated.contains("passport: checked again as job"),
        "{updated}"
    );
    day(&["run"]);
    // Only a passport: accepted, and the account waits for a stay document.
    assert!(
        status(&config, "p1").starts_with("p1: pending"),
        "{}",
        status(&config, "p1")
    );
    let again = day(&["profile", "p1", "--profile", right]);
    assert!(again.contains("passport: profile unchanged"), "{again}");

    let log = day(&["audit", "p1"]);
    let entry: Value = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["action"] == "profile_updated")
        .expect("the update is audited");
    assert_eq!(entry["by"]["type"], "uploader");
    assert_eq!(entry["by"]["id"], "operator-7");
    assert!(entry["after"].as_str().unwrap().contains("birth_date"));
    let bad = intake(&[
        "profile",
        "p1",
        "--profile",
        "Cargo.toml",
        "--config",
        &config,
    ]);
    assert!(
        !bad.status.success(),
        "a file that is not a profile is a usage error"
    );
}
