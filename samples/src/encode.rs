//! Files as uploaded: JPEG (JFIF density), PNG (pHYs), PDF (the image placed
//! on a page of the scan's physical size, as DCTDecode or FlateDecode).

use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use image::codecs::png::PngEncoder;
use image::{GrayImage, ImageEncoder};
use lopdf::{dictionary, Document, Object, Stream};

/// Why a file could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("image encoding failed: {0}")]
    Image(image::ImageError),
    #[error("writing failed: {0}")]
    Io(std::io::Error),
}

// Written out rather than `#[from]`, which would also make the cause the
// error's source: printed chains would repeat what the message quotes.
impl From<image::ImageError> for EncodeError {
    fn from(e: image::ImageError) -> EncodeError {
        EncodeError::Image(e)
    }
}

impl From<std::io::Error> for EncodeError {
    fn from(e: std::io::Error) -> EncodeError {
        EncodeError::Io(e)
    }
}

/// JPEG at `quality`, with a JFIF density of `dpi` or none.
pub fn jpeg(image: &GrayImage, quality: u8, dpi: Option<u16>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, quality);
    if let Some(dpi) = dpi {
        encoder.set_pixel_density(PixelDensity::dpi(dpi));
    }
    encoder.encode_image(image)?;
    Ok(out)
}

/// PNG, with a pHYs chunk of `dpi` or none.
pub fn png(image: &GrayImage, dpi: Option<f32>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::L8,
    )?;
    if let Some(dpi) = dpi {
        let per_metre = (dpi / 0.0254).round() as u32;
        let mut data = Vec::with_capacity(9);
        data.extend(per_metre.to_be_bytes());
        data.extend(per_metre.to_be_bytes());
        data.push(1); // unit: metre
                      // After the signature (8) and IHDR (4 + 4 + 13 + 4).
        out.splice(33..33, png_chunk(b"pHYs", &data));
    }
    Ok(out)
}

/// A PNG chunk: length, type, data, CRC of type and data.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut chunk = Vec::with_capacity(data.len() + 12);
    chunk.extend((data.len() as u32).to_be_bytes());
    chunk.extend(kind);
    chunk.extend(data);
    chunk.extend(crc.sum().to_be_bytes());
    chunk
}

/// How the page image is stored in a PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdfImage {
    /// DCTDecode: the JPEG file as the stream.
    Jpeg,
    /// FlateDecode: raw 8-bit grey samples, deflated.
    Flate,
}

/// A one-page PDF showing `image` at `dpi`: the page has the scan's
/// physical size, so the placement gives the true resolution back.
pub fn pdf(
    image: &GrayImage,
    dpi: f32,
    how: PdfImage,
    jpeg_quality: u8,
) -> Result<Vec<u8>, EncodeError> {
    let (w, h) = image.dimensions();
    let (w_pt, h_pt) = (w as f32 * 72.0 / dpi, h as f32 * 72.0 / dpi);
    let info = dictionary! {
        "Type" => "XObject", "Subtype" => "Image",
        "Width" => i64::from(w), "Height" => i64::from(h),
        "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
    };
    let stream = match how {
        PdfImage::Jpeg => {
            let mut dict = info;
            dict.set("Filter", "DCTDecode");
            Stream::new(dict, jpeg(image, jpeg_quality, None)?).with_compression(false)
        }
        PdfImage::Flate => {
            let mut s = Stream::new(info, image.as_raw().clone());
            s.compress()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            s
        }
    };
    let content = format!("q {w_pt:.3} 0 0 {h_pt:.3} 0 0 cm /Im0 Do Q");
    Ok(one_page_pdf((w_pt, h_pt), content, |doc| {
        let image_id = doc.add_object(stream);
        dictionary! { "XObject" => dictionary! { "Im0" => image_id } }
    })?)
}

/// A one-page PDF of `size_pt`, drawing `content` with the resources that
/// `resources` adds to the document.
pub fn one_page_pdf(
    (width_pt, height_pt): (f32, f32),
    content: String,
    resources: impl FnOnce(&mut Document) -> lopdf::Dictionary,
) -> std::io::Result<Vec<u8>> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let resources = resources(&mut doc);
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), width_pt.into(), height_pt.into()],
        "Contents" => content_id,
        "Resources" => resources,
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
    doc.save_to(&mut out)?;
    Ok(out)
}
