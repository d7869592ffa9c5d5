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
    } else {
        FileFormat::Unknown
    }
}

/// Accepts PDF, JPEG and PNG. Content that is none of the known formats
/// but comes under an accepted format's name (`scan.pdf` full of noise) is
/// a broken file, `file_corrupt`; anything else is `format_unsupported`.
/// The name only chooses the message, never lets a file through.
pub fn accept(format: FileFormat, file_name: Option<&str>) -> Result<FileFormat, Finding> {
    match format {
        FileFormat::Jpeg | FileFormat::Png | FileFormat::Pdf => Ok(format),
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
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = accept(sniff(&bytes), Some("x.pdf"));
        }
    }
}
