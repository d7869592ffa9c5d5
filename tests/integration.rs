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
