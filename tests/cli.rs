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
