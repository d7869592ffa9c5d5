//! End to end on generated samples: MRZ accuracy, bad files, profiles.
//!
//! One sample set is generated per test run (`intake samples`), and every
//! check goes through the real binary, as the portal and outside evaluation
//! run it.

use crate::{check_json, codes, intake};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The generated set: its directory (kept for the test run) and manifest.
struct SampleSet {
    dir: PathBuf,
    manifest: Value,
}

impl SampleSet {
    fn entries(&self) -> Vec<&Value> {
        let entries = self.manifest.get("entries").unwrap_or(&self.manifest);
        entries
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }
    fn today(&self) -> String {
        self.manifest["today"]
            .as_str()
            .unwrap_or("2026-06-01")
            .to_string()
    }
    fn path(&self, entry: &Value) -> PathBuf {
        self.dir
            .join(entry["file"].as_str().expect("entry has a file"))
    }
}

fn samples() -> &'static SampleSet {
    static SET: OnceLock<SampleSet> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("intake-samples-{}", std::process::id()));
        let out = intake(&[
            "samples",
            "--out",
            dir.to_str().unwrap(),
            "--count",
            "72",
            "--seed",
            "2026",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest =
            std::fs::read_to_string(dir.join("manifest.json")).expect("manifest written");
        SampleSet {
            dir,
            manifest: serde_json::from_str(&manifest).expect("manifest is JSON"),
        }
    })
}

const MRZ_FIELDS: [&str; 8] = [
    "document_type",
    "issuing_state",
    "surname",
    "given_names",
    "document_number",
    "nationality",
    "birth_date",
    "expiry_date",
];

/// Whether every MRZ field of a report equals the ground truth.
fn all_fields_right(report: &Value, truth: &Value) -> bool {
    let got = &report["document"]["fields"];
    MRZ_FIELDS
        .iter()
        .chain(["sex"].iter())
        .filter(|f| !truth[**f].is_null())
        .all(|f| got[*f] == truth[*f])
}

/// `intake check --json` over the files of `entries` in one process, on the
/// set's submission date, with `extra` arguments; one report per entry.
fn check_entries(entries: &[&Value], extra: &[&str]) -> Vec<Value> {
    let set = samples();
    let paths: Vec<PathBuf> = entries.iter().map(|e| set.path(e)).collect();
    let files: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let today = set.today();
    let args: Vec<&str> = ["--today", today.as_str()]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    check_json(&files, &args)
}

/// Checks `entries` in one process and tallies all-fields-right per `key`.
fn accuracy(entries: &[&Value], key: &str) -> BTreeMap<String, (usize, usize)> {
    let reports = check_entries(entries, &[]);
    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (entry, report) in entries.iter().zip(&reports) {
        let class = entry[key].as_str().unwrap_or("?").to_string();
        let right = all_fields_right(report, &entry["fields"]);
        if !right {
            eprintln!(
                "wrong: {} {:?} vs truth {:?}",
                entry["file"], report["document"]["mrz"]["lines"], entry["mrz_lines"]
            );
        }
        let t = tally.entry(class).or_default();
        t.0 += usize::from(right);
        t.1 += 1;
    }
    for (class, (right, all)) in &tally {
        eprintln!(
            "{key} {class:<16} {right}/{all} = {:.1}%",
            100.0 * *right as f64 / *all as f64
        );
    }
    tally
}

/// The generator's print and capture classes (issue 16), not yet held to
/// the accuracy of the others.
const PRINT_CLASSES: [&str; 5] = [
    "guilloche",
    "card_edge",
    "cap_height",
    "other_rasteriser",
    "perspective",
];

fn has_mrz(entry: &Value) -> bool {
    !entry["mrz_format"].is_null() && entry["fields"].is_object()
}

#[test]
fn clean_scans_at_300_dpi_and_above_read_every_mrz_field() {
    let set = samples();
    let clean: Vec<&Value> = set
        .entries()
        .into_iter()
        .filter(|e| {
            has_mrz(e) && e["degradation"] == "clean" && e["true_dpi"].as_f64() >= Some(300.0)
        })
        .collect();
    assert!(
        clean.len() >= 20,
        "too few clean MRZ samples: {}",
        clean.len()
    );
    let by_kind = accuracy(&clean, "mrz_format");
    let (right, all) = by_kind
        .values()
        .fold((0, 0), |(r, a), (x, y)| (r + x, a + y));
    assert_eq!(
        right, all,
        "only {right}/{all} clean documents have every MRZ field right: {by_kind:?}"
    );
    // Every layout and every file format is in the set.
    assert!(by_kind.len() >= 3, "{by_kind:?}");
    let formats: std::collections::BTreeSet<&str> =
        clean.iter().filter_map(|e| e["format"].as_str()).collect();
    assert!(formats.len() >= 3, "{formats:?}");
}

#[test]
fn degraded_scans_are_read_or_flagged_never_wrongly_accepted() {
    let set = samples();
    let degraded: Vec<&Value> = set
        .entries()
        .into_iter()
        .filter(|e| has_mrz(e) && e["degradation"] != "clean")
        .collect();
    // Blur (heavy blur too: the glyph classifier's templates are blurred as
    // much), noise, JPEG artefacts, skew, turns, faded and A4 pages: read.
    // The print and capture classes of issue 16 (security print, card edges,
    // cap height, another rasteriser, perspective) are measured and printed
    // with the others, and held below only to never being wrongly accepted,
    // until the reader that reads them lands.
    let by_class = accuracy(&degraded, "degradation");
    let (right, all) = by_class
        .iter()
        .filter(|(class, _)| !PRINT_CLASSES.contains(&class.as_str()))
        .fold((0, 0), |(r, a), (_, (x, y))| (r + x, a + y));
    assert!(
        right as f64 >= 0.95 * all as f64,
        "only {right}/{all} degraded documents have every MRZ field right: {by_class:?}"
    );
    // Scans below 300 dpi or out of focus get the finding that says so.
    let disqualified: Vec<&Value> = degraded
        .iter()
        .copied()
        .filter(|e| e["expected_verdict"] == "needs_correction")
        .collect();
    assert!(!disqualified.is_empty());
    for (entry, report) in disqualified.iter().zip(check_entries(&disqualified, &[])) {
        let got = codes(&report);
        for expected in entry["expected_codes"].as_array().unwrap() {
            let expected = expected.as_str().unwrap();
            if expected == "resolution_too_low" || expected == "image_unreadable" {
                assert!(
                    got.iter().any(|c| c == expected),
                    "{}: expected {expected}, got {got:?}",
                    entry["file"]
                );
            }
        }
        assert_eq!(report["verdict"], "needs_correction", "{}", entry["file"]);
    }
    // With its matching profile, a document read wrong must not be accepted.
    for entry in degraded {
        let Some(profile) = profile_file(entry, "matching") else {
            continue;
        };
        let report = check_with_profile(entry, &profile);
        if report["verdict"] == "accepted" {
            assert!(
                all_fields_right(&report, &entry["fields"]),
                "{} accepted with wrong fields: {:?}",
                entry["file"],
                report["document"]["fields"]
            );
        }
    }
}

#[test]
fn every_bad_file_gets_its_reason_code() {
    let set = samples();
    let bad: Vec<&Value> = set
        .entries()
        .into_iter()
        .filter(|e| {
            e["fields"].is_null()
                && e["expected_codes"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty())
        })
        .collect();
    assert!(bad.len() >= 10, "too few bad files: {}", bad.len());
    let reports = check_entries(&bad, &[]);
    for (entry, report) in bad.iter().zip(&reports) {
        let got = codes(report);
        for expected in entry["expected_codes"].as_array().unwrap() {
            assert!(
                got.iter().any(|c| c == expected.as_str().unwrap()),
                "{}: expected {expected}, got {got:?}",
                entry["file"]
            );
        }
        assert_eq!(report["verdict"], "needs_correction", "{}", entry["file"]);
    }
}

fn profile_file(entry: &Value, name: &str) -> Option<PathBuf> {
    let profiles = entry["profiles"].as_array()?;
    let p = profiles.iter().find(|p| p["name"].as_str() == Some(name))?;
    Some(samples().dir.join(p["file"].as_str()?))
}

fn check_with_profile(entry: &Value, profile: &Path) -> Value {
    let set = samples();
    let path = set.path(entry);
    let today = set.today();
    let mut reports = check_json(
        &[&path],
        &["--profile", profile.to_str().unwrap(), "--today", &today],
    );
    reports.remove(0)
}

#[test]
fn mismatched_profiles_are_never_accepted_equivalent_ones_are() {
    let set = samples();
    let mut checked = 0;
    for entry in set
        .entries()
        .into_iter()
        .filter(|e| {
            has_mrz(e) && e["degradation"] == "clean" && e["expected_verdict"] == "accepted"
        })
        .take(12)
    {
        for profile in entry["profiles"].as_array().into_iter().flatten() {
            let name = profile["name"].as_str().unwrap_or("");
            let path = set.dir.join(profile["file"].as_str().unwrap());
            let report = check_with_profile(entry, &path);
            if name.starts_with("mismatch") {
                assert_ne!(
                    report["verdict"], "accepted",
                    "{} with {name}",
                    entry["file"]
                );
                assert!(
                    codes(&report).contains(&"field_mismatch".to_string()),
                    "{name}: {report}"
                );
            } else {
                assert_eq!(
                    report["verdict"], "accepted",
                    "{} with {name}: {report}",
                    entry["file"]
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} profile checks");
}

#[test]
fn committed_samples_get_their_expected_verdicts_and_fields() {
    committed_samples_are_checked_as_expected(&[]);
}

/// A configuration reading the MRZ with Tesseract alone (`ocr.mrz_glyphs = false`).
fn tesseract_only() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tesseract-only.toml");
    std::fs::write(&config, "[ocr]\nmrz_glyphs = false\n").unwrap();
    let path = config.to_str().unwrap().to_string();
    (dir, path)
}

/// The reader the glyph classifier falls back on, alone.
#[test]
fn tesseract_alone_reads_the_committed_samples_as_well() {
    let (_dir, config) = tesseract_only();
    committed_samples_are_checked_as_expected(&["--config", &config]);
}

/// Heavy blur (σ 4.5 px) defeats Tesseract; the glyph classifier, whose
/// templates are blurred as much, reads it (the scans are still refused as
/// `image_unreadable`, above). Also shows `ocr.mrz_glyphs` is obeyed.
#[test]
fn heavy_blur_is_read_by_the_glyph_classifier_not_by_tesseract() {
    let set = samples();
    let blurred: Vec<&Value> = set
        .entries()
        .into_iter()
        .filter(|e| has_mrz(e) && e["degradation"] == "heavy_blur")
        .collect();
    assert!(!blurred.is_empty());
    let right = |reports: Vec<Value>| {
        blurred
            .iter()
            .zip(&reports)
            .filter(|(e, r)| all_fields_right(r, &e["fields"]))
            .count()
    };
    let with_glyphs = right(check_entries(&blurred, &[]));
    let (_dir, config) = tesseract_only();
    let tesseract = right(check_entries(&blurred, &["--config", &config]));
    assert_eq!(with_glyphs, blurred.len(), "glyph classifier");
    assert!(
        tesseract < with_glyphs,
        "Tesseract alone read {tesseract}/{}",
        blurred.len()
    );
}

fn committed_samples_are_checked_as_expected(extra: &[&str]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/committed");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json")).expect("committed manifest"),
    )
    .expect("manifest is JSON");
    let entries = manifest["entries"].as_array().expect("entries");
    let paths: Vec<PathBuf> = entries
        .iter()
        .map(|e| dir.join(e["file"].as_str().unwrap()))
        .collect();
    let files: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let today = manifest["today"].as_str().unwrap();
    let args: Vec<&str> = ["--today", today]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let reports = check_json(&files, &args);
    for (entry, report) in entries.iter().zip(&reports) {
        assert_eq!(
            report["verdict"], entry["expected_verdict"],
            "{}: {report}",
            entry["file"]
        );
        let got = codes(report);
        for expected in entry["expected_codes"].as_array().unwrap() {
            assert!(
                got.iter().any(|c| c == expected.as_str().unwrap()),
                "{}: {got:?}",
                entry["file"]
            );
        }
        if has_mrz(entry) {
            assert!(
                all_fields_right(report, &entry["fields"]),
                "{}: {report}",
                entry["file"]
            );
        }
    }
}
