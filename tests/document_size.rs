//! Resolution without an MRZ (issue 11): the migration card's edges over its
//! physical size decide (`document_size`), whatever the metadata says.

use crate::{check_json, codes};
use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use image::GrayImage;
use std::path::Path;

/// The card as a JPEG with the given density metadata (none: aspect only).
fn card_jpeg(dir: &Path, name: &str, scale: f32, density: Option<u16>) -> std::path::PathBuf {
    let card = image::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/committed/migration_card.jpg"),
    )
    .expect("the committed card")
    .into_luma8();
    let (w, h) = card.dimensions();
    let scanned: GrayImage = if scale == 1.0 {
        card
    } else {
        image::imageops::resize(
            &card,
            (w as f32 * scale).round() as u32,
            (h as f32 * scale).round() as u32,
            image::imageops::FilterType::Triangle,
        )
    };
    let mut bytes = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut bytes, 92);
    if let Some(dpi) = density {
        encoder.set_pixel_density(PixelDensity::dpi(dpi));
    }
    encoder.encode_image(&scanned).expect("encoded");
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_migration_card_without_metadata_is_measured_by_its_edges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [
        card_jpeg(d, "stripped_300.jpg", 1.0, None),
        card_jpeg(d, "stripped_150.jpg", 0.5, None),
        // Metadata that contradicts the measured size loses, both ways.
        card_jpeg(d, "marked_72_scanned_300.jpg", 1.0, Some(72)),
        card_jpeg(d, "marked_300_scanned_150.jpg", 0.5, Some(300)),
    ];
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let reports = check_json(
        &paths,
        &["--kind", "migration_card", "--today", "2026-06-01"],
    );
    let truth = [300.0, 150.0, 300.0, 150.0];
    for (r, dpi) in reports.iter().zip(truth) {
        assert_eq!(r["checks"]["dpi"]["source"], "document_size", "{r}");
        let effective = r["checks"]["dpi"]["effective"].as_f64().unwrap_or(0.0);
        assert!(
            (effective / dpi - 1.0).abs() < 0.02,
            "{effective} for {dpi}"
        );
        let low = codes(r).contains(&"resolution_too_low".to_string());
        assert_eq!(low, dpi < 300.0, "{r}");
        if dpi >= 300.0 {
            assert_eq!(r["verdict"], "accepted", "{r}");
        } else {
            assert_eq!(r["verdict"], "needs_correction");
        }
    }
    assert!(reports[0]["checks"]["dpi"]["metadata"].is_null());
    assert_eq!(reports[2]["checks"]["dpi"]["metadata"], 72.0);
}
