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

/// A BMP header: `format_unsupported` at once, no OCR.
fn bmp_bytes() -> Vec<u8> {
    let mut header = b"BM".to_vec();
    header.extend([0u8; 60]);
    header
}

/// An unreadable path gets its own line, in its place; the files after it
/// still get their verdicts, and the exit code says that not all were checked.
#[test]
fn a_missing_file_gets_an_error_line_and_the_files_after_it_their_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.png");
    fs::write(&empty, b"").unwrap();
    let bmp = dir.path().join("scan.bmp");
    fs::write(&bmp, bmp_bytes()).unwrap();
    let missing = dir.path().join("missing.jpg");
    let files = [&empty, &missing, dir.path(), &bmp].map(|p| p.to_str().unwrap().to_string());
    let args = |extra: &[&str]| {
        let mut args = vec!["check"];
        args.extend(files.iter().map(String::as_str));
        args.extend(extra);
        intake(&args.iter().map(|s| &**s).collect::<Vec<_>>())
    };

    let out = args(&["--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (line, file) in lines.iter().zip(&files) {
        assert_eq!(line["file"], file.as_str());
    }
    assert_eq!(codes(&lines[0]), ["file_empty"]);
    assert_eq!(lines[1]["error"]["code"], "file_not_found", "{}", lines[1]);
    let message = lines[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains("No such file"), "{message}");
    assert!(lines[1].get("verdict").is_none());
    assert_eq!(lines[2]["error"]["code"], "not_a_file", "{}", lines[2]);
    assert_eq!(codes(&lines[3]), ["format_unsupported"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 of 4 files could not be checked"),
        "{stderr}"
    );

    // For people: one line naming the file and the cause, once.
    let out = args(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = format!("{}: not checked (file_not_found): ", files[1]);
    assert!(stdout.contains(&line), "{stdout}");
    assert_eq!(stdout.matches("No such file").count(), 1, "{stdout}");
    assert!(stdout.contains(&format!("{}: needs_correction", files[3])));
}

/// Each result is printed as soon as the files before it are done: the
/// first file's line arrives while a later file is still being read (a FIFO
/// that the test writes only after it has the line). The wait for the line
/// is a guard against a hang, not a measure of time.
#[test]
fn results_are_printed_as_soon_as_the_files_before_them_are_done() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.png");
    fs::write(&empty, b"").unwrap();
    let fifo = dir.path().join("slow.bmp");
    let fifo_name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo_name.as_ptr(), 0o600) }, 0);

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(["check", "--json"])
        .arg(&empty)
        .arg(&fifo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (sender, first) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let _ = sender.send(lines.next());
        lines.collect::<Vec<_>>()
    });
    let first = first.recv_timeout(std::time::Duration::from_secs(120));
    // Unblock the child whatever happened, so that the test never hangs.
    fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .and_then(|mut f| f.write_all(&bmp_bytes()))
        .unwrap();
    let first = first
        .expect("the first file's line arrives while the second is still being read")
        .expect("a line")
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(codes(&first), ["file_empty"]);
    let rest = reader.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(rest.len(), 1);
    let second: serde_json::Value = serde_json::from_str(rest[0].as_ref().unwrap()).unwrap();
    assert_eq!(codes(&second), ["format_unsupported"]);
}

/// Human-readable output names findings by their codes, as JSON does, and
/// gives the Russian message with `--lang ru`.
#[test]
fn human_output_shows_reason_codes_and_russian_with_lang_ru() {
    let dir = tempfile::tempdir().unwrap();
    let bmp = dir.path().join("scan.bmp");
    fs::write(&bmp, bmp_bytes()).unwrap();
    let report = &check_json(&[&bmp], &[])[0];
    let finding = &report["findings"][0];
    let (en, ru) = (
        finding["message"].as_str().unwrap(),
        finding["message_ru"].as_str().unwrap(),
    );
    let file = bmp.to_str().unwrap();

    let english = intake(&["check", file]);
    assert!(english.status.success());
    let english = String::from_utf8_lossy(&english.stdout);
    assert!(
        english.contains(&format!("  format_unsupported: {en}\n")),
        "{english}"
    );
    assert!(!english.contains("FormatUnsupported"), "{english}");

    let russian = intake(&["check", file, "--lang", "ru"]);
    assert!(russian.status.success());
    let russian = String::from_utf8_lossy(&russian.stdout);
    assert!(
        russian.contains(&format!("  format_unsupported: {ru}\n")),
        "{russian}"
    );
}

/// An error's cause is printed once (thiserror messages that quote their
/// cause do not also return it as the source that `{:#}` prints again).
#[test]
fn an_errors_cause_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let out = intake(&[
        "check",
        "samples/committed/passport.jpg",
        "--config",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read config"), "{stderr}");
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");

    // The store's key file, under the store's own error.
    let config = dir.path().join("pipeline.toml");
    fs::write(
        &config,
        format!(
            "[store]\npath = {:?}\nkey_file = {:?}\n",
            dir.path().join("db").to_str().unwrap(),
            dir.path().join("missing.key").to_str().unwrap()
        ),
    )
    .unwrap();
    let out = intake(&["status", "acc-1", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("intake keygen"), "{stderr}");
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
}
