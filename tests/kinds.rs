//! Every document kind without an MRZ (issue 12), through `intake check`
//! as outside evaluation runs it, on the generator's `--kinds` set: each
//! kind's sample is accepted when declared as that kind with the profile
//! that matches it; declared as another kind it is `document_kind_mismatch`;
//! expired, it is rejected by its kind's validity rule.

use crate::{check_json, codes, intake};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The generated set: its directory and its manifest's entries.
struct KindSet {
    dir: tempfile::TempDir,
    today: String,
    entries: Vec<Value>,
}

impl KindSet {
    fn entry(&self, stem: &str) -> &Value {
        let file = format!("{stem}.jpg");
        self.entries
            .iter()
            .find(|e| e["file"] == file.as_str())
            .unwrap_or_else(|| panic!("{file} is not in the manifest"))
    }

    fn path(&self, relative: &Value) -> PathBuf {
        self.dir
            .path()
            .join(relative.as_str().expect("a file name"))
    }

    /// The kinds drawn without an MRZ, in the generator's order (one valid
    /// file each).
    fn kinds(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e["mrz_format"].is_null())
            .filter_map(|e| e["file"].as_str())
            .filter(|f| !f.contains("_expired"))
            .map(|f| f.trim_end_matches(".jpg").to_string())
            .collect()
    }
}

fn kind_set() -> &'static KindSet {
    static SET: OnceLock<KindSet> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = intake(&[
            "samples",
            "--kinds",
            "--seed",
            "12",
            "--out",
            dir.path().to_str().expect("a UTF-8 path"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("manifest.json")).expect("the manifest"),
        )
        .expect("the manifest is JSON");
        KindSet {
            today: manifest["today"].as_str().expect("today").to_string(),
            entries: manifest["entries"].as_array().expect("entries").clone(),
            dir,
        }
    })
}

/// `intake check` on one file, declared as `kind`, on the set's date.
fn check(set: &KindSet, file: &Path, kind: &str, profile: Option<&Path>) -> Value {
    let profile = profile.map(|p| p.display().to_string());
    let mut args = vec!["--kind", kind, "--today", set.today.as_str()];
    if let Some(profile) = &profile {
        args.extend(["--profile", profile.as_str()]);
    }
    let mut reports = check_json(&[file], &args);
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

#[test]
fn the_set_holds_every_kind_without_an_mrz() {
    let kinds = kind_set().kinds();
    for kind in [
        "national_passport",
        "temporary_travel_document",
        "refugee_certificate",
        "migration_card",
        "residence_permit",
        "temporary_residence_permit",
        "work_permit",
        "work_patent",
        "stay_registration",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
}

#[test]
fn each_kind_is_accepted_as_itself_with_a_matching_profile() {
    let set = kind_set();
    for kind in set.kinds() {
        let entry = set.entry(&kind);
        let matching = entry["profiles"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "matching"))
            .expect("a matching profile");
        let report = check(
            set,
            &set.path(&entry["file"]),
            &kind,
            Some(&set.path(&matching["file"])),
        );
        assert_eq!(report["verdict"], "accepted", "{kind}: {report}");
        assert_eq!(report["document"]["kind"], kind.as_str());
        let fields = &report["document"]["fields"];
        for field in ["document_number", "birth_date", "expiry_date"] {
            assert_eq!(
                fields[field], entry["fields"][field],
                "{kind}: {field} in {report}"
            );
        }
        // Every declared field was compared, none found different.
        let results: Vec<&Value> = report["match"]
            .as_array()
            .map(|m| m.iter().map(|r| &r["result"]).collect())
            .unwrap_or_default();
        assert!(results.len() >= 6, "{kind}: {report}");
        assert!(results.iter().all(|r| *r != "mismatch"), "{kind}: {report}");
    }
}

#[test]
fn each_kind_declared_as_another_is_a_kind_mismatch() {
    let set = kind_set();
    let kinds = set.kinds();
    for (i, kind) in kinds.iter().enumerate() {
        // The next kind of the set, and one that needs an MRZ's absence to
        // be told by the title: every pair is a different kind.
        let declared = &kinds[(i + 1) % kinds.len()];
        let entry = set.entry(kind);
        let report = check(set, &set.path(&entry["file"]), declared, None);
        assert!(
            codes(&report).contains(&"document_kind_mismatch".to_string()),
            "{kind} declared as {declared}: {report}"
        );
        assert_eq!(report["verdict"], "needs_correction", "{report}");
        assert_eq!(report["document"]["kind"], kind.as_str(), "{report}");
    }
}

#[test]
fn each_kind_expired_is_rejected_by_its_rule() {
    let set = kind_set();
    for kind in set.kinds() {
        let entry = set.entry(&format!("{kind}_expired"));
        let report = check(set, &set.path(&entry["file"]), &kind, None);
        let stay = [
            "migration_card",
            "residence_permit",
            "temporary_residence_permit",
            "work_permit",
            "work_patent",
            "stay_registration",
        ]
        .contains(&kind.as_str());
        let code = if stay {
            "stay_document_expired"
        } else {
            "document_expired"
        };
        assert_eq!(report["verdict"], "rejected", "{kind}: {report}");
        assert!(
            codes(&report).contains(&code.to_string()),
            "{kind}: {report}"
        );
        assert_eq!(
            entry["expected_codes"],
            serde_json::json!([code]),
            "the generator agrees"
        );
    }
}

#[test]
fn a_passport_zone_fits_a_national_passport_and_no_stay_kind() {
    let passport = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/committed/passport.jpg");
    // Valid to 2027-06-01: under six months past the date, which only a
    // foreign passport must run.
    let args = |kind| ["--kind", kind, "--today", "2027-01-15"];
    let national = &check_json(&[passport.as_path()], &args("national_passport"))[0];
    assert_eq!(national["verdict"], "accepted", "{national}");
    assert_eq!(national["document"]["kind"], "national_passport");
    let foreign = &check_json(&[passport.as_path()], &args("passport"))[0];
    assert!(codes(foreign).contains(&"passport_validity_under_6_months".to_string()));
    let patent = &check_json(&[passport.as_path()], &args("work_patent"))[0];
    assert!(
        codes(patent).contains(&"document_kind_mismatch".to_string()),
        "{patent}"
    );
    assert_eq!(patent["document"]["kind"], "passport");
}

#[test]
fn a_passport_visual_zone_is_held_against_its_mrz_in_every_layout() {
    let set = kind_set();
    let passports: Vec<&Value> = set
        .entries
        .iter()
        .filter(|e| e["mrz_format"] == "TD3")
        .collect();
    assert_eq!(passports.len(), 8, "four layouts, issued and altered");
    for entry in passports {
        let report = check(set, &set.path(&entry["file"]), "passport", None);
        let viz: Vec<String> = report["findings"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter(|f| f["code"] == "viz_mismatch")
                    .filter_map(|f| f["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let file = entry["file"].as_str().unwrap_or_default();
        if file.contains("altered") {
            // The surname and the birth date were printed as another's.
            assert_eq!(report["verdict"], "needs_review", "{file}: {report}");
            assert!(
                viz.contains(&"birth_date".to_string()) && viz.contains(&"surname".to_string()),
                "{file}: {report}"
            );
            assert_eq!(entry["expected_codes"], serde_json::json!(["viz_mismatch"]));
        } else {
            assert_eq!(report["verdict"], "accepted", "{file}: {report}");
            assert!(viz.is_empty(), "{file}: {report}");
        }
    }
}
