//! Integration tests through the public CLI and library API.
//!
//! They run the real release binary (`CARGO_BIN_EXE_intake`) with real
//! Tesseract, lopdf in the sandbox, and samples from the generator.

mod accounts;
mod api;
mod cli;
mod cluster;
mod console;
mod document_size;
mod full_disk;
mod kinds;
mod layers;
mod leftovers;
mod load;
mod notify;
mod phone_jpegs;
mod pixels;
mod producers;
mod protection;
mod samples;
mod sandbox;
mod service;
mod slow_clients;
mod upload_burst;

use std::path::Path;
use std::process::{Command, Output};

/// Runs `intake` with `args` in the repository root.
pub fn intake(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("intake runs")
}

/// `intake check FILES... --json` with extra args; one parsed report per line.
pub fn check_json(files: &[&Path], extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args: Vec<&str> = vec!["check", "--json"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    args.extend(extra);
    let out = intake(&args);
    assert!(
        out.status.success(),
        "intake check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

/// The finding codes of a report.
pub fn codes(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|x| x["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
mod bombs;

/// The NATS server the suite's stores are on, when it runs against the
/// JetStream backend (`scripts/test-jetstream.sh` sets it); else sled.
pub fn jetstream_url() -> Option<String> {
    std::env::var("INTAKE_TEST_NATS")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The `[store]` table (and `[jetstream]`, on that backend) of a test's
/// config: the store at `store` (on JetStream, its local spool), sealed
/// with the key in `key` (`""`: none). On JetStream each store gets a
/// prefix of its own on the one server.
pub fn store_toml(store: &Path, key: &str) -> String {
    let store = store.display().to_string();
    match jetstream_url() {
        None => format!("[store]\npath = {store:?}\nkey_file = {key:?}\n"),
        Some(url) => {
            let prefix = &intake::digest::sha256_hex(store.as_bytes())[..16];
            format!(
                "[store]\nbackend = \"jetstream\"\npath = {store:?}\nkey_file = {key:?}\n\n\
                 [jetstream]\nurl = {url:?}\nprefix = \"t{prefix}\"\nack_wait_s = 2\nduty_ttl_s = 2\n"
            )
        }
    }
}

/// Whether a test of something only sled has runs: says why it does not
/// on JetStream (and passes there).
pub fn sled_only(why: &str) -> bool {
    if jetstream_url().is_some() {
        eprintln!("not on JetStream: {why}");
        return false;
    }
    true
}
