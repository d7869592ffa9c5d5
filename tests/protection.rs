//! Data protection through the CLI: encryption at rest, the key, rekeying,
//! retention, the audit chain.

use crate::service::{config_in, config_with_key, ok, on, submit};
use std::path::Path;

const SECRETS: [&str; 4] = ["KHODZHAEV", "OL4676496", "ХОДЖАЕВ", "ZHAKHONGIR"];

/// Every byte under `dir`, file by file.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

fn found(dir: &Path) -> Vec<String> {
    let mut hits = Vec::new();
    for (file, bytes) in files_under(dir) {
        for secret in SECRETS {
            let needle = secret.as_bytes();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(format!("{secret} in {file}"));
            }
        }
    }
    hits
}

/// Submits the passport with a Cyrillic profile (and again, for another
/// account, with a surname that goes to review) and runs the pipeline.
fn fill(config: &str) {
    let profiles = "samples/committed/profiles";
    let passport = "samples/committed/passport.jpg";
    let profile = format!("{profiles}/passport.transliteration.json");
    submit(config, "a1", "passport", &["--profile", &profile, passport]);
    let mismatch = format!("{profiles}/passport.mismatch_surname.json");
    submit(
        config,
        "a2",
        "passport",
        &["--profile", &mismatch, passport],
    );
    on(config, "2026-06-01", &["run"]);
}

#[test]
fn the_raw_store_holds_no_surname_or_document_number_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    fill(&config);
    let queue = ok(&["queue", "tail", "--config", &config]);
    assert!(
        queue.contains("KHODZHAEV"),
        "the service reads its own records"
    );
    let hits = found(&dir.path().join("intake.db"));
    assert!(hits.is_empty(), "personal data in the clear: {hits:?}");

    // The same without a key stores them in the clear: the search finds them.
    let plain = tempfile::tempdir().unwrap();
    fill(&config_with_key(plain.path(), ""));
    assert!(
        !found(&plain.path().join("intake.db")).is_empty(),
        "the search would see plain text"
    );
}

/// Runs `intake` with `args` under umask 000, as a careless service unit
/// would: nothing the store protects may rely on the umask.
fn under_umask_000(args: &[&str]) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "umask 000 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_intake"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn account_ids_are_not_in_the_store_in_the_clear_and_its_files_are_the_owners_only() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("intake.key");
    under_umask_000(&["keygen", "--out", key.to_str().unwrap()]);
    let config = config_with_key(dir.path(), key.to_str().unwrap());
    // Ids derived from the applicant, as portals make them.
    let accounts = ["khodzhaev-zhakhongir-20010807", "melnik.iuliia.1995"];
    for account in accounts {
        let passport = "samples/committed/passport.jpg";
        under_umask_000(&[
            "submit",
            "--config",
            &config,
            "--account",
            account,
            "--kind",
            "passport",
            passport,
        ]);
    }
    under_umask_000(&["run", "--config", &config, "--today", "2026-06-01"]);
    // The service still finds them by id, and lists them.
    for account in accounts {
        let status = ok(&["status", account, "--config", &config]);
        assert!(status.starts_with(account), "{status}");
    }
    let store = dir.path().join("intake.db");
    for (file, bytes) in files_under(&store) {
        for account in accounts {
            let needle = account.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "account id {account} in the clear in {file}"
            );
        }
    }
    assert_eq!(mode(&key), 0o600, "the key file");
    assert_eq!(mode(&store), 0o700, "the store directory");
    let uploads = store.join("uploads");
    assert_eq!(mode(&uploads), 0o700);
    let mut files = 0;
    for shard in std::fs::read_dir(&uploads).unwrap() {
        let shard = shard.unwrap().path();
        assert_eq!(mode(&shard), 0o700, "{}", shard.display());
        for file in std::fs::read_dir(&shard).unwrap() {
            let file = file.unwrap().path();
            assert_eq!(mode(&file), 0o600, "{}", file.display());
            files += 1;
        }
    }
    assert_eq!(files, 1, "one file for the same scan of two accounts");
}

#[test]
fn without_its_key_the_service_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.key");
    let config = config_with_key(dir.path(), missing.to_str().unwrap());
    let out = crate::intake(&["run", "--config", &config]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("missing.key") && said.contains("intake keygen"),
        "{said}"
    );
    let by_env = std::fs::read_to_string(&config).unwrap().replace(
        &format!("key_file = {:?}", missing.display().to_string()),
        "key_file = \"\"\nkey_env = \"INTAKE_TEST_NO_SUCH_KEY\"",
    );
    std::fs::write(&config, by_env).unwrap();
    let out = crate::intake(&["run", "--config", &config]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("INTAKE_TEST_NO_SUCH_KEY"));
}

#[test]
fn rekeying_loses_no_record_and_the_old_key_no_longer_opens_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    fill(&config);
    let before = ok(&["queue", "tail", "--config", &config]);
    let new_key = dir.path().join("new.key");
    ok(&["keygen", "--out", new_key.to_str().unwrap()]);
    let said = ok(&[
        "rekey",
        "--config",
        &config,
        "--new-key-file",
        new_key.to_str().unwrap(),
    ]);
    assert!(said.contains("re-encrypted"), "{said}");
    let old = crate::intake(&["queue", "tail", "--config", &config]);
    assert!(!old.status.success(), "the old key opens nothing any more");

    let text = std::fs::read_to_string(&config).unwrap();
    let old_key = dir.path().join("intake.key");
    std::fs::write(
        &config,
        text.replace(old_key.to_str().unwrap(), new_key.to_str().unwrap()),
    )
    .unwrap();
    assert_eq!(ok(&["queue", "tail", "--config", &config]), before);
    assert!(ok(&["audit", "verify", "--config", &config]).contains("holds"));
    assert!(
        ok(&["accounts", "verify", "--config", &config]).contains("every account status equals")
    );
    let review = ok(&["review", "list", "--config", &config]);
    assert!(review.contains("a2"), "{review}");
    // The uploads were re-sealed too: an image-less store would send jobs to review.
    let again = ok(&[
        "rekey",
        "--config",
        &config,
        "--new-key-file",
        new_key.to_str().unwrap(),
    ]);
    assert!(
        again.starts_with("0 records"),
        "a second run has nothing to do: {again}"
    );
}

#[test]
fn retention_deletes_old_uploads_and_keeps_verdicts_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    fill(&config);
    let uploads = || files_under(&dir.path().join("intake.db/uploads")).len();
    assert_eq!(uploads(), 1, "one file for the same scan of two accounts");
    let soon = ok(&["purge", "--config", &config, "--today", "2026-06-20"]);
    assert!(soon.starts_with("0 uploads"), "{soon}");
    let later = ok(&["purge", "--config", &config, "--today", "2026-07-15"]);
    assert!(
        later.starts_with("2 uploads"),
        "both jobs had the file: {later}"
    );
    assert_eq!(uploads(), 0);
    assert_eq!(
        ok(&["queue", "tail", "--config", &config]).lines().count(),
        2
    );
    let audit = ok(&["audit", "a1", "--config", &config]);
    assert!(audit.contains("upload_purged"), "{audit}");
    assert!(ok(&["audit", "verify", "--config", &config]).contains("holds"));
}

#[test]
fn debug_logs_carry_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let profile = "samples/committed/profiles/passport.transliteration.json";
    let passport = "samples/committed/passport.jpg";
    submit(&config, "a1", "passport", &["--profile", profile, passport]);
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(["run", "--config", &config, "--today", "2026-06-01"])
        .env("RUST_LOG", "debug")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(run.status.success());
    let logs = String::from_utf8_lossy(&run.stderr);
    assert!(
        logs.contains("verdict committed") && logs.contains("decoded"),
        "debug logs are on: {logs}"
    );
    // The sample's surname, given name, birth date (ISO and MRZ form) and document number.
    for secret in [
        "KHODZHAEV",
        "ХОДЖАЕВ",
        "ZHAKHONGIR",
        "2001-08-07",
        "010807",
        "OL4676496",
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}
