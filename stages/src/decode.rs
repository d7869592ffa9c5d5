//! Decode stage: the scan as a grey image.
//!
//! JPEG and PNG are decoded by the `image` crate after their header's pixel
//! count passed the limits; a JPEG is turned as its EXIF orientation says
//! before anything else looks at it, and a JPEG cut short is decoded as far
//! as it goes. A PDF's pages are taken out by [`crate::pdf::extract_pdf`]:
//! lopdf has aborted and overflowed its stack on hostile files, which no
//! `catch_unwind` stops, so the pipeline runs it behind a [`PdfExtractor`]
//! in a resource-limited child process; [`InProcessPdf`] runs it directly
//! (tests, fuzzing).
//!
//! A page far larger than the checks need (`limits.work_pixels`) is shrunk
//! right after decoding: every later pass over it costs in proportion to its
//! pixels. Its scale is kept, so that resolution is judged at the scan's
//! own size.

use crate::limits::{check_pixels, image_dimensions};
use crate::messages::finding;
pub use crate::pdf::{extract_pdf, PageContent, PdfPage, PdfPages};
use crate::raster;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader};
use intake_models::config::Limits;
use intake_models::{FileFormat, Finding, ReasonCode};
use std::io::Cursor;

/// A decoded scan: the page to check, and the file's other pages.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The page to check (for a PDF, the first page with an image until
    /// [`Decoded::select`] chooses another).
    pub image: GrayImage,
    /// Pages in the file (1 for JPEG and PNG).
    pub pages: u32,
    /// For a PDF: the image's pixels per inch as placed on its page, at
    /// the image's own size (not `image`'s when it was shrunk).
    pub placement_dpi: Option<f32>,
    /// The 1-based number of the page in `image`.
    pub page: u32,
    /// Every other page looked at, in page order.
    pub other_pages: Vec<PageScan>,
    /// A JPEG that ends before its image does: the share of rows it holds.
    pub truncated: Option<f32>,
    /// Pixels of the scan per pixel of `image` along a side: above 1 when
    /// the scan was shrunk to `limits.work_pixels`. A resolution measured on
    /// `image` times this is the scan's.
    pub scale: f32,
}

/// A page of a PDF besides the one being checked.
#[derive(Debug, Clone)]
pub struct PageScan {
    pub number: u32,
    /// Its image, upright as shown; `None` for a page without one.
    pub image: Option<GrayImage>,
    /// The pixels per inch of the page's image as placed, at its own size.
    pub placement_dpi: Option<f32>,
    pub content: PageContent,
    /// As [`Decoded::scale`], for `image`.
    pub scale: f32,
}

impl Decoded {
    /// Makes page `number` the one checked; the page checked so far joins
    /// the others. `false` when there is no such page with an image.
    pub fn select(&mut self, number: u32) -> bool {
        let Some(at) = self
            .other_pages
            .iter()
            .position(|p| p.number == number && p.image.is_some())
        else {
            return false;
        };
        let chosen = self.other_pages.remove(at);
        let Some(image) = chosen.image else {
            return false;
        };
        let previous = PageScan {
            number: self.page,
            image: Some(std::mem::replace(&mut self.image, image)),
            placement_dpi: std::mem::replace(&mut self.placement_dpi, chosen.placement_dpi),
            content: chosen.content,
            scale: std::mem::replace(&mut self.scale, chosen.scale),
        };
        self.page = number;
        let at = self
            .other_pages
            .iter()
            .position(|p| p.number > previous.number)
            .unwrap_or(self.other_pages.len());
        self.other_pages.insert(at, previous);
        true
    }
}

/// Gets the pages out of a PDF, somehow isolated from the caller.
pub trait PdfExtractor: Send + Sync {
    fn extract(&self, bytes: &[u8], limits: &Limits) -> Result<PdfPages, Finding>;
}

/// Runs [`extract_pdf`] in this process: only for trusted callers.
pub struct InProcessPdf;

impl PdfExtractor for InProcessPdf {
    fn extract(&self, bytes: &[u8], limits: &Limits) -> Result<PdfPages, Finding> {
        extract_pdf(bytes, limits)
    }
}

/// Decodes a JPEG, PNG or PDF upload to grey, every size checked first,
/// each page shrunk to `limits.work_pixels`.
pub fn decode(
    bytes: &[u8],
    format: FileFormat,
    pdf: &dyn PdfExtractor,
    limits: &Limits,
) -> Result<Decoded, Finding> {
    match format {
        FileFormat::Jpeg | FileFormat::Png => {
            let (image, truncated) = decode_raster(bytes, format, limits)?;
            let (image, scale) = raster::reduce(image, limits.work_pixels);
            Ok(Decoded {
                image,
                pages: 1,
                placement_dpi: None,
                page: 1,
                other_pages: Vec::new(),
                truncated,
                scale,
            })
        }
        FileFormat::Pdf => from_pages(pdf.extract(bytes, limits)?, limits.work_pixels),
        _ => Err(finding(ReasonCode::FormatUnsupported, None)),
    }
}

/// The first page with an image to check, the others beside it; each
/// image shrunk to `work_pixels`.
fn from_pages(extracted: PdfPages, work_pixels: u64) -> Result<Decoded, Finding> {
    if !extracted.consistent() {
        return Err(finding(ReasonCode::FileCorrupt, None));
    }
    let mut first: Option<(u32, GrayImage, Option<f32>, f32)> = None;
    let mut others = Vec::new();
    for (page, (number, image)) in extracted.pages.iter().zip(extracted.images()) {
        let image = image.map(|(image, dpi)| (raster::reduce(image, work_pixels), dpi));
        match image {
            Some(((image, scale), dpi)) if first.is_none() => {
                first = Some((number, image, dpi, scale))
            }
            image => {
                let (image, placement_dpi, scale) = match image {
                    Some(((i, s), d)) => (Some(i), d, s),
                    None => (None, None, 1.0),
                };
                others.push(PageScan {
                    number,
                    image,
                    placement_dpi,
                    content: page.content.clone(),
                    scale,
                });
            }
        }
    }
    let (page, image, placement_dpi, scale) =
        first.ok_or_else(|| finding(ReasonCode::PdfNoImage, None))?;
    Ok(Decoded {
        image,
        pages: extracted.page_count,
        placement_dpi,
        page,
        other_pages: others,
        truncated: None,
        scale,
    })
}

/// A JPEG or PNG to grey, a JPEG turned by its EXIF orientation; with the
/// share of rows present when a JPEG is cut short.
fn decode_raster(
    bytes: &[u8],
    format: FileFormat,
    limits: &Limits,
) -> Result<(GrayImage, Option<f32>), Finding> {
    let corrupt = || finding(ReasonCode::FileCorrupt, None);
    let (w, h) = image_dimensions(bytes, format)?;
    check_pixels(w, h, limits)?;
    if u64::from(w) * u64::from(h) > limits.max_job_pixels {
        return Err(finding(ReasonCode::ImageTooLarge, None));
    }
    let image_format = match format {
        FileFormat::Png => ImageFormat::Png,
        _ => ImageFormat::Jpeg,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut alloc = image::Limits::default();
    // Decoded RGBA at most, plus slack: a second line of defence behind check_pixels.
    alloc.max_alloc = Some(limits.max_pixels.saturating_mul(4).saturating_add(1 << 20));
    alloc.max_image_width = Some(limits.max_side);
    alloc.max_image_height = Some(limits.max_side);
    reader.limits(alloc);
    let mut decoder = reader.into_decoder().map_err(|_| corrupt())?;
    let orientation = decoder.orientation().ok();
    let image = DynamicImage::from_decoder(decoder).map_err(|_| corrupt())?;
    let mut grey = raster::grey(image);
    let mut truncated = None;
    if format == FileFormat::Jpeg && !jpeg_is_complete(bytes) {
        // The decoder fills what the file lacks with one flat value: what
        // is there is checked, and the report says the file is cut off.
        let rows = rows_present(&grey);
        if rows < grey.height() / 10 {
            return Err(corrupt());
        }
        truncated = Some(rows as f32 / grey.height() as f32);
        if rows < grey.height() {
            grey = image::imageops::crop_imm(&grey, 0, 0, grey.width(), rows).to_image();
        }
    }
    if let Some(orientation) = orientation {
        let mut turned = DynamicImage::ImageLuma8(grey);
        turned.apply_orientation(orientation);
        grey = turned.into_luma8();
    }
    Ok((grey, truncated))
}

/// A complete JPEG ends with its EOI marker (`FF D9`), which cannot occur
/// inside entropy-coded data. Trailing padding is tolerated.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

/// Rows above the flat band a decoder leaves where a JPEG was cut off.
fn rows_present(image: &GrayImage) -> u32 {
    let (w, h) = image.dimensions();
    let flat = |y: u32| -> Option<u8> {
        let first = image.get_pixel(0, y).0[0];
        (0..w)
            .all(|x| image.get_pixel(x, y).0[0] == first)
            .then_some(first)
    };
    let Some(fill) = h.checked_sub(1).and_then(flat) else {
        return h;
    };
    let mut rows = h;
    while rows > 0 && flat(rows - 1) == Some(fill) {
        rows -= 1;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::tests::one_page;
    use lopdf::{dictionary, Stream};

    /// A one-page PDF drawing `image` scaled to `w_pt` x `h_pt` points.
    pub(crate) fn pdf_with_image(image: Stream, w_pt: f32, h_pt: f32) -> Vec<u8> {
        let content = format!("q {w_pt} 0 0 {h_pt} 0 0 cm /Im0 Do Q");
        one_page(
            content.as_bytes(),
            vec![("Im0", image)],
            [0.0, 0.0, w_pt, h_pt],
            0,
        )
    }

    fn gray_image_stream(w: i64, h: i64, samples: Vec<u8>, compress: bool) -> Stream {
        let mut s = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => w, "Height" => h,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
            },
            samples,
        );
        if compress {
            s.compress().unwrap();
        }
        s
    }

    #[test]
    fn flate_gray_image_and_its_dpi() {
        // 300 x 150 px placed at 1 x 0.5 inch: 300 dpi.
        let samples: Vec<u8> = (0..300 * 150).map(|i| (i % 251) as u8).collect();
        let pdf = pdf_with_image(
            gray_image_stream(300, 150, samples.clone(), true),
            72.0,
            36.0,
        );
        let decoded = decode(&pdf, FileFormat::Pdf, &InProcessPdf, &Limits::default()).unwrap();
        assert_eq!(decoded.image.dimensions(), (300, 150));
        assert_eq!(decoded.image.as_raw(), &samples);
        assert_eq!(decoded.pages, 1);
        assert!((decoded.placement_dpi.unwrap() - 300.0).abs() < 0.5);
    }

    #[test]
    fn dct_image_is_the_embedded_jpeg() {
        let img = GrayImage::from_fn(64, 32, |x, y| image::Luma([(x * 4 + y) as u8]));
        let mut jpeg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        let stream = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => 64, "Height" => 32,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Filter" => "DCTDecode",
            },
            jpeg,
        );
        let pdf = pdf_with_image(stream, 72.0 * 64.0 / 600.0, 72.0 * 32.0 / 600.0);
        let decoded = decode(&pdf, FileFormat::Pdf, &InProcessPdf, &Limits::default()).unwrap();
        assert_eq!(decoded.image.dimensions(), (64, 32));
        assert!((decoded.placement_dpi.unwrap() - 600.0).abs() < 1.0);
    }

    #[test]
    fn hostile_pdfs_get_findings() {
        let limits = Limits::default();
        let code = |pdf: &[u8]| extract_pdf(pdf, &limits).unwrap_err().code;
        // Claims 100000 x 100000 pixels: refused before inflating anything.
        let huge = gray_image_stream(100_000, 100_000, vec![0; 16], false);
        assert_eq!(
            code(&pdf_with_image(huge, 72.0, 72.0)),
            ReasonCode::ImageTooLarge
        );
        // Fewer samples than the image needs.
        let short = gray_image_stream(100, 100, vec![0; 10], true);
        let pdf = pdf_with_image(short, 72.0, 72.0);
        assert_eq!(
            decode(&pdf, FileFormat::Pdf, &InProcessPdf, &limits)
                .unwrap_err()
                .code,
            ReasonCode::FileCorrupt
        );
        assert_eq!(code(b"%PDF-1.4\n garbage"), ReasonCode::FileCorrupt);
        // A page with text only.
        let text_only = one_page(b"BT ET", Vec::new(), [0.0, 0.0, 595.0, 842.0], 0);
        assert_eq!(code(&text_only), ReasonCode::PdfNoImage);
    }

    #[test]
    fn a_truncated_jpeg_is_read_as_far_as_it_goes_and_a_truncated_png_is_corrupt() {
        let img = GrayImage::from_fn(200, 160, |x, y| image::Luma([(x ^ y) as u8]));
        let mut png = Vec::new();
        img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let half = &png[..png.len() / 2];
        let err = decode(half, FileFormat::Png, &InProcessPdf, &Limits::default()).unwrap_err();
        assert_eq!(err.code, ReasonCode::FileCorrupt);

        let mut jpeg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        let whole = decode(&jpeg, FileFormat::Jpeg, &InProcessPdf, &Limits::default()).unwrap();
        assert_eq!(whole.truncated, None);
        let cut = &jpeg[..jpeg.len() / 2];
        let part = decode(cut, FileFormat::Jpeg, &InProcessPdf, &Limits::default()).unwrap();
        let share = part.truncated.expect("cut off");
        assert!((0.2..0.9).contains(&share), "{share}");
        assert_eq!(part.image.width(), 200);
        assert!(part.image.height() < 160);
        // What is there is the image's top, not filler.
        let rows = part.image.height() - 8;
        let differs = (0..rows)
            .flat_map(|y| (0..200).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                (i32::from(part.image.get_pixel(x, y).0[0]) - i32::from(img.get_pixel(x, y).0[0]))
                    .abs()
                    > 24
            })
            .count();
        assert!(differs < 200 * rows as usize / 20, "{differs}");
        // The headers and next to no image data: still corrupt.
        let sos = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let stub = &jpeg[..sos + 16];
        assert!(decode(stub, FileFormat::Jpeg, &InProcessPdf, &Limits::default()).is_err());
    }

    #[test]
    fn a_huge_mostly_white_png_is_shrunk_to_the_working_size_with_its_scale() {
        // 79 MP of white with a black bar: a few hundred KB of PNG.
        let (w, h) = (10_240, 7_720);
        let page = GrayImage::from_fn(w, h, |x, y| {
            image::Luma([if (1_000..1_400).contains(&y) && x < 4_000 {
                0
            } else {
                255
            }])
        });
        let mut png = Vec::new();
        page.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert!(png.len() < 2_000_000, "{}", png.len());
        let limits = Limits::default();
        let decoded = decode(&png, FileFormat::Png, &InProcessPdf, &limits).unwrap();
        let (dw, dh) = decoded.image.dimensions();
        assert!(
            u64::from(dw) * u64::from(dh) <= limits.work_pixels,
            "{dw}x{dh}"
        );
        let expected = (79_052_800.0f32 / 25_000_000.0).sqrt();
        assert!((decoded.scale - expected).abs() < 0.01, "{}", decoded.scale);
        assert!((dw as f32 * decoded.scale - w as f32).abs() < 2.0);
        // The bar is where it was, at the working scale.
        let at = |x: f32, y: f32| {
            let s = decoded.scale;
            decoded.image.get_pixel((x / s) as u32, (y / s) as u32)[0]
        };
        assert_eq!((at(2_000.0, 1_200.0), at(6_000.0, 1_200.0)), (0, 255));
        // Small scans are kept as they are.
        let small = GrayImage::from_pixel(1_500, 1_000, image::Luma([200]));
        let mut png = Vec::new();
        small
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let decoded = decode(&png, FileFormat::Png, &InProcessPdf, &limits).unwrap();
        assert_eq!(
            (decoded.image.dimensions(), decoded.scale),
            ((1_500, 1_000), 1.0)
        );
    }

    #[test]
    fn a_file_past_the_job_budget_is_too_large_before_decoding() {
        let png = {
            let page = GrayImage::from_pixel(4_000, 3_000, image::Luma([255]));
            let mut png = Vec::new();
            page.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
                .unwrap();
            png
        };
        let limits = Limits {
            max_job_pixels: 10_000_000,
            ..Limits::default()
        };
        let refused = decode(&png, FileFormat::Png, &InProcessPdf, &limits).unwrap_err();
        assert_eq!(refused.code, ReasonCode::ImageTooLarge);
        assert!(
            refused.message.contains("300–600 dpi"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn a_pdf_page_is_shrunk_and_keeps_its_placement_at_its_own_size() {
        // 3000 x 2000 px placed at 5 x 3.33 inch: 600 dpi.
        let samples: Vec<u8> = (0..3000 * 2000).map(|i| (i % 7 * 30) as u8).collect();
        let pdf = pdf_with_image(gray_image_stream(3000, 2000, samples, true), 360.0, 240.0);
        let limits = Limits {
            work_pixels: 1_500_000,
            ..Limits::default()
        };
        let decoded = decode(&pdf, FileFormat::Pdf, &InProcessPdf, &limits).unwrap();
        assert_eq!(decoded.image.dimensions(), (1500, 1000));
        assert!((decoded.scale - 2.0).abs() < 1e-3);
        assert!((decoded.placement_dpi.unwrap() - 600.0).abs() < 1.0);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            for format in [FileFormat::Jpeg, FileFormat::Png, FileFormat::Pdf] {
                let _ = decode(&bytes, format, &InProcessPdf, &Limits::default());
            }
            let mut pdf = b"%PDF-1.4\n".to_vec();
            pdf.extend(&bytes);
            let _ = extract_pdf(&pdf, &Limits::default());
        }
    }
}
