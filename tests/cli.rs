//! The `intake check` contract of SPEC.md: exit codes, JSON shape, JSON Lines order.

use crate::{check_json, codes, intake};
use std::fs;

#[test]
fn usage_errors_exit_non_zero_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.jpg");
    fs::write(&scan, b"").unwrap();
    let garbage = dir.path().join("profile.json");
    fs::write(&garbage, b"{\"surname\": 12, ").unwrap();
    let scan = scan.to_str().unwrap();

    let bad_profile = intake(&["check", scan, "--profile", garbage.to_str().unwrap()]);
    assert!(!bad_profile.status.success());
    assert!(String::from_utf8_lossy(&bad_profile.stderr).contains("profile"));

    let bad_today = intake(&["check", scan, "--today", "31.12.2026"]);
    assert!(!bad_today.status.success());
    assert!(String::from_utf8_lossy(&bad_today.stderr).contains("--today"));

    let bad_kind = intake(&["check", scan, "--kind", "driving_licence"]);
    assert!(!bad_kind.status.success());
}

#[test]
fn several_files_give_json_lines_in_the_order_given() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.png");
    fs::write(&empty, b"").unwrap();
    let noise = dir.path().join("noise.pdf");
    fs::write(
        &noise,
        (0..4096u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let bmp = dir.path().join("scan.bmp");
    let mut header = b"BM".to_vec();
    header.extend([0u8; 60]);
    fs::write(&bmp, header).unwrap();

    let reports = check_json(&[&noise, &empty, &bmp, &empty], &[]);
    assert_eq!(reports.len(), 4);
    let files: Vec<&str> = reports
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert!(files[0].ends_with("noise.pdf") && files[1].ends_with("empty.png"));
    assert!(files[2].ends_with("scan.bmp") && files[3].ends_with("empty.png"));
    assert_eq!(codes(&reports[0]), ["file_corrupt"]);
    assert_eq!(codes(&reports[1]), ["file_empty"]);
    assert_eq!(codes(&reports[2]), ["format_unsupported"]);
    for r in &reports {
        assert_eq!(r["verdict"], "needs_correction");
        let finding = &r["findings"][0];
        assert!(!finding["message"].as_str().unwrap().is_empty());
        assert!(!finding["message_ru"].as_str().unwrap().is_empty());
        assert!(finding.get("field").is_some());
        assert_eq!(r["sha256"].as_str().unwrap().len(), 64);
        for key in ["checks", "document", "match", "timings_ms"] {
            assert!(r.get(key).is_some(), "missing {key} in {r}");
        }
    }
}

#[test]
fn a_page_too_blurred_to_read_is_asked_again_without_ocr() {
    // The committed migration card (no MRZ) blurred past reading.
    let card = image::open("samples/committed/migration_card.jpg")
        .unwrap()
        .to_luma8();
    let blurred = imageproc::filter::gaussian_blur_f32(&card, 12.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blurred.png");
    blurred.save(&path).unwrap();
    let reports = check_json(&[&path], &["--today", "2026-06-01"]);
    assert_eq!(codes(&reports[0]), ["image_unreadable"], "{}", reports[0]);
    // Nothing to read: no seconds of visual-zone OCR spent finding nothing.
    assert!(
        reports[0]["timings_ms"].get("ocr").is_none(),
        "{}",
        reports[0]
    );
}

/// The form's fields are a profile's, not a usage error: names in both
/// scripts, patronymic, place of birth, issue date, SNILS and INN; a bad
/// check number is `needs_correction` on its field. An unknown key still is
/// a usage error.
#[test]
fn a_profile_with_the_forms_fields_is_checked_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("form.json");
    fs::write(
        &profile,
        r#"{"surname": "KHODZHAEV", "given_names": "ZHAKHONGIR",
            "surname_cyrillic": "Ходжаев", "given_names_cyrillic": "Жахонгир",
            "patronymic": "BAKHTIYOROVICH", "patronymic_cyrillic": "Бахтиёрович",
            "place_of_birth": "Ташкент", "issue_date": "17.06.2017",
            "birth_date": "07.08.2001", "snils": "112-233-445 95", "inn": "7707083894"}"#,
    )
    .unwrap();
    let passport = std::path::Path::new("samples/committed/passport.jpg");
    let profile_arg = profile.to_str().unwrap();
    let report = &check_json(
        &[passport],
        &["--profile", profile_arg, "--today", "2026-06-01"],
    )[0];
    assert_eq!(report["verdict"], "needs_correction", "{report}");
    let found = codes(report);
    assert!(found.contains(&"inn_invalid".to_string()), "{found:?}");
    assert!(!found.contains(&"snils_invalid".to_string()), "{found:?}");
    assert!(!found.contains(&"field_mismatch".to_string()), "{found:?}");
    let inn = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "inn_invalid")
        .unwrap();
    assert_eq!(inn["field"], "inn");
    assert!(inn["message_ru"].as_str().unwrap().contains("ИНН"));
    let fields: Vec<&str> = report["match"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"surname_cyrillic") && fields.contains(&"given_names_cyrillic"));

    let unknown = dir.path().join("unknown.json");
    fs::write(&unknown, r#"{"shoe_size": "42"}"#).unwrap();
    let out = intake(&[
        "check",
        "samples/committed/passport.jpg",
        "--profile",
        unknown.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("surname_cyrillic"));
}
