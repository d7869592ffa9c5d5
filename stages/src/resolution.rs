//! Resolution stage: is the scan 300 dpi?
//!
//! Density metadata (JFIF, EXIF, PNG pHYs) is often missing or wrong (72 dpi
//! written by software that never knew), so the decision rests on a
//! resolution measured from the document itself wherever one exists: the MRZ
//! character pitch (2.54 mm, ICAO 9303 Part 3 §4.4) or, for a PDF, the
//! image's pixel width over its placed width, or the document's own edges
//! over the physical size its kind has ([`document_size`]). The report says
//! which decided.

pub mod document_size;

use crate::messages::finding;
use intake_models::config::Resolution;
use intake_models::{DpiCheck, DpiSource, FileFormat, Finding, ReasonCode};

/// Plausible densities; anything else is a broken field, not a resolution.
const PLAUSIBLE: std::ops::RangeInclusive<f32> = 10.0..=10_000.0;

/// The density the file declares, in dots per inch.
pub fn metadata_dpi(bytes: &[u8], format: FileFormat) -> Option<f32> {
    let dpi = match format {
        FileFormat::Jpeg => jfif_dpi(bytes).or_else(|| exif_dpi(bytes)),
        FileFormat::Png => png_dpi(bytes),
        _ => None,
    }?;
    PLAUSIBLE.contains(&dpi).then_some(dpi)
}

/// JPEG segments before the image data: (marker, payload).
fn jpeg_segments(bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut at = 2;
    std::iter::from_fn(move || {
        let marker = *bytes.get(at + 1)?;
        if *bytes.get(at)? != 0xFF || marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]) as usize;
        let payload = bytes.get(at + 4..at + 2 + len)?;
        at += 2 + len;
        Some((marker, payload))
    })
}

/// APP0 `JFIF\0`: version (2), units (1), x density (2), y density (2).
fn jfif_dpi(bytes: &[u8]) -> Option<f32> {
    let (_, p) = jpeg_segments(bytes).find(|(m, p)| *m == 0xE0 && p.starts_with(b"JFIF\0"))?;
    let density = u16::from_be_bytes([*p.get(8)?, *p.get(9)?]) as f32;
    match p.get(7)? {
        1 => Some(density),
        2 => Some(density * 2.54),
        _ => None, // aspect ratio only
    }
}

/// APP1 `Exif\0\0`: XResolution (0x011A) and ResolutionUnit (0x0128) in IFD0.
fn exif_dpi(bytes: &[u8]) -> Option<f32> {
    let (_, p) = jpeg_segments(bytes).find(|(m, p)| *m == 0xE1 && p.starts_with(b"Exif\0\0"))?;
    let tiff = p.get(6..)?;
    let little = match tiff.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |o: usize| {
        let b = [*tiff.get(o)?, *tiff.get(o + 1)?];
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |o: usize| {
        let b = [
            *tiff.get(o)?,
            *tiff.get(o + 1)?,
            *tiff.get(o + 2)?,
            *tiff.get(o + 3)?,
        ];
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let entries = u16_at(ifd)? as usize;
    let (mut resolution, mut unit) = (None, 2u16);
    for i in 0..entries.min(256) {
        let e = ifd + 2 + i * 12;
        match u16_at(e)? {
            0x011A => {
                let offset = u32_at(e + 8)? as usize;
                let (num, den) = (u32_at(offset)?, u32_at(offset + 4)?);
                resolution = (den != 0).then(|| num as f32 / den as f32);
            }
            0x0128 => unit = u16_at(e + 8)?,
            _ => {}
        }
    }
    match unit {
        2 => resolution,
        3 => resolution.map(|r| r * 2.54),
        _ => None,
    }
}

/// `pHYs`: x and y pixels per unit (4 + 4 bytes), unit 1 = metre.
fn png_dpi(bytes: &[u8]) -> Option<f32> {
    let mut at = 8;
    while let Some(len) = bytes.get(at..at + 4) {
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let kind = bytes.get(at + 4..at + 8)?;
        if kind == b"IDAT" || kind == b"IEND" {
            return None;
        }
        if kind == b"pHYs" {
            let d = bytes.get(at + 8..at + 17)?;
            let per_unit = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as f32;
            // Whole pixels per metre: 300 dpi is written 11811 (299.9994 dpi),
            // which must not read as under 300. Rounded to 1/100 dpi.
            return (d[8] == 1).then_some((per_unit * 2.54).round() / 100.0);
        }
        at = at.checked_add(12 + len)?;
    }
    None
}

/// Decides on the measured resolution where there is one, else on the
/// metadata. A measured value may read a few percent low
/// (`effective_tolerance`); metadata gets no such allowance.
pub fn decide(
    metadata: Option<f32>,
    measured: Option<(f32, DpiSource)>,
    cfg: &Resolution,
) -> (DpiCheck, Option<Finding>) {
    let (dpi, source, floor) = match (measured, metadata) {
        (Some((dpi, source)), _) => (dpi, source, cfg.min_dpi * (1.0 - cfg.effective_tolerance)),
        (None, Some(dpi)) => (dpi, DpiSource::Metadata, cfg.min_dpi),
        (None, None) => {
            let unknown = DpiCheck {
                metadata: None,
                effective: None,
                source: DpiSource::None,
            };
            return (unknown, None);
        }
    };
    let check = DpiCheck {
        metadata,
        effective: measured.map(|(d, _)| (d * 10.0).round() / 10.0),
        source,
    };
    let low = (dpi < floor).then(|| finding(ReasonCode::ResolutionTooLow, None));
    (check, low)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jfif(units: u8, density: u16) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        b.extend(b"JFIF\0\x01\x02");
        b.push(units);
        b.extend(density.to_be_bytes());
        b.extend(density.to_be_bytes());
        b.extend([0, 0, 0xFF, 0xDA]);
        b
    }

    #[test]
    fn jfif_density() {
        assert_eq!(metadata_dpi(&jfif(1, 300), FileFormat::Jpeg), Some(300.0));
        let dpcm = metadata_dpi(&jfif(2, 118), FileFormat::Jpeg).unwrap();
        assert!((dpcm - 299.7).abs() < 0.1);
        assert_eq!(metadata_dpi(&jfif(0, 1), FileFormat::Jpeg), None);
    }

    #[test]
    fn exif_resolution() {
        // Big-endian TIFF, IFD0 with XResolution = 600/1 and unit inches.
        let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend(2u16.to_be_bytes());
        tiff.extend([0x01, 0x1A, 0, 5, 0, 0, 0, 1]);
        tiff.extend(38u32.to_be_bytes());
        tiff.extend([0x01, 0x28, 0, 3, 0, 0, 0, 1, 0, 2, 0, 0]);
        tiff.extend([0, 0, 0, 0]);
        tiff.extend(600u32.to_be_bytes());
        tiff.extend(1u32.to_be_bytes());
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(&tiff);
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
        jpeg.extend(((app1.len() + 2) as u16).to_be_bytes());
        jpeg.extend(&app1);
        jpeg.extend([0xFF, 0xDA]);
        assert_eq!(metadata_dpi(&jpeg, FileFormat::Jpeg), Some(600.0));
    }

    #[test]
    fn png_phys() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(13u32.to_be_bytes());
        png.extend(b"IHDR");
        png.extend([0; 17]);
        png.extend(9u32.to_be_bytes());
        png.extend(b"pHYs");
        png.extend(11811u32.to_be_bytes());
        png.extend(11811u32.to_be_bytes());
        png.push(1);
        png.extend([0; 4]);
        let dpi = metadata_dpi(&png, FileFormat::Png).unwrap();
        assert_eq!(dpi, 300.0);
        // A 300-dpi PNG meets a 300-dpi floor.
        assert!(decide(Some(dpi), None, &Resolution::default()).1.is_none());
        assert_eq!(metadata_dpi(&png[..40], FileFormat::Png), None);
    }

    #[test]
    fn measured_resolution_decides_over_metadata() {
        let cfg = Resolution::default();
        // 72 dpi written by software, 301 measured: accepted, measured decides.
        let (check, low) = decide(Some(72.0), Some((301.0, DpiSource::MrzPitch)), &cfg);
        assert!(low.is_none());
        assert_eq!(check.source, DpiSource::MrzPitch);
        // 300 declared on a 150-dpi scan.
        let (_, low) = decide(Some(300.0), Some((150.4, DpiSource::MrzPitch)), &cfg);
        assert_eq!(low.unwrap().code, ReasonCode::ResolutionTooLow);
        // A measurement a little low is within tolerance; metadata is not.
        assert!(decide(None, Some((292.0, DpiSource::PdfPlacement)), &cfg)
            .1
            .is_none());
        assert!(decide(Some(292.0), None, &cfg).1.is_some());
        let (unknown, none) = decide(None, None, &cfg);
        assert_eq!(unknown.source, DpiSource::None);
        assert!(none.is_none());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut jpeg = vec![0xFF, 0xD8];
            jpeg.extend(&bytes);
            let _ = metadata_dpi(&jpeg, FileFormat::Jpeg);
            let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
            png.extend(&bytes);
            let _ = metadata_dpi(&png, FileFormat::Png);
        }
    }
}
