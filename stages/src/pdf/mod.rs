//! PDF pages as a reader sees them: every page (up to `max_pdf_pages`), the
//! largest image each draws, decoded to grey and turned the way the page is
//! shown, with the resolution it is placed at.
//!
//! lopdf gives the structure. The content stream is walked with its
//! transformation matrix (`q`/`Q`/`cm`), into Form XObjects (their
//! `/Matrix` and `/Resources`) and inline images (`BI … ID … EI`; those
//! with a filter, which lopdf skips, are read as written). An image
//! is decoded here when its filters and colour space are ones we decode
//! ([`filters`]: ASCII85, ASCIIHex, LZW, RunLength, Flate with predictors,
//! DCT; grey, RGB, CMYK, ICCBased, Cal*, Indexed; 1 to 16 bits; Decode
//! arrays). Anything else (CCITT fax, JBIG2, JPEG 2000, Separation, …) is
//! drawn by a real PDF renderer ([`render`]: poppler's `pdftoppm`) at the
//! image's own resolution and cut to where the image lies, so that the
//! effective dpi stays the image's.
//!
//! Every size is checked before work is spent on it: pixel counts from the
//! image dictionary before a byte is inflated, the inflated length against
//! what the image needs, and a pixel budget over all pages together.
//! This runs in the sandbox child (`pipeline/runtime/sandbox.rs`).

pub mod filters;
pub mod render;

use crate::limits::check_pixels;
use crate::messages::finding;
use filters::{DecodeError, ImageSpec};
use image::GrayImage;
use intake_models::config::Limits;
use intake_models::{Finding, ReasonCode};
use lopdf::content::Content;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId, Stream};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Every examined page of a PDF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PdfPages {
    /// Pages in the file.
    pub page_count: u32,
    /// The pages looked at (the first `max_pdf_pages`), in order.
    pub pages: Vec<PdfPage>,
    /// The grey samples of every page image, one after the other in page
    /// order, rows top to bottom. Carried beside the header by the sandbox.
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// One page and what it draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PdfPage {
    /// 1-based page number.
    pub number: u32,
    pub content: PageContent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageContent {
    /// The page's largest image, upright as shown, `width * height` grey
    /// bytes in [`PdfPages::data`].
    Image {
        width: u32,
        height: u32,
        /// Pixels per inch of the image as placed on the page.
        placement_dpi: Option<f32>,
        /// `true` when the page renderer drew it (filters we do not decode).
        rendered: bool,
    },
    /// The page draws no image.
    NoImage,
    /// The page's image could not be read: the finding says why.
    Unreadable(ReasonCode),
    /// Not looked at: the pages before it used the pixel budget.
    Skipped,
}

/// A page's grey image and its placement dpi.
pub type PlacedImage = (GrayImage, Option<f32>);

impl PdfPages {
    /// The grey image of each page that has one, in page order.
    pub fn images(&self) -> Vec<(u32, Option<PlacedImage>)> {
        let mut at = 0usize;
        self.pages
            .iter()
            .map(|page| match page.content {
                PageContent::Image {
                    width,
                    height,
                    placement_dpi,
                    ..
                } => {
                    let len = width as usize * height as usize;
                    let image = self
                        .data
                        .get(at..at + len)
                        .and_then(|s| GrayImage::from_raw(width, height, s.to_vec()));
                    at += len;
                    (page.number, image.map(|i| (i, placement_dpi)))
                }
                _ => (page.number, None),
            })
            .collect()
    }

    /// Whether the data holds exactly the pixels the pages say.
    pub fn consistent(&self) -> bool {
        let needed: u64 = self
            .pages
            .iter()
            .map(|p| match p.content {
                PageContent::Image { width, height, .. } => u64::from(width) * u64::from(height),
                _ => 0,
            })
            .sum();
        needed == self.data.len() as u64
    }
}

/// Extracts every page's image from a PDF, every size checked before the
/// work. `Err` when no page yields an image: the first page's own problem
/// if it had one, else `pdf_no_image`.
pub fn extract_pdf(bytes: &[u8], limits: &Limits) -> Result<PdfPages, Finding> {
    let started = Instant::now();
    let corrupt = || finding(ReasonCode::FileCorrupt, None);
    let options = LoadOptions {
        max_decompressed_size: Some(limits.max_pdf_stream_bytes as usize),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(|_| corrupt())?;
    if doc.objects.len() as u64 > u64::from(limits.max_pdf_objects) {
        return Err(corrupt());
    }
    let all = doc.get_pages();
    let page_count = u32::try_from(all.len()).unwrap_or(u32::MAX);
    // Pixels of all pages together.
    let mut budget = limits.max_job_pixels;
    let mut out = PdfPages {
        page_count,
        pages: Vec::new(),
        data: Vec::new(),
    };
    let deadline = started + Duration::from_millis(limits.pdf_timeout_ms);
    for (number, page_id) in all.into_iter().take(limits.max_pdf_pages as usize) {
        if budget == 0 {
            out.pages.push(PdfPage {
                number,
                content: PageContent::Skipped,
            });
            continue;
        }
        let page = PageRef {
            doc: &doc,
            id: page_id,
            number,
            bytes,
        };
        let content = match page_image(&page, limits, budget, deadline) {
            Ok(Some(found)) => {
                let pixels = u64::from(found.image.width()) * u64::from(found.image.height());
                budget = budget.saturating_sub(pixels);
                let content = PageContent::Image {
                    width: found.image.width(),
                    height: found.image.height(),
                    placement_dpi: found.placement_dpi,
                    rendered: found.rendered,
                };
                out.data.extend_from_slice(found.image.as_raw());
                content
            }
            Ok(None) => PageContent::NoImage,
            Err(f) => PageContent::Unreadable(f.code),
        };
        out.pages.push(PdfPage { number, content });
    }
    if out
        .pages
        .iter()
        .any(|p| matches!(p.content, PageContent::Image { .. }))
    {
        return Ok(out);
    }
    let problem = out.pages.iter().find_map(|p| match p.content {
        PageContent::Unreadable(code) => Some(code),
        _ => None,
    });
    Err(finding(problem.unwrap_or(ReasonCode::PdfNoImage), None))
}

struct PageRef<'a> {
    doc: &'a Document,
    id: ObjectId,
    number: u32,
    bytes: &'a [u8],
}

/// A page's image, decoded, upright as shown.
struct Found {
    image: GrayImage,
    placement_dpi: Option<f32>,
    rendered: bool,
}

/// An affine map `[a b c d e f]`: (x, y) -> (a x + c y + e, b x + d y + f).
type Matrix = [f32; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `m` then `n`.
fn multiply(m: Matrix, n: Matrix) -> Matrix {
    [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]
}

/// An image the page draws, with the matrix it is drawn with.
struct Placed<'a> {
    stream: std::borrow::Cow<'a, Stream>,
    ctm: Matrix,
    /// The resources it was drawn with (for an inline image's named colour space).
    resources: Vec<&'a Dictionary>,
    inline: bool,
}

/// How far the content walk goes: nested forms and operators in all.
const MAX_FORM_DEPTH: usize = 12;
const MAX_OPERATIONS: usize = 2_000_000;

struct Walk<'a> {
    doc: &'a Document,
    limits: &'a Limits,
    placed: Vec<Placed<'a>>,
    operations: usize,
    forms: HashSet<ObjectId>,
}

impl<'a> Walk<'a> {
    fn content(&mut self, bytes: &[u8], resources: &[&'a Dictionary], ctm: Matrix, depth: usize) {
        let Ok(content) = Content::decode(bytes) else {
            return;
        };
        let mut ctm = ctm;
        let mut stack: Vec<Matrix> = Vec::new();
        // Inline images as written, for those lopdf skips (it parses only
        // unfiltered ones): the k-th `BI` operation is the k-th found here.
        let raw_inline = inline_images(bytes);
        let mut inline_index = 0usize;
        for op in content.operations {
            self.operations += 1;
            if self.operations > MAX_OPERATIONS {
                return;
            }
            match op.operator.as_str() {
                "q" if stack.len() < 256 => stack.push(ctm),
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
                "BI" => {
                    let raw = raw_inline.get(inline_index).cloned();
                    inline_index += 1;
                    let stream = match op.operands.into_iter().next() {
                        Some(Object::Stream(s)) => Some(s),
                        _ => raw,
                    };
                    if let Some(s) = stream {
                        self.placed.push(Placed {
                            stream: std::borrow::Cow::Owned(s),
                            ctm,
                            resources: resources.to_vec(),
                            inline: true,
                        });
                    }
                }
                "Do" => {
                    let Some(Ok(name)) = op.operands.first().map(Object::as_name) else {
                        continue;
                    };
                    let Some((id, stream)) = self.xobject(resources, name) else {
                        continue;
                    };
                    match stream.dict.get(b"Subtype").and_then(Object::as_name) {
                        Ok(b"Image") => self.placed.push(Placed {
                            stream: std::borrow::Cow::Borrowed(stream),
                            ctm,
                            resources: resources.to_vec(),
                            inline: false,
                        }),
                        Ok(b"Form") if depth < MAX_FORM_DEPTH => {
                            // A form drawing itself (directly or not) is drawn once.
                            if let Some(id) = id {
                                if !self.forms.insert(id) {
                                    continue;
                                }
                            }
                            let matrix = stream
                                .dict
                                .get(b"Matrix")
                                .and_then(Object::as_array)
                                .ok()
                                .map(|a| a.iter().filter_map(|o| o.as_float().ok()).collect())
                                .and_then(|v: Vec<f32>| <[f32; 6]>::try_from(v).ok())
                                .unwrap_or(IDENTITY);
                            let own = stream
                                .dict
                                .get(b"Resources")
                                .and_then(|o| self.doc.dereference(o))
                                .and_then(|(_, o)| o.as_dict())
                                .ok();
                            let inner: Vec<&'a Dictionary> = match own {
                                Some(d) => std::iter::once(d)
                                    .chain(resources.iter().copied())
                                    .collect(),
                                None => resources.to_vec(),
                            };
                            let Ok(body) = stream.decompressed_content_with_limit(
                                self.limits.max_pdf_stream_bytes as usize,
                            ) else {
                                continue;
                            };
                            self.content(&body, &inner, multiply(matrix, ctm), depth + 1);
                            if let Some(id) = id {
                                self.forms.remove(&id);
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }

    /// The XObject `name` in the first resource dictionary that has it.
    fn xobject(
        &self,
        resources: &[&'a Dictionary],
        name: &[u8],
    ) -> Option<(Option<ObjectId>, &'a Stream)> {
        resources.iter().find_map(|r| {
            let (_, x) = r
                .get(b"XObject")
                .and_then(|o| self.doc.dereference(o))
                .ok()?;
            let value = x.as_dict().ok()?.get(name).ok()?;
            match self.doc.dereference(value).ok()? {
                (id, Object::Stream(s)) => Some((id, s)),
                _ => None,
            }
        })
    }
}

/// The inline images of a content stream, in order: `BI`, the dictionary,
/// `ID` and one white-space byte, the data up to white space, `EI` and
/// white space (or the end). At most 64.
fn inline_images(content: &[u8]) -> Vec<Stream> {
    let white = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0c' | b'\0');
    let token = |at: usize, word: &[u8]| {
        content.get(at..at + word.len()) == Some(word)
            && (at == 0 || white(content[at - 1]))
            && content.get(at + word.len()).is_none_or(|&b| white(b))
    };
    let mut found = Vec::new();
    let mut at = 0;
    while at + 2 <= content.len() && found.len() < 64 {
        if !token(at, b"BI") {
            at += 1;
            continue;
        }
        let dict_start = at + 2;
        let Some(id) = (dict_start..content.len().saturating_sub(1)).find(|&i| token(i, b"ID"))
        else {
            break;
        };
        let data_start = (id + 3).min(content.len());
        let Some(ei) = (data_start..content.len().saturating_sub(1)).find(|&i| token(i, b"EI"))
        else {
            break;
        };
        let dict_text = [b"<<".as_slice(), &content[dict_start..id], b">> x"].concat();
        let dict = Content::decode(&dict_text).ok().and_then(|c| {
            match c
                .operations
                .into_iter()
                .next()?
                .operands
                .into_iter()
                .next()?
            {
                Object::Dictionary(d) => Some(d),
                _ => None,
            }
        });
        if let Some(dict) = dict {
            // The white space before `EI` is not data.
            let data_end = ei.saturating_sub(1).max(data_start);
            found.push(Stream::new(dict, content[data_start..data_end].to_vec()));
        }
        at = ei + 2;
    }
    found
}

/// A key of the page or, where the page lacks it, of its ancestors.
fn inherited<'a>(doc: &'a Document, page: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut dict = doc.get_dictionary(page).ok()?;
    for _ in 0..32 {
        if let Ok(value) = dict.get(key) {
            return doc.dereference(value).ok().map(|(_, o)| o);
        }
        let parent = dict.get(b"Parent").and_then(Object::as_reference).ok()?;
        dict = doc.get_dictionary(parent).ok()?;
    }
    None
}

/// The page's rectangle in points (`[llx lly urx ury]`), A4 when it has none.
fn media_box(doc: &Document, page: ObjectId) -> [f32; 4] {
    let values: Option<Vec<f32>> = inherited(doc, page, b"MediaBox")
        .and_then(|o| o.as_array().ok())
        .map(|a| a.iter().filter_map(|o| o.as_float().ok()).collect());
    match values.as_deref() {
        Some(&[x0, y0, x1, y1]) if (x1 - x0).abs() > 1.0 && (y1 - y0).abs() > 1.0 => {
            [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)]
        }
        _ => [0.0, 0.0, 595.0, 842.0],
    }
}

/// The page's `/Rotate`, clockwise, as 0, 90, 180 or 270.
fn rotation(doc: &Document, page: ObjectId) -> u16 {
    let degrees = inherited(doc, page, b"Rotate")
        .and_then(|o| o.as_i64().ok())
        .unwrap_or(0);
    degrees.rem_euclid(360) as u16 / 90 * 90
}

/// The largest image the page draws, decoded and turned as shown; `Ok(None)`
/// when it draws none.
fn page_image(
    page: &PageRef<'_>,
    limits: &Limits,
    budget: u64,
    deadline: Instant,
) -> Result<Option<Found>, Finding> {
    let doc = page.doc;
    let Ok(content) =
        doc.get_page_content_with_limit(page.id, limits.max_pdf_stream_bytes as usize)
    else {
        return Ok(None);
    };
    let Ok((own, inherited_ids)) = doc.get_page_resources(page.id) else {
        return Ok(None);
    };
    let resources: Vec<&Dictionary> = own
        .into_iter()
        .chain(
            inherited_ids
                .into_iter()
                .filter_map(|id| doc.get_dictionary(id).ok()),
        )
        .collect();
    let mut walk = Walk {
        doc,
        limits,
        placed: Vec::new(),
        operations: 0,
        forms: HashSet::new(),
    };
    walk.content(&content, &resources, IDENTITY, 0);

    // The largest image by its declared pixels; masks are not scans.
    let mut best: Option<(u64, ImageSpec, &Placed<'_>)> = None;
    let mut problem: Option<Finding> = None;
    for placed in &walk.placed {
        let spec = match ImageSpec::read(doc, &placed.stream.dict, &placed.resources, placed.inline)
        {
            Ok(spec) => spec,
            Err(e) => {
                problem.get_or_insert(e.finding());
                continue;
            }
        };
        if spec.mask {
            continue;
        }
        if let Err(f) = check_pixels(spec.width, spec.height, limits) {
            problem.get_or_insert(f);
            continue;
        }
        let area = u64::from(spec.width) * u64::from(spec.height);
        if best.as_ref().is_none_or(|(a, _, _)| area > *a) {
            best = Some((area, spec, placed));
        }
    }
    let Some((area, spec, placed)) = best else {
        return match problem {
            Some(p) => Err(p),
            None => Ok(None),
        };
    };
    if area > budget {
        return Err(finding(ReasonCode::ImageTooLarge, None));
    }
    let rotate = rotation(doc, page.id);
    let placement = Placement::new(placed.ctm, spec.width, spec.height);
    match filters::decode_image(&placed.stream.content, &spec, limits) {
        Ok(image) => {
            let image = placement.upright(image, rotate);
            Ok(Some(Found {
                image,
                placement_dpi: placement.dpi,
                rendered: false,
            }))
        }
        Err(DecodeError::Unsupported) => {
            // Drawn by the renderer at the image's own resolution.
            let dpi = placement
                .dpi
                .filter(|d| (10.0..=2400.0).contains(d))
                .ok_or_else(|| finding(ReasonCode::FileCorrupt, None))?;
            let area = render::Area::of_image(placed.ctm, media_box(doc, page.id), rotate, dpi);
            check_pixels(area.width, area.height, limits)?;
            let image = render::render(page.bytes, page.number, dpi, area, limits, deadline)?;
            Ok(Some(Found {
                image,
                placement_dpi: Some(dpi),
                rendered: true,
            }))
        }
        Err(e) => Err(e.finding()),
    }
}

/// Where an image lies: which way its rows and columns run on the page, and
/// its resolution there.
struct Placement {
    /// The image's column (x) axis and row (downward) axis on the page, in points.
    columns: (f32, f32),
    rows: (f32, f32),
    /// The lower of the two axes' pixels per inch.
    dpi: Option<f32>,
}

impl Placement {
    fn new(ctm: Matrix, width: u32, height: u32) -> Placement {
        // The unit square: x along the columns, y up the image (row 0 at y = 1).
        let columns = (ctm[0], ctm[1]);
        let rows = (-ctm[2], -ctm[3]);
        let length = |v: (f32, f32)| (v.0 * v.0 + v.1 * v.1).sqrt() / 72.0;
        let across = width as f32 / length(columns);
        let down = height as f32 / length(rows);
        let dpi = Some(across.min(down)).filter(|d| d.is_finite() && *d > 0.0);
        Placement { columns, rows, dpi }
    }

    /// The image turned (and mirrored) the way the page shows it, `/Rotate` included.
    fn upright(&self, image: GrayImage, rotate: u16) -> GrayImage {
        let shown = |v: (f32, f32)| -> (i32, i32) {
            // Page space has y up; the screen, y down; then /Rotate clockwise.
            let mut v = (v.0, -v.1);
            for _ in 0..rotate / 90 {
                v = (-v.1, v.0);
            }
            if v.0.abs() >= v.1.abs() {
                (v.0.signum() as i32, 0)
            } else {
                (0, v.1.signum() as i32)
            }
        };
        let (c, r) = (shown(self.columns), shown(self.rows));
        // Degenerate or sheared onto one axis: as stored.
        if c.0 * r.0 + c.1 * r.1 != 0 || c == (0, 0) || r == (0, 0) {
            return image;
        }
        orient(&image, c, r)
    }
}

/// `image` with its columns running along `c` and its rows along `r`
/// (unit axis vectors on the screen).
fn orient(image: &GrayImage, c: (i32, i32), r: (i32, i32)) -> GrayImage {
    let (w, h) = image.dimensions();
    if c == (1, 0) && r == (0, 1) {
        return image.clone();
    }
    let (ow, oh) = if c.0 != 0 { (w, h) } else { (h, w) };
    let (wi, hi) = (w as i64 - 1, h as i64 - 1);
    // Where source (x, y) lands, before shifting into the picture.
    let at = |x: i64, y: i64| {
        (
            x * i64::from(c.0) + y * i64::from(r.0),
            x * i64::from(c.1) + y * i64::from(r.1),
        )
    };
    let corners = [at(0, 0), at(wi, 0), at(0, hi), at(wi, hi)];
    let min_x = corners.iter().map(|p| p.0).min().unwrap_or(0);
    let min_y = corners.iter().map(|p| p.1).min().unwrap_or(0);
    let mut out = GrayImage::new(ow, oh);
    for (x, y, p) in image.enumerate_pixels() {
        let (tx, ty) = at(i64::from(x), i64::from(y));
        out.put_pixel((tx - min_x) as u32, (ty - min_y) as u32, *p);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use lopdf::dictionary;

    /// A one-page PDF (MediaBox `media`, `/Rotate rotate`) whose content is
    /// `content` and whose XObjects are `xobjects` (name, stream).
    pub(crate) fn one_page(
        content: &[u8],
        xobjects: Vec<(&str, Stream)>,
        media: [f32; 4],
        rotate: i64,
    ) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let mut names = Dictionary::new();
        for (name, stream) in xobjects {
            let id = doc.add_object(stream);
            names.set(name, id);
        }
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.to_vec()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => media.iter().map(|v| Object::Real(*v)).collect::<Vec<_>>(),
            "Rotate" => rotate,
            "Contents" => content_id,
            "Resources" => dictionary! { "XObject" => names },
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
            ),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    fn only_image(pdf: &[u8]) -> (GrayImage, Option<f32>) {
        let pages = extract_pdf(pdf, &Limits::default()).expect("an image");
        let mut images = pages.images();
        images.remove(0).1.expect("page 1 has an image")
    }

    #[test]
    fn an_inline_image_with_its_abbreviations() {
        // 4 x 2 grey samples, drawn 4/300 x 2/300 inch: 300 dpi.
        let mut content = b"q 0.96 0 0 0.48 10 10 cm BI /W 4 /H 2 /CS /G /BPC 8 ID ".to_vec();
        content.extend([0x00, 0x20, 0x40, 0x60, 0x80, 0xa0, 0xc0, 0xe0]);
        content.extend(b" EI Q");
        let pdf = one_page(&content, Vec::new(), [0.0, 0.0, 100.0, 100.0], 0);
        let (image, dpi) = only_image(&pdf);
        assert_eq!(
            image.as_raw(),
            &[0x00, 0x20, 0x40, 0x60, 0x80, 0xa0, 0xc0, 0xe0]
        );
        assert!((dpi.unwrap() - 300.0).abs() < 0.5);
    }

    #[test]
    fn a_filtered_inline_image() {
        // lopdf skips inline images with a filter; they are read as written.
        let content = b"q 0.96 0 0 0.48 10 10 cm BI /W 4 /H 2 /CS /G /BPC 8 /F [/AHx] ID 00204060 80a0c0e0> EI Q";
        let pdf = one_page(content, Vec::new(), [0.0, 0.0, 100.0, 100.0], 0);
        let (image, dpi) = only_image(&pdf);
        assert_eq!(
            image.as_raw(),
            &[0x00, 0x20, 0x40, 0x60, 0x80, 0xa0, 0xc0, 0xe0]
        );
        assert!((dpi.unwrap() - 300.0).abs() < 0.5);
    }

    #[test]
    fn an_image_inside_a_form_xobject_scaled_by_its_matrix() {
        let image = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => 3, "Height" => 2,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
            },
            vec![1, 2, 3, 4, 5, 6],
        );
        // The form draws the image on its unit square, its matrix scales it to
        // 3/150 x 2/150 inch; the page draws the form at half that: 300 dpi.
        let form_content = "q 1 0 0 1 0 0 cm /Im0 Do Q";
        let pdf = {
            let mut doc = Document::with_version("1.5");
            let pages_id = doc.new_object_id();
            let image_id = doc.add_object(image);
            let form = Stream::new(
                dictionary! {
                    "Type" => "XObject", "Subtype" => "Form",
                    "BBox" => vec![0.into(), 0.into(), 1.into(), 1.into()],
                    "Matrix" => vec![Object::Real(1.44), 0.into(), 0.into(), Object::Real(0.96), 0.into(), 0.into()],
                    "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
                },
                form_content.as_bytes().to_vec(),
            );
            let form_id = doc.add_object(form);
            let content_id = doc.add_object(Stream::new(
                dictionary! {},
                b"q 0.5 0 0 0.5 5 5 cm /Fm0 Do Q".to_vec(),
            ));
            let page_id = doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id,
                "MediaBox" => vec![0.into(), 0.into(), 20.into(), 20.into()],
                "Contents" => content_id,
                "Resources" => dictionary! { "XObject" => dictionary! { "Fm0" => form_id } },
            });
            doc.objects.insert(
                pages_id,
                Object::Dictionary(
                    dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
                ),
            );
            let catalog_id =
                doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
            doc.trailer.set("Root", catalog_id);
            let mut out = Vec::new();
            doc.save_to(&mut out).unwrap();
            out
        };
        let (image, dpi) = only_image(&pdf);
        assert_eq!(image.as_raw(), &[1, 2, 3, 4, 5, 6]);
        assert!((dpi.unwrap() - 300.0).abs() < 0.5, "{dpi:?}");
    }

    #[test]
    fn a_page_turned_by_rotate_is_shown_upright() {
        // The image stored as "a b c / d e f", the page shown turned clockwise.
        let image = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => 3, "Height" => 2,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
            },
            vec![1, 2, 3, 4, 5, 6],
        );
        let pdf = one_page(
            b"q 0.72 0 0 0.48 0 0 cm /Im0 Do Q",
            vec![("Im0", image)],
            [0.0, 0.0, 0.72, 0.48],
            90,
        );
        let (image, _) = only_image(&pdf);
        assert_eq!(image.dimensions(), (2, 3));
        assert_eq!(image.as_raw(), &[4, 1, 5, 2, 6, 3]);
    }

    #[test]
    fn orientation_from_the_matrix_and_rotate() {
        // 3 x 2: a b c / d e f.
        let img = GrayImage::from_raw(3, 2, vec![1, 2, 3, 4, 5, 6]).unwrap();
        // Upright placement.
        let p = Placement::new([72.0, 0.0, 0.0, 48.0, 0.0, 0.0], 3, 2);
        assert_eq!(p.upright(img.clone(), 0).as_raw(), &[1, 2, 3, 4, 5, 6]);
        assert!((p.dpi.unwrap() - 3.0).abs() < 1e-3);
        // /Rotate 90: shown turned clockwise: d a / e b / f c.
        let turned = p.upright(img.clone(), 90);
        assert_eq!(turned.dimensions(), (2, 3));
        assert_eq!(turned.as_raw(), &[4, 1, 5, 2, 6, 3]);
        // Drawn upside down by the matrix (180 degrees).
        let p = Placement::new([-72.0, 0.0, 0.0, -48.0, 72.0, 48.0], 3, 2);
        assert_eq!(p.upright(img.clone(), 0).as_raw(), &[6, 5, 4, 3, 2, 1]);
        // Drawn upside down and shown with /Rotate 180: upright.
        assert_eq!(p.upright(img, 180).as_raw(), &[1, 2, 3, 4, 5, 6]);
    }
}
