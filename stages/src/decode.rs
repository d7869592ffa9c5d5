//! Decode stage: the scan as a grey image.
//!
//! JPEG and PNG are decoded by the `image` crate after their header's pixel
//! count passed the limits. A PDF is parsed with lopdf to find the first page
//! that draws an image; that image (DCTDecode: the JPEG inside; FlateDecode:
//! raw samples) is extracted, and its placement on the page gives an
//! effective dpi. lopdf has aborted and overflowed its stack on hostile
//! files, which no `catch_unwind` stops, so the pipeline runs
//! [`extract_pdf`] behind a [`PdfExtractor`] in a resource-limited child
//! process; [`InProcessPdf`] runs it directly (tests, fuzzing).

use crate::limits::{check_pixels, image_dimensions};
use crate::messages::finding;
use image::{DynamicImage, GrayImage, ImageFormat, ImageReader};
use intake_models::config::Limits;
use intake_models::{FileFormat, Finding, ReasonCode};
use lopdf::content::Content;
use lopdf::{Document, LoadOptions, Object, ObjectId};
use serde::{Deserialize, Serialize};
use std::io::Cursor;

/// A decoded scan.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub image: GrayImage,
    /// Pages in the file (1 for JPEG and PNG).
    pub pages: u32,
    /// For a PDF: the image's pixel width over its placed width in inches.
    pub placement_dpi: Option<f32>,
}

/// The scan image taken out of a PDF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PdfImage {
    pub pages: u32,
    pub placement_dpi: Option<f32>,
    pub encoding: PageImage,
    /// The JPEG file (`Jpeg`) or the raw samples, rows top to bottom (`Raw`).
    /// Carried beside the header by the sandbox, not inside it.
    #[serde(skip)]
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageImage {
    Jpeg,
    Raw {
        width: u32,
        height: u32,
        /// 1 (grey), 3 (RGB) or 4 (CMYK).
        components: u8,
        /// 8, or 1 for bilevel grey.
        bits: u8,
    },
}

/// Gets the scan image out of a PDF, somehow isolated from the caller.
pub trait PdfExtractor: Send + Sync {
    fn extract(&self, bytes: &[u8], limits: &Limits) -> Result<PdfImage, Finding>;
}

/// Runs [`extract_pdf`] in this process: only for trusted callers.
pub struct InProcessPdf;

impl PdfExtractor for InProcessPdf {
    fn extract(&self, bytes: &[u8], limits: &Limits) -> Result<PdfImage, Finding> {
        extract_pdf(bytes, limits)
    }
}

/// Decodes a JPEG, PNG or PDF upload to grey, every size checked first.
pub fn decode(
    bytes: &[u8],
    format: FileFormat,
    pdf: &dyn PdfExtractor,
    limits: &Limits,
) -> Result<Decoded, Finding> {
    match format {
        FileFormat::Jpeg | FileFormat::Png => Ok(Decoded {
            image: decode_raster(bytes, format, limits)?,
            pages: 1,
            placement_dpi: None,
        }),
        FileFormat::Pdf => {
            let extracted = pdf.extract(bytes, limits)?;
            let image = match extracted.encoding {
                PageImage::Jpeg => decode_raster(&extracted.data, FileFormat::Jpeg, limits)?,
                PageImage::Raw {
                    width,
                    height,
                    components,
                    bits,
                } => raw_to_gray(&extracted.data, width, height, components, bits, limits)?,
            };
            Ok(Decoded {
                image,
                pages: extracted.pages,
                placement_dpi: extracted.placement_dpi,
            })
        }
        _ => Err(finding(ReasonCode::FormatUnsupported, None)),
    }
}

fn decode_raster(bytes: &[u8], format: FileFormat, limits: &Limits) -> Result<GrayImage, Finding> {
    let (w, h) = image_dimensions(bytes, format)?;
    check_pixels(w, h, limits)?;
    if format == FileFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(finding(ReasonCode::FileCorrupt, None));
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
    let image: DynamicImage = reader
        .decode()
        .map_err(|_| finding(ReasonCode::FileCorrupt, None))?;
    Ok(image.into_luma8())
}

/// The JPEG decoder fills a truncated scan with grey and calls it a
/// success; a complete JPEG ends with its EOI marker (`FF D9`), which cannot
/// occur inside entropy-coded data. Trailing padding is tolerated.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

fn raw_to_gray(
    data: &[u8],
    width: u32,
    height: u32,
    components: u8,
    bits: u8,
    limits: &Limits,
) -> Result<GrayImage, Finding> {
    check_pixels(width, height, limits)?;
    let corrupt = || finding(ReasonCode::FileCorrupt, None);
    let (w, h) = (width as usize, height as usize);
    match (components, bits) {
        (1 | 3 | 4, 8) => {
            let c = components as usize;
            let needed = w
                .checked_mul(h)
                .and_then(|n| n.checked_mul(c))
                .ok_or_else(corrupt)?;
            let samples = data.get(..needed).ok_or_else(corrupt)?;
            let gray: Vec<u8> = samples
                .chunks_exact(c)
                .map(|p| match p {
                    [g] => *g,
                    [r, g, b] => luma(*r, *g, *b),
                    [c, m, y, k] => {
                        let ink = |v: u8| ((255 - v as u16) * (255 - *k as u16) / 255) as u8;
                        luma(ink(*c), ink(*m), ink(*y))
                    }
                    _ => 255,
                })
                .collect();
            GrayImage::from_raw(width, height, gray).ok_or_else(corrupt)
        }
        (1, 1) => {
            let row = w.div_ceil(8);
            let needed = row.checked_mul(h).ok_or_else(corrupt)?;
            let packed = data.get(..needed).ok_or_else(corrupt)?;
            Ok(GrayImage::from_fn(width, height, |x, y| {
                let byte = packed[y as usize * row + x as usize / 8];
                let bit = (byte >> (7 - (x % 8))) & 1;
                image::Luma([if bit == 1 { 255 } else { 0 }])
            }))
        }
        _ => Err(corrupt()),
    }
}

fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 299 + g as u32 * 587 + b as u32 * 114) / 1000) as u8
}

/// Finds the first page (of at most `max_pdf_pages`) that draws an image and
/// takes that image out, with every size checked before it is inflated.
pub fn extract_pdf(bytes: &[u8], limits: &Limits) -> Result<PdfImage, Finding> {
    let corrupt = || finding(ReasonCode::FileCorrupt, None);
    let options = LoadOptions {
        max_decompressed_size: Some(limits.max_pdf_stream_bytes as usize),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(|_| corrupt())?;
    if doc.objects.len() as u64 > u64::from(limits.max_pdf_objects) {
        return Err(corrupt());
    }
    let pages = doc.get_pages();
    let page_count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    for (_, page_id) in pages.into_iter().take(limits.max_pdf_pages as usize) {
        if let Some(found) = page_image(&doc, page_id, limits)? {
            return Ok(PdfImage {
                pages: page_count,
                ..found
            });
        }
    }
    Err(finding(ReasonCode::PdfNoImage, None))
}

/// The largest image a page draws, with its placement; `Ok(None)` when it draws none.
fn page_image(
    doc: &Document,
    page_id: ObjectId,
    limits: &Limits,
) -> Result<Option<PdfImage>, Finding> {
    let corrupt = || finding(ReasonCode::FileCorrupt, None);
    let placements = placements(doc, page_id, limits);
    let Ok((resources, inherited)) = doc.get_page_resources(page_id) else {
        return Ok(None);
    };
    let dictionaries = resources.into_iter().cloned().chain(
        inherited
            .into_iter()
            .filter_map(|id| doc.get_dictionary(id).ok().cloned()),
    );
    let mut best: Option<(u64, PdfImage)> = None;
    for resources in dictionaries {
        let Ok(xobjects) = resources
            .get(b"XObject")
            .and_then(|o| doc.dereference(o))
            .and_then(|(_, o)| o.as_dict())
        else {
            continue;
        };
        for (name, value) in xobjects.iter() {
            let Ok((_, Object::Stream(stream))) = doc.dereference(value) else {
                continue;
            };
            let dict = &stream.dict;
            if dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Image".as_slice()) {
                continue;
            }
            let int = |key: &[u8]| dict.get(key).and_then(Object::as_i64).ok();
            let (Some(w), Some(h)) = (int(b"Width"), int(b"Height")) else {
                return Err(corrupt());
            };
            let (w, h) = (
                u32::try_from(w).map_err(|_| corrupt())?,
                u32::try_from(h).map_err(|_| corrupt())?,
            );
            // Pixels before a single byte is inflated.
            check_pixels(w, h, limits)?;
            let area = u64::from(w) * u64::from(h);
            if best.as_ref().is_some_and(|(a, _)| *a >= area) {
                continue;
            }
            let filters = filter_names(dict);
            let placement_dpi = placements
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, inches)| w as f32 / inches)
                .filter(|d| d.is_finite() && *d > 0.0);
            let (encoding, data) = match filters.as_slice() {
                [f] if f == b"DCTDecode" => (PageImage::Jpeg, stream.content.clone()),
                [] | [_] => {
                    let components: u8 = match colour_space(doc, dict).as_deref() {
                        Some(b"DeviceGray") | Some(b"CalGray") | None => 1,
                        Some(b"DeviceRGB") | Some(b"CalRGB") => 3,
                        Some(b"DeviceCMYK") => 4,
                        _ => continue,
                    };
                    let bits = int(b"BitsPerComponent").unwrap_or(8);
                    let bits = u8::try_from(bits).map_err(|_| corrupt())?;
                    let expected = (u64::from(w) * u64::from(components) * u64::from(bits))
                        .div_ceil(8)
                        * u64::from(h);
                    if expected > limits.max_pdf_stream_bytes {
                        return Err(finding(ReasonCode::ImageTooLarge, None));
                    }
                    let data = if filters.is_empty() {
                        stream.content.clone()
                    } else if filters[0] == b"FlateDecode" {
                        stream
                            .decompressed_content_with_limit(expected as usize + 4096)
                            .map_err(|_| corrupt())?
                    } else {
                        continue;
                    };
                    let encoding = PageImage::Raw {
                        width: w,
                        height: h,
                        components,
                        bits,
                    };
                    (encoding, data)
                }
                _ => continue,
            };
            best = Some((
                area,
                PdfImage {
                    pages: 0,
                    placement_dpi,
                    encoding,
                    data,
                },
            ));
        }
    }
    Ok(best.map(|(_, image)| image))
}

fn filter_names(dict: &lopdf::Dictionary) -> Vec<Vec<u8>> {
    match dict.get(b"Filter") {
        Ok(Object::Name(n)) => vec![n.clone()],
        Ok(Object::Array(a)) => a
            .iter()
            .filter_map(|o| o.as_name().ok().map(<[u8]>::to_vec))
            .collect(),
        _ => Vec::new(),
    }
}

fn colour_space(doc: &Document, dict: &lopdf::Dictionary) -> Option<Vec<u8>> {
    let (_, cs) = doc.dereference(dict.get(b"ColorSpace").ok()?).ok()?;
    match cs {
        Object::Name(n) => Some(n.clone()),
        // [/ICCBased stream]: the stream's /N tells the component count.
        Object::Array(a) => match a.first().and_then(|o| o.as_name().ok()) {
            Some(b"ICCBased") => {
                let (_, s) = doc.dereference(a.get(1)?).ok()?;
                match s
                    .as_stream()
                    .ok()?
                    .dict
                    .get(b"N")
                    .and_then(Object::as_i64)
                    .ok()?
                {
                    1 => Some(b"DeviceGray".to_vec()),
                    3 => Some(b"DeviceRGB".to_vec()),
                    4 => Some(b"DeviceCMYK".to_vec()),
                    _ => None,
                }
            }
            Some(other) => Some(other.to_vec()),
            None => None,
        },
        _ => None,
    }
}

/// Placed width in inches of each image XObject the page draws (`Do`), from
/// the current transformation matrix (`cm`, saved and restored by `q`/`Q`).
fn placements(doc: &Document, page_id: ObjectId, limits: &Limits) -> Vec<(Vec<u8>, f32)> {
    let Ok(content) =
        doc.get_page_content_with_limit(page_id, limits.max_pdf_stream_bytes as usize)
    else {
        return Vec::new();
    };
    let Ok(content) = Content::decode(&content) else {
        return Vec::new();
    };
    type Matrix = [f32; 6];
    let multiply = |m: Matrix, n: Matrix| -> Matrix {
        [
            m[0] * n[0] + m[1] * n[2],
            m[0] * n[1] + m[1] * n[3],
            m[2] * n[0] + m[3] * n[2],
            m[2] * n[1] + m[3] * n[3],
            m[4] * n[0] + m[5] * n[2] + n[4],
            m[4] * n[1] + m[5] * n[3] + n[5],
        ]
    };
    let mut ctm: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
    let mut stack: Vec<Matrix> = Vec::new();
    let mut found = Vec::new();
    for op in content.operations {
        match op.operator.as_str() {
            "q" if stack.len() < 64 => stack.push(ctm),
            "Q" => ctm = stack.pop().unwrap_or(ctm),
            "cm" if op.operands.len() == 6 => {
                let v: Vec<f32> = op
                    .operands
                    .iter()
                    .filter_map(|o| o.as_float().ok())
                    .collect();
                if let [a, b, c, d, e, f] = v[..] {
                    ctm = multiply([a, b, c, d, e, f], ctm);
                }
            }
            "Do" => {
                if let Some(Ok(name)) = op.operands.first().map(Object::as_name) {
                    // The unit square's top edge, whatever the rotation.
                    let width_pt = (ctm[0] * ctm[0] + ctm[1] * ctm[1]).sqrt();
                    let height_pt = (ctm[2] * ctm[2] + ctm[3] * ctm[3]).sqrt();
                    // A quarter-turned image is drawn with its width along the page's height.
                    let across = if ctm[0].abs() >= ctm[1].abs() {
                        width_pt
                    } else {
                        height_pt.max(width_pt)
                    };
                    found.push((name.to_vec(), across / 72.0));
                }
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{dictionary, Stream};

    /// A one-page PDF drawing `image` scaled to `w_pt` x `h_pt` points.
    pub(crate) fn pdf_with_image(image: Stream, w_pt: f32, h_pt: f32) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let image_id = doc.add_object(image);
        let content = format!("q {w_pt} 0 0 {h_pt} 0 0 cm /Im0 Do Q");
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), w_pt.into(), h_pt.into()],
            "Contents" => content_id,
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
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
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let content_id = doc.add_object(Stream::new(dictionary! {}, b"BT ET".to_vec()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
            ),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut text_only = Vec::new();
        doc.save_to(&mut text_only).unwrap();
        assert_eq!(code(&text_only), ReasonCode::PdfNoImage);
    }

    #[test]
    fn truncated_jpeg_and_png_are_corrupt() {
        let img = GrayImage::from_fn(200, 100, |x, y| image::Luma([(x ^ y) as u8]));
        for format in [ImageFormat::Jpeg, ImageFormat::Png] {
            let mut bytes = Vec::new();
            img.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
            let ours = if format == ImageFormat::Png {
                FileFormat::Png
            } else {
                FileFormat::Jpeg
            };
            assert!(decode(&bytes, ours, &InProcessPdf, &Limits::default()).is_ok());
            let half = &bytes[..bytes.len() / 2];
            let err = decode(half, ours, &InProcessPdf, &Limits::default()).unwrap_err();
            assert_eq!(err.code, ReasonCode::FileCorrupt, "{format:?}");
        }
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
