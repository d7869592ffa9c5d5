//! Sniff stage: the format by its magic bytes, never by the file name.

use crate::messages::finding;
use intake_models::{FileFormat, Finding, ReasonCode};

/// The format `bytes` start with.
pub fn sniff(bytes: &[u8]) -> FileFormat {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        FileFormat::Jpeg
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        FileFormat::Png
    } else if bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        // Readers accept a PDF header anywhere in the first kilobyte.
        FileFormat::Pdf
    } else if starts(b"BM") && bytes.len() >= 26 {
        FileFormat::Bmp
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        FileFormat::Tiff
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        FileFormat::Gif
    } else if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        FileFormat::Webp
    } else if is_heif(bytes) {
        FileFormat::Heic
    } else {
        FileFormat::Unknown
    }
}

/// An ISO BMFF `ftyp` box whose major or compatible brands are HEIF's
/// (`heic`, `heix`, `mif1`, …) or AVIF's.
fn is_heif(bytes: &[u8]) -> bool {
    const BRANDS: [&[u8]; 10] = [
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis",
    ];
    if bytes.get(4..8) != Some(b"ftyp") {
        return false;
    }
    let size = bytes
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let end = size.clamp(16, 256).min(bytes.len());
    // Major brand at 8, minor version at 12, compatible brands from 16.
    let major = bytes.get(8..12);
    let compatible = bytes.get(16..end).unwrap_or(&[]);
    major.is_some_and(|m| BRANDS.contains(&m))
        || compatible.chunks_exact(4).any(|b| BRANDS.contains(&b))
}

/// Accepts PDF, JPEG and PNG. Content that is none of the known formats
/// but comes under an accepted format's name (`scan.pdf` full of noise) is
/// a broken file, `file_corrupt`; anything else is `format_unsupported`.
/// The name only chooses the message, never lets a file through.
pub fn accept(format: FileFormat, file_name: Option<&str>) -> Result<FileFormat, Finding> {
    match format {
        FileFormat::Jpeg | FileFormat::Png | FileFormat::Pdf => Ok(format),
        FileFormat::Heic => Err(crate::messages::heic_unsupported()),
        FileFormat::Unknown if file_name.is_some_and(named_as_accepted) => {
            Err(finding(ReasonCode::FileCorrupt, None))
        }
        _ => Err(finding(ReasonCode::FormatUnsupported, None)),
    }
}

fn named_as_accepted(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".pdf", ".jpg", ".jpeg", ".png"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), FileFormat::Jpeg);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), FileFormat::Png);
        assert_eq!(sniff(b"%PDF-1.7\n"), FileFormat::Pdf);
        assert_eq!(sniff(b"\xEF\xBB\xBF%PDF-1.4"), FileFormat::Pdf);
        assert_eq!(
            sniff(&[b"BM".as_slice(), &[0; 60]].concat()),
            FileFormat::Bmp
        );
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), FileFormat::Tiff);
        assert_eq!(sniff(b"GIF89a\x01\0"), FileFormat::Gif);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), FileFormat::Webp);
        assert_eq!(sniff(b""), FileFormat::Unknown);
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            FileFormat::Heic
        );
        assert_eq!(
            sniff(b"\0\0\0\x1cftypmif1\0\0\0\0mif1heicmiaf"),
            FileFormat::Heic
        );
        // An MP4 video is not a HEIC photo.
        assert_eq!(
            sniff(b"\0\0\0\x18ftypisom\0\0\0\0isomavc1"),
            FileFormat::Unknown
        );
    }

    #[test]
    fn the_name_words_the_refusal_but_never_accepts() {
        let code = |f, n| accept(f, n).unwrap_err().code;
        assert_eq!(
            code(FileFormat::Unknown, Some("scan.PDF")),
            ReasonCode::FileCorrupt
        );
        assert_eq!(
            code(FileFormat::Unknown, Some("scan.docx")),
            ReasonCode::FormatUnsupported
        );
        assert_eq!(
            code(FileFormat::Bmp, Some("scan.jpg")),
            ReasonCode::FormatUnsupported
        );
        assert_eq!(
            accept(FileFormat::Png, Some("scan.jpg")),
            Ok(FileFormat::Png)
        );
        // A HEIC photo named .jpg: refused with how to export a JPEG.
        let heic = accept(FileFormat::Heic, Some("IMG_0001.jpg")).unwrap_err();
        assert_eq!(heic.code, ReasonCode::FormatUnsupported);
        assert!(heic.message.contains("JPEG") && heic.message_ru.contains("JPEG"));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = accept(sniff(&bytes), Some("x.pdf"));
        }
    }
}
