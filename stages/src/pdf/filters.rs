//! A PDF image's samples to grey: the filter chain, the colour space, the
//! bit depth and the Decode array.
//!
//! The general filters (FlateDecode and LZWDecode with their predictors,
//! ASCII85Decode, ASCIIHexDecode, RunLengthDecode) are lopdf's, bounded by
//! the length the image needs; a chain that ends in DCTDecode is a JPEG
//! after the filters before it. CCITTFaxDecode, JBIG2Decode, JPXDecode and
//! colour spaces we do not convert are [`DecodeError::Unsupported`]: the
//! page renderer draws those.

use crate::limits::check_pixels;
use crate::messages::finding;
use crate::raster::{self, luma};
use image::{GrayImage, ImageFormat, ImageReader};
use intake_models::config::Limits;
use intake_models::{Finding, ReasonCode};
use lopdf::{Dictionary, Document, Object, Stream};
use std::io::Cursor;
use thiserror::Error;

/// Why an image was not decoded here.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// A filter or colour space the renderer must draw.
    #[error("an encoding decoded by the page renderer")]
    Unsupported,
    /// Broken data or a dictionary that contradicts itself.
    #[error("corrupt image data")]
    Corrupt,
    /// More pixels or bytes than the limits allow.
    #[error("image beyond the limits")]
    TooLarge,
}

impl DecodeError {
    pub fn finding(&self) -> Finding {
        match self {
            DecodeError::TooLarge => finding(ReasonCode::ImageTooLarge, None),
            DecodeError::Unsupported => finding(ReasonCode::PdfNoImage, None),
            DecodeError::Corrupt => finding(ReasonCode::FileCorrupt, None),
        }
    }
}

/// A colour space we convert to grey.
#[derive(Debug, Clone, PartialEq)]
pub enum ColourSpace {
    Gray,
    Rgb,
    Cmyk,
    /// `[/Indexed base hival lookup]`: each sample indexes `grey`.
    Indexed {
        grey: Vec<u8>,
    },
    /// One we do not convert (Lab, Separation, DeviceN, Pattern, …).
    Other,
}

impl ColourSpace {
    fn components(&self) -> usize {
        match self {
            ColourSpace::Gray | ColourSpace::Indexed { .. } | ColourSpace::Other => 1,
            ColourSpace::Rgb => 3,
            ColourSpace::Cmyk => 4,
        }
    }
}

/// What an image dictionary says about its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSpec {
    pub width: u32,
    pub height: u32,
    pub bits: u8,
    pub space: ColourSpace,
    /// `/ImageMask true`: a stencil, not a scan.
    pub mask: bool,
    /// Filters in decoding order, full names.
    pub filters: Vec<Vec<u8>>,
    /// Each filter's parameters (`/DecodeParms`), aligned with `filters`.
    pub params: Vec<Option<Dictionary>>,
    /// `/Decode`, pairs per component.
    pub decode: Option<Vec<f32>>,
}

/// The full name of a filter, inline images' abbreviations included.
fn filter_name(name: &[u8]) -> Vec<u8> {
    match name {
        b"AHx" => b"ASCIIHexDecode".to_vec(),
        b"A85" => b"ASCII85Decode".to_vec(),
        b"LZW" => b"LZWDecode".to_vec(),
        b"Fl" => b"FlateDecode".to_vec(),
        b"RL" => b"RunLengthDecode".to_vec(),
        b"CCF" => b"CCITTFaxDecode".to_vec(),
        b"DCT" => b"DCTDecode".to_vec(),
        other => other.to_vec(),
    }
}

impl ImageSpec {
    /// Reads an image XObject's (or an inline image's) dictionary.
    pub fn read(
        doc: &Document,
        dict: &Dictionary,
        resources: &[&Dictionary],
        inline: bool,
    ) -> Result<ImageSpec, DecodeError> {
        let get = |full: &[u8], short: &[u8]| -> Option<&Object> {
            let value = dict
                .get(full)
                .ok()
                .or_else(|| inline.then(|| dict.get(short).ok()).flatten())?;
            doc.dereference(value).ok().map(|(_, o)| o)
        };
        let int = |full: &[u8], short: &[u8]| get(full, short).and_then(|o| o.as_i64().ok());
        let (Some(w), Some(h)) = (int(b"Width", b"W"), int(b"Height", b"H")) else {
            return Err(DecodeError::Corrupt);
        };
        let width = u32::try_from(w).map_err(|_| DecodeError::Corrupt)?;
        let height = u32::try_from(h).map_err(|_| DecodeError::Corrupt)?;
        let mask = get(b"ImageMask", b"IM")
            .and_then(|o| o.as_bool().ok())
            .unwrap_or(false);
        let filters: Vec<Vec<u8>> = match get(b"Filter", b"F") {
            Some(Object::Name(n)) => vec![filter_name(n)],
            Some(Object::Array(a)) => a
                .iter()
                .filter_map(|o| doc.dereference(o).ok()?.1.as_name().ok().map(filter_name))
                .collect(),
            _ => Vec::new(),
        };
        let params: Vec<Option<Dictionary>> = match get(b"DecodeParms", b"DP") {
            Some(Object::Dictionary(d)) => vec![Some(d.clone()); filters.len().max(1)],
            Some(Object::Array(a)) => a
                .iter()
                .map(|o| {
                    doc.dereference(o)
                        .ok()
                        .and_then(|(_, o)| o.as_dict().ok().cloned())
                })
                .collect(),
            _ => Vec::new(),
        };
        let dct_or_jpx = filters
            .last()
            .is_some_and(|f| f == b"DCTDecode" || f == b"JPXDecode");
        let bits = match int(b"BitsPerComponent", b"BPC") {
            Some(b @ (1 | 2 | 4 | 8 | 16)) => b as u8,
            _ if mask => 1,
            // A JPEG or JPEG 2000 carries its own depth.
            None if dct_or_jpx => 8,
            _ => return Err(DecodeError::Corrupt),
        };
        let space = if mask {
            ColourSpace::Gray
        } else {
            match get(b"ColorSpace", b"CS") {
                Some(cs) => colour_space(doc, cs, resources, 0),
                // JPX images may carry their own colour space.
                None if dct_or_jpx => ColourSpace::Gray,
                None => return Err(DecodeError::Corrupt),
            }
        };
        let decode = get(b"Decode", b"D")
            .and_then(|o| o.as_array().ok())
            .map(|a| a.iter().filter_map(|o| o.as_float().ok()).collect());
        Ok(ImageSpec {
            width,
            height,
            bits,
            space,
            mask,
            filters,
            params,
            decode,
        })
    }

    /// Bytes of the unfiltered samples.
    fn sample_bytes(&self) -> u64 {
        let row = (u64::from(self.width) * self.space.components() as u64 * u64::from(self.bits))
            .div_ceil(8);
        row * u64::from(self.height)
    }
}

/// A colour space object (a name, a resource name of an inline image, or an
/// array), resolved to one we convert.
fn colour_space(
    doc: &Document,
    cs: &Object,
    resources: &[&Dictionary],
    depth: usize,
) -> ColourSpace {
    if depth > 4 {
        return ColourSpace::Other;
    }
    match cs {
        Object::Name(n) => match n.as_slice() {
            b"DeviceGray" | b"CalGray" | b"G" => ColourSpace::Gray,
            b"DeviceRGB" | b"CalRGB" | b"RGB" => ColourSpace::Rgb,
            b"DeviceCMYK" | b"CMYK" => ColourSpace::Cmyk,
            name => {
                // A named colour space from the resources.
                let named = resources.iter().find_map(|r| {
                    let (_, spaces) = r.get(b"ColorSpace").and_then(|o| doc.dereference(o)).ok()?;
                    let value = spaces.as_dict().ok()?.get(name).ok()?;
                    doc.dereference(value).ok().map(|(_, o)| o)
                });
                match named {
                    Some(o) => colour_space(doc, o, resources, depth + 1),
                    None => ColourSpace::Other,
                }
            }
        },
        Object::Reference(_) => match doc.dereference(cs) {
            Ok((_, o)) => colour_space(doc, o, resources, depth + 1),
            Err(_) => ColourSpace::Other,
        },
        Object::Array(a) => {
            let first = a.first().and_then(|o| o.as_name().ok());
            let arg = |i: usize| {
                a.get(i)
                    .and_then(|o| doc.dereference(o).ok())
                    .map(|(_, o)| o)
            };
            match first {
                Some(b"CalGray") => ColourSpace::Gray,
                Some(b"CalRGB") => ColourSpace::Rgb,
                Some(b"ICCBased") => {
                    let Some(Object::Stream(s)) = arg(1) else {
                        return ColourSpace::Other;
                    };
                    match s.dict.get(b"N").and_then(Object::as_i64) {
                        Ok(1) => ColourSpace::Gray,
                        Ok(3) => ColourSpace::Rgb,
                        Ok(4) => ColourSpace::Cmyk,
                        _ => match s.dict.get(b"Alternate") {
                            Ok(alt) => colour_space(doc, alt, resources, depth + 1),
                            Err(_) => ColourSpace::Other,
                        },
                    }
                }
                Some(b"Indexed" | b"I") => {
                    let (Some(base), Some(hival), Some(lookup)) = (arg(1), arg(2), arg(3)) else {
                        return ColourSpace::Other;
                    };
                    let base = colour_space(doc, base, resources, depth + 1);
                    let Ok(hival) = hival.as_i64() else {
                        return ColourSpace::Other;
                    };
                    let entries = (hival.clamp(0, 255) + 1) as usize;
                    let table = match lookup {
                        Object::String(bytes, _) => bytes.clone(),
                        Object::Stream(s) => {
                            match s.decompressed_content_with_limit(4 * 256 + 16) {
                                Ok(b) => b,
                                Err(_) => return ColourSpace::Other,
                            }
                        }
                        _ => return ColourSpace::Other,
                    };
                    let n = base.components();
                    if matches!(base, ColourSpace::Indexed { .. } | ColourSpace::Other) {
                        return ColourSpace::Other;
                    }
                    // A short table: missing entries are black.
                    let grey = (0..entries)
                        .map(|i| {
                            let px = table.get(i * n..i * n + n).unwrap_or(&[]);
                            match (&base, px) {
                                (ColourSpace::Gray, [g]) => *g,
                                (ColourSpace::Rgb, [r, g, b]) => luma(*r, *g, *b),
                                (ColourSpace::Cmyk, [c, m, y, k]) => cmyk_grey(*c, *m, *y, *k),
                                _ => 0,
                            }
                        })
                        .collect();
                    ColourSpace::Indexed { grey }
                }
                _ => ColourSpace::Other,
            }
        }
        _ => ColourSpace::Other,
    }
}

/// Decodes an image's stream content to grey (in image space: row 0 first).
pub fn decode_image(
    content: &[u8],
    spec: &ImageSpec,
    limits: &Limits,
) -> Result<GrayImage, DecodeError> {
    check_pixels(spec.width, spec.height, limits).map_err(|f| match f.code {
        ReasonCode::ImageTooLarge => DecodeError::TooLarge,
        _ => DecodeError::Corrupt,
    })?;
    let last = spec.filters.last().map(Vec::as_slice);
    let native = |f: &[u8]| {
        matches!(
            f,
            b"FlateDecode"
                | b"LZWDecode"
                | b"ASCII85Decode"
                | b"ASCIIHexDecode"
                | b"RunLengthDecode"
        )
    };
    let (chain, jpeg) = match last {
        Some(b"DCTDecode") => (&spec.filters[..spec.filters.len() - 1], true),
        _ => (&spec.filters[..], false),
    };
    if !chain.iter().all(|f| native(f)) {
        return Err(DecodeError::Unsupported);
    }
    if spec.space == ColourSpace::Other {
        return Err(DecodeError::Unsupported);
    }
    // What the image needs, before anything is inflated; a JPEG is at most the file.
    let cap = if jpeg {
        limits.max_bytes.max(content.len() as u64)
    } else {
        spec.sample_bytes()
    };
    if cap > limits.max_pdf_stream_bytes {
        return Err(DecodeError::TooLarge);
    }
    let data = unfilter(content, chain, &spec.params, cap as usize + 4096)?;
    if jpeg {
        return decode_jpeg(&data, spec, limits);
    }
    samples_to_grey(&data, spec)
}

/// Runs `chain` (decoding order) over `content`, each step bounded by `cap`.
pub fn unfilter(
    content: &[u8],
    chain: &[Vec<u8>],
    params: &[Option<Dictionary>],
    cap: usize,
) -> Result<Vec<u8>, DecodeError> {
    if chain.is_empty() {
        return Ok(content.to_vec());
    }
    let mut dict = Dictionary::new();
    dict.set(
        "Filter",
        Object::Array(chain.iter().map(|f| Object::Name(f.clone())).collect()),
    );
    if !params.is_empty() {
        dict.set(
            "DecodeParms",
            Object::Array(
                (0..chain.len())
                    .map(|i| match params.get(i) {
                        Some(Some(d)) => Object::Dictionary(d.clone()),
                        _ => Object::Null,
                    })
                    .collect(),
            ),
        );
    }
    let stream = Stream::new(dict, content.to_vec()).with_compression(false);
    stream
        .decompressed_content_with_limit(cap)
        .map_err(|e| match e {
            lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => {
                DecodeError::TooLarge
            }
            _ => DecodeError::Corrupt,
        })
}

fn decode_jpeg(data: &[u8], spec: &ImageSpec, limits: &Limits) -> Result<GrayImage, DecodeError> {
    let reader = ImageReader::with_format(Cursor::new(data), ImageFormat::Jpeg);
    let (w, h) = reader.into_dimensions().map_err(|_| DecodeError::Corrupt)?;
    check_pixels(w, h, limits).map_err(|_| DecodeError::TooLarge)?;
    let mut reader = ImageReader::with_format(Cursor::new(data), ImageFormat::Jpeg);
    let mut alloc = image::Limits::default();
    alloc.max_alloc = Some(limits.max_pixels.saturating_mul(4).saturating_add(1 << 20));
    reader.limits(alloc);
    let mut grey = raster::grey(reader.decode().map_err(|_| DecodeError::Corrupt)?);
    // `/Decode [1 0]` on a grey JPEG: the samples are inverted.
    if let Some(d) = &spec.decode {
        if spec.space == ColourSpace::Gray && d.len() >= 2 && d[0] > d[1] {
            image::imageops::invert(&mut grey);
        }
    }
    Ok(grey)
}

/// Packed samples (rows padded to a byte) to grey, through the Decode
/// array and the colour space.
pub fn samples_to_grey(data: &[u8], spec: &ImageSpec) -> Result<GrayImage, DecodeError> {
    let n = spec.space.components();
    let bits = usize::from(spec.bits);
    let (w, h) = (spec.width as usize, spec.height as usize);
    let row = w
        .checked_mul(n)
        .and_then(|s| s.checked_mul(bits))
        .map(|b| b.div_ceil(8))
        .ok_or(DecodeError::Corrupt)?;
    let needed = row.checked_mul(h).ok_or(DecodeError::Corrupt)?;
    let data = data.get(..needed).ok_or(DecodeError::Corrupt)?;
    // Per component, a table from the sample (its top 8 bits for 16-bit
    // depth) to a value in 0..=255 (for Indexed: the entry's grey).
    let levels = 1usize << bits.min(8);
    let max = (levels - 1) as f32;
    let tables: Vec<Vec<u8>> = (0..n)
        .map(|c| {
            let (d0, d1) = match &spec.decode {
                Some(d) if d.len() >= 2 * n => (d[2 * c], d[2 * c + 1]),
                _ => match &spec.space {
                    ColourSpace::Indexed { .. } => (0.0, max),
                    _ => (0.0, 1.0),
                },
            };
            (0..levels)
                .map(|v| {
                    let x = d0 + v as f32 * (d1 - d0) / max;
                    match &spec.space {
                        ColourSpace::Indexed { grey } => {
                            let i = (x.round().max(0.0) as usize).min(grey.len().saturating_sub(1));
                            grey.get(i).copied().unwrap_or(0)
                        }
                        _ => (x.clamp(0.0, 1.0) * 255.0).round() as u8,
                    }
                })
                .collect()
        })
        .collect();
    let sample = |line: &[u8], i: usize| -> usize {
        match bits {
            8 => usize::from(line[i]),
            16 => usize::from(line[2 * i]),
            b => {
                let bit = i * b;
                let byte = line[bit / 8];
                usize::from((byte >> (8 - b - bit % 8)) & ((1u8 << b) - 1))
            }
        }
    };
    let mut out = Vec::with_capacity(w * h);
    for line in data.chunks_exact(row) {
        for x in 0..w {
            let v = |c: usize| tables[c][sample(line, x * n + c)];
            out.push(match n {
                1 => v(0),
                3 => luma(v(0), v(1), v(2)),
                _ => cmyk_grey(v(0), v(1), v(2), v(3)),
            });
        }
    }
    GrayImage::from_raw(spec.width, spec.height, out).ok_or(DecodeError::Corrupt)
}

fn cmyk_grey(c: u8, m: u8, y: u8, k: u8) -> u8 {
    let ink = |v: u8| ((255 - v as u16) * (255 - k as u16) / 255) as u8;
    luma(ink(c), ink(m), ink(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(w: u32, h: u32, bits: u8, space: ColourSpace) -> ImageSpec {
        ImageSpec {
            width: w,
            height: h,
            bits,
            space,
            mask: false,
            filters: Vec::new(),
            params: Vec::new(),
            decode: None,
        }
    }

    #[test]
    fn bit_depths_decode_arrays_and_palettes() {
        // 1-bit, 10 wide: rows padded to 2 bytes.
        let s = spec(10, 1, 1, ColourSpace::Gray);
        let g = samples_to_grey(&[0b1010_0000, 0b0100_0000], &s).unwrap();
        assert_eq!(g.as_raw(), &[255, 0, 255, 0, 0, 0, 0, 0, 0, 255]);
        // The same with /Decode [1 0]: inverted.
        let mut inverted = s.clone();
        inverted.decode = Some(vec![1.0, 0.0]);
        let g = samples_to_grey(&[0b1010_0000, 0b0100_0000], &inverted).unwrap();
        assert_eq!(g.as_raw()[..3], [0, 255, 0]);
        // 4-bit grey.
        let g = samples_to_grey(&[0xF0], &spec(2, 1, 4, ColourSpace::Gray)).unwrap();
        assert_eq!(g.as_raw(), &[255, 0]);
        // 2-bit indexed into a 4-entry RGB palette.
        let palette = ColourSpace::Indexed {
            grey: vec![0, 76, 149, 255],
        };
        let g = samples_to_grey(&[0b00_01_10_11], &spec(4, 1, 2, palette)).unwrap();
        assert_eq!(g.as_raw(), &[0, 76, 149, 255]);
        // 16-bit grey and CMYK.
        let g = samples_to_grey(
            &[0xFF, 0x00, 0x80, 0x00],
            &spec(2, 1, 16, ColourSpace::Gray),
        );
        assert_eq!(g.unwrap().as_raw(), &[255, 128]);
        let g = samples_to_grey(
            &[0, 0, 0, 0, 0, 0, 0, 255],
            &spec(2, 1, 8, ColourSpace::Cmyk),
        );
        assert_eq!(g.unwrap().as_raw(), &[255, 0]);
        // Too few samples.
        assert_eq!(
            samples_to_grey(&[0; 3], &spec(2, 2, 8, ColourSpace::Gray)),
            Err(DecodeError::Corrupt)
        );
    }

    #[test]
    fn filter_chains() {
        let raw: Vec<u8> = (0..2000u32).map(|i| (i % 7) as u8).collect();
        // ASCIIHex of Flate.
        let mut s = Stream::new(Dictionary::new(), raw.clone());
        s.compress().unwrap();
        let hex: String = s.content.iter().map(|b| format!("{b:02x}")).collect();
        let chain = [b"ASCIIHexDecode".to_vec(), b"FlateDecode".to_vec()];
        let out = unfilter(format!("{hex}>").as_bytes(), &chain, &[], 4096).unwrap();
        assert_eq!(out, raw);
        // RunLength: a run of 3 x 7, then 2 literal bytes, then EOD.
        let out = unfilter(
            &[254, 7, 1, 1, 2, 128],
            &[b"RunLengthDecode".to_vec()],
            &[],
            64,
        );
        assert_eq!(out.unwrap(), vec![7, 7, 7, 1, 2]);
        // The cap holds.
        let zeros = Stream::new(Dictionary::new(), vec![0; 100_000]).compressed();
        let out = unfilter(&zeros.content, &[b"FlateDecode".to_vec()], &[], 1000);
        assert_eq!(out, Err(DecodeError::TooLarge));
    }

    trait Compressed {
        fn compressed(self) -> Self;
    }
    impl Compressed for Stream {
        fn compressed(mut self) -> Self {
            self.compress().unwrap();
            self
        }
    }
}
