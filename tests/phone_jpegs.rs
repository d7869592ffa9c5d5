//! What phones and photo apps upload (issue 11): an EXIF orientation, a
//! progressive or CMYK JPEG, a JPEG cut short, a HEIC photo.

use crate::{check_json, codes};
use image::{GrayImage, ImageFormat};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

fn committed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/committed")
        .join(name)
}

fn jpeg(image: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(image.clone())
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
        .expect("encoded");
    out
}

/// `jpeg` with an EXIF APP1 segment (big-endian TIFF, IFD0: Orientation) after SOI.
fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend(1u16.to_be_bytes());
    tiff.extend([0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    tiff.extend(orientation.to_be_bytes());
    tiff.extend([0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

fn passport() -> GrayImage {
    image::open(committed("passport.jpg"))
        .expect("the committed passport")
        .into_luma8()
}

#[test]
fn the_exif_orientation_is_applied_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    // Stored a quarter turn anticlockwise; orientation 6 says: turn clockwise to show.
    let stored = image::imageops::rotate270(&passport());
    let tagged = dir.path().join("tagged.jpg");
    std::fs::write(&tagged, with_orientation(&jpeg(&stored), 6)).unwrap();
    let plain = dir.path().join("plain.jpg");
    std::fs::write(&plain, jpeg(&stored)).unwrap();
    let reports = check_json(
        &[&tagged, &plain],
        &["--kind", "passport", "--today", "2026-06-01"],
    );
    // Shown upright: read as it is, nothing turned by the reader.
    assert_eq!(reports[0]["verdict"], "accepted", "{}", reports[0]);
    assert_eq!(reports[0]["checks"]["quality"]["rotation"], 0);
    assert!(!codes(&reports[0]).contains(&"auto_rotated".to_string()));
    // Without the tag the reader has to turn it.
    assert_eq!(reports[1]["checks"]["quality"]["rotation"], 90);
}

#[test]
fn progressive_and_cmyk_jpegs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let source = committed("passport.jpg");
    let mut files = Vec::new();
    for (name, args) in [
        ("progressive.jpg", &["-interlace", "JPEG"][..]),
        ("cmyk.jpg", &["-colorspace", "CMYK"][..]),
    ] {
        let out = dir.path().join(name);
        let made = Command::new("/usr/bin/convert")
            .arg(&source)
            .args(args)
            .arg(&out)
            .status()
            .expect("ImageMagick (make deps)");
        assert!(made.success());
        files.push(out);
    }
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let reports = check_json(&paths, &["--kind", "passport", "--today", "2026-06-01"]);
    let jpeg = check_json(&[&source], &["--kind", "passport", "--today", "2026-06-01"]);
    for r in &reports {
        assert_eq!(r["verdict"], "accepted", "{r}");
        assert_eq!(r["document"]["fields"], jpeg[0]["document"]["fields"]);
    }
}

#[test]
fn a_truncated_jpeg_is_checked_on_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    // The passport on top of a page whose lower part is fine paper texture
    // (it takes most of the file's bytes, so a cut lands there).
    let scan = passport();
    let (w, h) = scan.dimensions();
    let mut page = GrayImage::from_fn(w, h + 700, |x, y| {
        let n =
            (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).wrapping_mul(2_246_822_519);
        image::Luma([220 + (n >> 27) as u8])
    });
    image::imageops::overlay(&mut page, &scan, 0, 0);
    let bytes = jpeg(&page);
    let cut_below = dir.path().join("cut_below.jpg");
    std::fs::write(&cut_below, &bytes[..bytes.len() * 9 / 10]).unwrap();
    let cut_through = dir.path().join("cut_through.jpg");
    std::fs::write(&cut_through, &bytes[..bytes.len() / 8]).unwrap();
    let reports = check_json(
        &[&cut_below, &cut_through],
        &["--kind", "passport", "--today", "2026-06-01"],
    );
    // The document is whole: accepted, and the cut is reported.
    assert_eq!(reports[0]["verdict"], "accepted", "{}", reports[0]);
    assert!(codes(&reports[0]).contains(&"file_truncated".to_string()));
    // The cut goes through the document: its zone is missing, not `file_corrupt`.
    let cut = codes(&reports[1]);
    assert!(cut.contains(&"file_truncated".to_string()), "{cut:?}");
    assert!(!cut.contains(&"file_corrupt".to_string()), "{cut:?}");
    assert_eq!(reports[1]["verdict"], "needs_correction");
}

#[test]
fn a_heic_photo_is_refused_with_how_to_export_a_jpeg() {
    let dir = tempfile::tempdir().unwrap();
    // An iPhone's HEIC: ftyp heic, compatible mif1 and heic, then its meta box.
    let mut heic = Vec::new();
    heic.extend(24u32.to_be_bytes());
    heic.extend(b"ftypheic\0\0\0\0mif1heic");
    heic.extend(40u32.to_be_bytes());
    heic.extend(b"meta\0\0\0\0");
    heic.extend([0u8; 4096]);
    let path = dir.path().join("IMG_2041.jpg");
    std::fs::write(&path, &heic).unwrap();
    let reports = check_json(&[&path], &["--today", "2026-06-01"]);
    assert_eq!(reports[0]["verdict"], "needs_correction");
    assert_eq!(reports[0]["checks"]["format"], "heic");
    assert_eq!(codes(&reports[0]), ["format_unsupported"]);
    let message = reports[0]["findings"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("HEIC") && message.contains("JPEG"),
        "{message}"
    );
    let message_ru = reports[0]["findings"][0]["message_ru"]
        .as_str()
        .unwrap_or("");
    assert!(message_ru.contains("HEIC") && message_ru.contains("JPEG"));
}
