//! Arbitrary upload bytes through what the decode worker runs on them:
//! limits (bytes), sniff, limits (pixels from the header), decode (JPEG,
//! PNG, or PDF with the in-process extractor), metadata dpi.
#![no_main]

use intake_models::config::Limits;
use intake_models::FileFormat;
use intake_stages::decode::{decode, InProcessPdf};
use intake_stages::{limits, resolution, sniff};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if limits::check_bytes(data.len() as u64, &limits).is_err() {
        return;
    }
    let format = sniff::sniff(data);
    let _ = sniff::accept(format, Some("scan.pdf"));
    let Ok(format) = sniff::accept(format, None) else {
        return;
    };
    if matches!(format, FileFormat::Jpeg | FileFormat::Png) {
        if let Ok((w, h)) = limits::image_dimensions(data, format) {
            let _ = limits::check_pixels(w, h, &limits);
        }
    }
    if let Ok(decoded) = decode(data, format, &InProcessPdf, &limits) {
        let (w, h) = decoded.image.dimensions();
        assert!(u64::from(w) * u64::from(h) <= limits.max_pixels);
        assert!(w.max(h) <= limits.max_side);
    }
    let _ = resolution::metadata_dpi(data, format);
});
