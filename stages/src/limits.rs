//! Limits stage: refuse what is too big before spending on it — the byte
//! count before anything is parsed, the pixel count from the image header
//! before anything is decoded or allocated.

use crate::messages::finding;
use image::{ImageFormat, ImageReader};
use intake_models::config::Limits;
use intake_models::{FileFormat, Finding, ReasonCode};
use std::io::Cursor;

/// `file_empty` for no bytes, `file_too_large` above `max_bytes`.
pub fn check_bytes(len: u64, limits: &Limits) -> Result<(), Finding> {
    if len == 0 {
        Err(finding(ReasonCode::FileEmpty, None))
    } else if len > limits.max_bytes {
        Err(finding(ReasonCode::FileTooLarge, None))
    } else {
        Ok(())
    }
}

/// `image_too_large` above `max_pixels` or `max_side`; a zero side is `file_corrupt`.
pub fn check_pixels(width: u32, height: u32, limits: &Limits) -> Result<(), Finding> {
    if width == 0 || height == 0 {
        return Err(finding(ReasonCode::FileCorrupt, None));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || width.max(height) > limits.max_side {
        return Err(finding(ReasonCode::ImageTooLarge, None));
    }
    Ok(())
}

/// Width and height from the header alone (PNG IHDR, JPEG SOFn);
/// `file_corrupt` when the header cannot be read.
pub fn image_dimensions(bytes: &[u8], format: FileFormat) -> Result<(u32, u32), Finding> {
    let format = match format {
        FileFormat::Jpeg => ImageFormat::Jpeg,
        FileFormat::Png => ImageFormat::Png,
        _ => return Err(finding(ReasonCode::FormatUnsupported, None)),
    };
    ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| finding(ReasonCode::FileCorrupt, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny PNG whose IHDR claims `w` x `h` (its data is a few bytes).
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([1, 0, 0, 0, 0]); // 1-bit grey
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [
            (b"IHDR", ihdr),
            (
                b"IDAT",
                vec![0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
            ),
            (b"IEND", Vec::new()),
        ] {
            png.extend((data.len() as u32).to_be_bytes());
            let chunk = [kind.as_slice(), &data].concat();
            png.extend(&chunk);
            png.extend(crc32(&chunk).to_be_bytes());
        }
        png
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn bytes() {
        let limits = Limits::default();
        assert_eq!(
            check_bytes(0, &limits).unwrap_err().code,
            ReasonCode::FileEmpty
        );
        assert!(check_bytes(5 * 1024 * 1024, &limits).is_ok());
        assert_eq!(
            check_bytes(5 * 1024 * 1024 + 1, &limits).unwrap_err().code,
            ReasonCode::FileTooLarge
        );
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let bomb = png_header(40_000, 40_000);
        let (w, h) = image_dimensions(&bomb, FileFormat::Png).unwrap();
        assert_eq!((w, h), (40_000, 40_000));
        let refused = check_pixels(w, h, &Limits::default()).unwrap_err();
        assert_eq!(refused.code, ReasonCode::ImageTooLarge);
        assert!(check_pixels(2480, 3508, &Limits::default()).is_ok());
    }

    #[test]
    fn unreadable_headers_are_corrupt() {
        let code = |b: &[u8], f| image_dimensions(b, f).unwrap_err().code;
        assert_eq!(
            code(b"\x89PNG\r\n\x1a\n\0\0", FileFormat::Png),
            ReasonCode::FileCorrupt
        );
        assert_eq!(
            code(b"\xFF\xD8\xFF\xE0", FileFormat::Jpeg),
            ReasonCode::FileCorrupt
        );
    }
}
