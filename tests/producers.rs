//! PDFs from the producers applicants and scanners use (issue 11): each gets
//! the verdict the same scan gets as a JPEG, with the effective dpi within 2%
//! of the truth, and the page holding the document is the one checked.
//!
//! The PDFs are made at test time from the committed samples by
//! `tests/producers/make_pdfs.sh` with Debian's img2pdf, ReportLab,
//! Ghostscript (pdfwrite, ps2pdf), ImageMagick, Tesseract and OCRmyPDF
//! (installed by `make deps`); CCITT G4 and JPEG 2000 go through the page
//! renderer (poppler's pdftoppm). The table is printed:
//! `cargo test --release --test integration producers -- --nocapture`.

use crate::codes;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

struct Case {
    file: String,
    kind: String,
    page: u64,
    dpi: f64,
}

fn make_pdfs(dir: &Path) -> Vec<Case> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/producers/make_pdfs.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(dir)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "make_pdfs.sh failed (are the producers installed? `make deps`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth = std::fs::read_to_string(dir.join("truth.tsv")).expect("truth.tsv");
    truth
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Case {
                file: f[0].to_string(),
                kind: f[1].to_string(),
                page: f[2].parse().expect("page"),
                dpi: f[3].parse().expect("dpi"),
            }
        })
        .collect()
}

/// One `intake check --json` of one file, timed.
fn check(path: &Path, kind: &str) -> (serde_json::Value, f64) {
    let started = Instant::now();
    let out = crate::intake(&[
        "check",
        "--json",
        "--today",
        "2026-06-01",
        "--kind",
        kind,
        path.to_str().expect("a UTF-8 path"),
    ]);
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.status.success());
    let report = serde_json::from_slice(&out.stdout).expect("one JSON report");
    (report, seconds)
}

fn committed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/committed")
        .join(name)
}

#[test]
fn every_producer_gets_the_jpeg_verdict_and_dpi_within_2_percent() {
    let dir = tempfile::tempdir().unwrap();
    let cases = make_pdfs(dir.path());
    assert!(cases.len() >= 20, "{} producers", cases.len());
    let (passport, _) = check(&committed("passport.jpg"), "passport");
    let (card, _) = check(&committed("migration_card.jpg"), "migration_card");
    assert_eq!(passport["verdict"], "accepted");
    assert_eq!(card["verdict"], "accepted");
    println!(
        "{:<34} {:<16} {:>9} {:>6} {:<14} {:>6}  findings",
        "producer", "verdict", "effective", "truth", "source", "s"
    );
    let mut wrong = Vec::new();
    for case in &cases {
        let (report, seconds) = check(&dir.path().join(&case.file), &case.kind);
        let dpi = &report["checks"]["dpi"];
        let effective = dpi["effective"].as_f64().unwrap_or(0.0);
        println!(
            "{:<34} {:<16} {:>9.1} {:>6} {:<14} {:>6.2}  {:?}",
            case.file,
            report["verdict"].as_str().unwrap_or("?"),
            effective,
            case.dpi,
            dpi["source"].as_str().unwrap_or("?"),
            seconds,
            codes(&report)
        );
        // The JPEG's verdict, except that a scan at 150 dpi is too low.
        let expected = match (case.kind.as_str(), case.dpi < 290.0) {
            (_, true) => "needs_correction",
            ("passport", false) => passport["verdict"].as_str().unwrap_or("?"),
            _ => card["verdict"].as_str().unwrap_or("?"),
        };
        if report["verdict"] != expected {
            wrong.push(format!(
                "{}: {} (wanted {expected})",
                case.file, report["verdict"]
            ));
        }
        if (effective - case.dpi).abs() > 0.02 * case.dpi {
            wrong.push(format!(
                "{}: {effective} dpi, truth {}",
                case.file, case.dpi
            ));
        }
        if case.dpi < 290.0 && !codes(&report).contains(&"resolution_too_low".to_string()) {
            wrong.push(format!("{}: no resolution_too_low", case.file));
        }
        // The page checked is the one holding the document.
        let checked = report["checks"]["page_summary"]
            .as_array()
            .and_then(|pages| pages.iter().find(|p| p["content"] == "document"))
            .and_then(|p| p["page"].as_u64());
        if checked != Some(case.page) {
            wrong.push(format!("{}: checked page {checked:?}", case.file));
        }
        if case.kind == "passport" && report["document"]["fields"] != passport["document"]["fields"]
        {
            wrong.push(format!("{}: fields differ from the JPEG's", case.file));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn multi_page_uploads_say_what_each_page_holds() {
    let dir = tempfile::tempdir().unwrap();
    make_pdfs(dir.path());
    // The migration card first, the passport second.
    let (two, _) = check(
        &dir.path().join("two_pages_passport_second.pdf"),
        "passport",
    );
    assert_eq!(two["verdict"], "accepted", "{two}");
    assert_eq!(two["checks"]["pages"], 2);
    let summary = two["checks"]["page_summary"].as_array().expect("pages");
    assert_eq!(summary[0]["page"], 1);
    assert_eq!(summary[0]["content"], "image");
    assert_eq!(summary[1]["content"], "document");
    assert!(codes(&two).contains(&"extra_pages".to_string()));
    // Undeclared: the same page is found.
    let (auto, _) = check(&dir.path().join("two_pages_passport_second.pdf"), "auto");
    assert_eq!(auto["document"]["kind"], "passport");
    assert_eq!(auto["checks"]["page_summary"][1]["content"], "document");
    // Declared as the migration card: page 1 is checked, page 2 is another document.
    let (card, _) = check(
        &dir.path().join("two_pages_passport_second.pdf"),
        "migration_card",
    );
    let summary = card["checks"]["page_summary"].as_array().expect("pages");
    assert_eq!(summary[0]["content"], "document");
    assert_eq!(summary[1]["content"], "other_document");
    assert_eq!(summary[1]["kind"], "passport");

    // One passport page and nine blank ones.
    let (ten, _) = check(&dir.path().join("ten_pages_one_passport.pdf"), "passport");
    assert_eq!(ten["verdict"], "accepted", "{ten}");
    assert_eq!(ten["checks"]["pages"], 10);
    let summary = ten["checks"]["page_summary"].as_array().expect("pages");
    assert_eq!(summary.len(), 10);
    assert_eq!(summary[0]["content"], "document");
    assert!(summary[1..].iter().all(|p| p["content"] == "blank"));
    let extra: Vec<_> = ten["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "extra_pages")
        .collect();
    assert_eq!(extra.len(), 1);
    assert!(!extra[0]["message_ru"].as_str().unwrap_or("").is_empty());
}
