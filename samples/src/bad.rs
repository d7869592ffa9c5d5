//! Files every upload handler sees sooner or later: other formats, empty and
//! truncated files, lies about the format, oversized files and bombs. Each
//! comes with the reason code intake must give it.

use crate::encode::{self, png_chunk};
use flate2::write::ZlibEncoder;
use flate2::Compression;
use image::GrayImage;
use lopdf::dictionary;
use rand::rngs::StdRng;
use rand::RngCore;
use std::io::Write;

/// A bad file: its name, bytes and the code it must get.
pub struct BadFile {
    pub name: &'static str,
    pub format: &'static str,
    pub bytes: Vec<u8>,
    pub expected_code: &'static str,
}

/// Over the default 5 MiB limit (5,242,880 bytes).
const OVERSIZE: usize = 5 * 1024 * 1024 + 64 * 1024;

/// The bad files, built around `scan` (a good scan of a document).
pub fn all(scan: &GrayImage, rng: &mut StdRng) -> Result<Vec<BadFile>, encode::EncodeError> {
    let jpeg = encode::jpeg(scan, 85, Some(300))?;
    let png = encode::png(scan, Some(300.0))?;
    let mut random = vec![0u8; 64 * 1024];
    rng.fill_bytes(&mut random);
    let mut oversized = jpeg.clone();
    oversized.resize(OVERSIZE, 0);
    let bad = |name, format, bytes, expected_code| BadFile {
        name,
        format,
        bytes,
        expected_code,
    };
    Ok(vec![
        bad("bad_bitmap.bmp", "bmp", bmp(64, 32), "format_unsupported"),
        bad("bad_scan.tiff", "tiff", tiff(), "format_unsupported"),
        bad("bad_animation.gif", "gif", gif(), "format_unsupported"),
        bad("bad_photo.webp", "webp", webp(), "format_unsupported"),
        bad("bad_empty.jpg", "empty", Vec::new(), "file_empty"),
        // Read as far as it goes (issue 11): the cut is reported, and the
        // document's missing half is what makes it need correcting.
        bad(
            "bad_truncated.jpg",
            "jpeg",
            jpeg[..jpeg.len() / 2].to_vec(),
            "file_truncated",
        ),
        bad(
            "bad_truncated.png",
            "png",
            png[..png.len() / 2].to_vec(),
            "file_corrupt",
        ),
        bad("bad_random.pdf", "unknown", random, "file_corrupt"),
        bad("bad_text_only.pdf", "pdf", text_only_pdf()?, "pdf_no_image"),
        bad("bad_oversized.jpg", "jpeg", oversized, "file_too_large"),
        bad(
            "bad_bomb.png",
            "png",
            png_bomb(40_000, 40_000)?,
            "image_too_large",
        ),
    ])
}

/// A real 24-bit BMP of `w` x `h` grey pixels.
fn bmp(w: u32, h: u32) -> Vec<u8> {
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut out = Vec::with_capacity(size as usize);
    out.extend(b"BM");
    out.extend(size.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend(54u32.to_le_bytes());
    out.extend(40u32.to_le_bytes());
    out.extend((w as i32).to_le_bytes());
    out.extend((h as i32).to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(24u16.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((row * h).to_le_bytes());
    out.extend(11_811u32.to_le_bytes()); // 300 dpi in pixels per metre
    out.extend(11_811u32.to_le_bytes());
    out.extend([0u8; 8]);
    out.resize(size as usize, 200);
    out
}

/// A minimal little-endian TIFF header with one empty directory.
fn tiff() -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out
}

/// A 1 x 1 GIF.
fn gif() -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend([1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
    out.extend([0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b]);
    out
}

/// A RIFF/WEBP container header with a lossless chunk.
fn webp() -> Vec<u8> {
    let chunk = [
        0x2f, 0, 0, 0, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0,
    ];
    let mut out = b"RIFF".to_vec();
    out.extend(((4 + 8 + chunk.len()) as u32).to_le_bytes());
    out.extend(b"WEBPVP8L");
    out.extend((chunk.len() as u32).to_le_bytes());
    out.extend(chunk);
    out
}

/// A PDF page with text and no image: a form printed to PDF instead of a scan.
fn text_only_pdf() -> std::io::Result<Vec<u8>> {
    let content = "BT /F1 14 Tf 72 720 Td (Passport: see attached) Tj ET".to_string();
    encode::one_page_pdf((595.0, 842.0), content, |doc| {
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        dictionary! { "Font" => dictionary! { "F1" => font_id } }
    })
}

/// A complete, valid 1-bit PNG of `w` x `h` white pixels: a few hundred
/// kilobytes on disk, gigabytes once decoded to 8-bit grey.
fn png_bomb(w: u32, h: u32) -> std::io::Result<Vec<u8>> {
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([1, 0, 0, 0, 0]); // 1 bit, greyscale, deflate, no filter, no interlace
                                  // Each row: filter type 0, then the packed pixels.
    let mut row = vec![0xffu8; 1 + w.div_ceil(8) as usize];
    row[0] = 0;
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    for _ in 0..h {
        z.write_all(&row)?;
    }
    let idat = z.finish()?;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IDAT", &idat));
    out.extend(png_chunk(b"IEND", &[]));
    Ok(out)
}
