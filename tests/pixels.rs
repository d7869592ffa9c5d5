//! Pixel cost (issue 13, item 8): a scan far larger than the checks need is
//! checked on a shrunk copy and still judged at its own resolution, and one
//! account's burst of heavy files does not hold back another account's
//! verdict. Nothing here is timed: the bounds are on what is decoded and on
//! the order of the verdicts.

use crate::service::{config_in, ok, submit};
use crate::{check_json, codes};
use image::{imageops, GrayImage, ImageFormat, Luma};
use std::path::Path;

/// The committed 300-dpi passport scan enlarged `factor` times and laid on a
/// white A4 page at that resolution: a page scanned at `300 × factor` dpi.
fn passport_on_a4(factor: u32) -> GrayImage {
    let passport = image::open("samples/committed/passport.jpg")
        .expect("the committed passport")
        .into_luma8();
    let (w, h) = passport.dimensions();
    let big = imageops::resize(
        &passport,
        w * factor,
        h * factor,
        imageops::FilterType::Triangle,
    );
    let dpi = 300 * factor;
    // A4: 210 x 297 mm.
    let (page_w, page_h) = (210 * dpi * 10 / 254, 297 * dpi * 10 / 254);
    let mut page = GrayImage::from_pixel(page_w, page_h, Luma([255]));
    imageops::replace(&mut page, &big, i64::from(dpi / 2), i64::from(dpi));
    page
}

fn write_png(image: &GrayImage, path: &Path) {
    image
        .save_with_format(path, ImageFormat::Png)
        .expect("PNG written");
}

fn effective_dpi(report: &serde_json::Value) -> f64 {
    report["checks"]["dpi"]["effective"].as_f64().unwrap_or(0.0)
}

#[test]
fn a_page_scanned_at_900_dpi_is_read_shrunk_and_judged_at_900_dpi() {
    let dir = tempfile::tempdir().unwrap();
    let page = passport_on_a4(3);
    // About 78 MP: within max_pixels, far above work_pixels.
    let pixels = u64::from(page.width()) * u64::from(page.height());
    assert!((70_000_000..=80_000_000).contains(&pixels), "{pixels}");
    let path = dir.path().join("passport_900dpi.png");
    write_png(&page, &path);
    drop(page);
    // The default working size (25 MP: about 500 dpi here), and a much
    // smaller one (6 MP: about 250 dpi, below the floor as shrunk).
    let small = dir.path().join("small.toml");
    std::fs::write(&small, "[limits]\nwork_pixels = 6000000\n").unwrap();
    for config in [None, Some(small.to_str().unwrap())] {
        let mut args = vec!["--today", "2026-06-01", "--kind", "passport"];
        if let Some(config) = config {
            args.extend(["--config", config]);
        }
        let report = &check_json(&[&path], &args)[0];
        let found = codes(report);
        assert!(
            !found.contains(&"resolution_too_low".to_string()),
            "{config:?}: {found:?}"
        );
        assert_eq!(report["verdict"], "accepted", "{config:?}: {report}");
        assert_eq!(report["checks"]["dpi"]["source"], "mrz_pitch");
        let dpi = effective_dpi(report);
        assert!((860.0..=940.0).contains(&dpi), "{config:?}: {dpi}");
        assert_eq!(
            report["document"]["fields"]["document_number"], "OL4676496",
            "{config:?}"
        );
    }
}

#[test]
fn a_79_mp_blank_png_gets_its_verdict_and_a_job_budget_gets_image_too_large() {
    let dir = tempfile::tempdir().unwrap();
    // 10240 x 7720, white but for a bar: a few hundred KB of PNG.
    let blank = GrayImage::from_fn(10_240, 7_720, |x, y| {
        Luma([if (100..300).contains(&y) && x < 800 {
            0
        } else {
            255
        }])
    });
    let path = dir.path().join("blank.png");
    write_png(&blank, &path);
    drop(blank);
    assert!(std::fs::metadata(&path).unwrap().len() < 2_000_000);
    let report = &check_json(&[&path], &["--today", "2026-06-01"])[0];
    assert_eq!(report["verdict"], "needs_correction", "{report}");
    assert!(!codes(report).is_empty(), "{report}");
    // A job budget below the file's pixels: refused before decoding, with
    // the finding that asks for 300-600 dpi.
    let budget = dir.path().join("budget.toml");
    std::fs::write(&budget, "[limits]\nmax_job_pixels = 40000000\n").unwrap();
    let report = &check_json(
        &[&path],
        &[
            "--today",
            "2026-06-01",
            "--config",
            budget.to_str().unwrap(),
        ],
    )[0];
    assert_eq!(codes(report), ["image_too_large"], "{report}");
    let message = report["findings"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("300–600 dpi"), "{message}");
}

/// Account A's heavy files are stored first, then B's one passport; the
/// pipeline (one decode and one read worker, so verdicts are committed in
/// the order jobs are decoded) serves the accounts in turn: B's verdict
/// comes before most of A's, not after all of them.
#[test]
fn one_accounts_burst_does_not_hold_back_another_accounts_verdict() {
    const HEAVY: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[workers]\ndecode_workers = 1\nread_workers = 1\n");
    std::fs::write(&config, text).unwrap();
    for i in 0..HEAVY {
        // 20 MP each, each a different file (so a different job).
        let heavy = GrayImage::from_fn(5_000, 4_000, |x, y| {
            Luma([if y < 40 && x < 40 * (i as u32 + 1) {
                0
            } else {
                255
            }])
        });
        let path = dir.path().join(format!("heavy{i}.png"));
        write_png(&heavy, &path);
        submit(&config, "burst-a", "passport", &[path.to_str().unwrap()]);
    }
    submit(
        &config,
        "light-b",
        "passport",
        &["samples/committed/passport.jpg"],
    );
    let run = ok(&["run", "--config", &config, "--today", "2026-06-01"]);
    assert!(run.starts_with(&format!("{} verdicts", HEAVY + 1)), "{run}");
    let queue: Vec<serde_json::Value> = ok(&["queue", "tail", "--config", &config])
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let accounts: Vec<&str> = queue
        .iter()
        .map(|e| e["account"].as_str().unwrap_or(""))
        .collect();
    let b_at = accounts
        .iter()
        .position(|a| *a == "light-b")
        .expect("B's verdict");
    // In turn: A's first (or first two, admitted before B's), then B's.
    assert!(b_at <= 2, "verdicts in order of accounts: {accounts:?}");
    assert_eq!(accounts.len(), HEAVY + 1);
}
