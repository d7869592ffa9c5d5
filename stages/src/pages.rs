//! Which page of a multi-page upload holds the declared document, and what
//! every other page holds.
//!
//! Each page with an image is searched for a machine-readable zone. For a
//! kind with an MRZ, the page checked is the first whose zone has the shape
//! the kind's documents have (else the first with any zone, so that a
//! wrong document is reported as such); for a kind without one, the first
//! page that is neither blank nor another MRZ document. Every other page is
//! summarised (another document, with its kind where its zone reads; a scan
//! with nothing recognised; blank; no image) and, when any page holds
//! nothing of the checked document, the report says so (`extra_pages`).

use crate::dates::Date;
use crate::decode::{Decoded, PageContent};
use crate::locate::{self, MrzLocation};
use crate::mrz;
use crate::ocr::glyphs::Glyphs;
use image::GrayImage;
use intake_models::{DocumentKind, MrzFormat, PageRole, PageSummary};

/// The page chosen, its MRZ if found, and what the pages hold.
#[derive(Debug, Clone)]
pub struct PageChoice {
    pub location: Option<MrzLocation>,
    /// One entry per page looked at, for a PDF; empty for an image file.
    pub summary: Vec<PageSummary>,
    /// Some page holds nothing of the checked document.
    pub extra_pages: bool,
}

/// Chooses the page of `decoded` to check (switching `decoded` to it) and
/// summarises the others. `reader` names the kind of another document's
/// page; `pdf` says whether pages are to be summarised at all.
pub fn choose(
    decoded: &mut Decoded,
    declared: Option<DocumentKind>,
    pdf: bool,
    reader: Option<&Glyphs>,
    today: Date,
) -> PageChoice {
    let first = locate::locate(&decoded.image);
    if !pdf {
        return PageChoice {
            location: first,
            summary: Vec::new(),
            extra_pages: false,
        };
    }
    let wants_mrz = declared.is_none_or(DocumentKind::has_mrz);
    // Every page with an image: its number, its zone, whether it is blank.
    let mut seen: Vec<(u32, Option<MrzLocation>, bool)> = vec![(
        decoded.page,
        first.clone(),
        first.is_none() && blank(&decoded.image),
    )];
    for page in &decoded.other_pages {
        if let Some(image) = &page.image {
            // A blank page has no zone to look for.
            let empty = blank(image);
            let location = if empty { None } else { locate::locate(image) };
            seen.push((page.number, location, empty));
        }
    }
    seen.sort_by_key(|(n, _, _)| *n);
    let fits = |l: &MrzLocation| declared.is_none_or(|k| shape_fits(k, l));
    let chosen = if wants_mrz {
        seen.iter()
            .find(|(_, l, _)| l.as_ref().is_some_and(fits))
            .or_else(|| seen.iter().find(|(_, l, _)| l.is_some()))
    } else {
        seen.iter().find(|(_, l, empty)| l.is_none() && !empty)
    }
    .map(|(n, _, _)| *n)
    .unwrap_or(decoded.page);
    if chosen != decoded.page {
        decoded.select(chosen);
    }
    let location = seen
        .iter()
        .find(|(n, _, _)| *n == chosen)
        .and_then(|(_, l, _)| l.clone());

    let mut summary = Vec::new();
    let mut extra_pages = false;
    let mut roles = vec![(decoded.page, PageRole::Document, None)];
    for page in &decoded.other_pages {
        let found = seen.iter().find(|(n, _, _)| *n == page.number);
        let (role, kind) = match (&page.content, found) {
            (_, Some((_, Some(l), _))) => {
                let kind = page
                    .image
                    .as_ref()
                    .and_then(|i| reader.and_then(|r| kind_of(r, i, l, today)));
                (PageRole::OtherDocument, kind)
            }
            (_, Some((_, None, true))) => (PageRole::Blank, None),
            (_, Some((_, None, false))) => (PageRole::Image, None),
            (PageContent::NoImage, None) => (PageRole::NoImage, None),
            (PageContent::Skipped, None) => (PageRole::NotExamined, None),
            (_, None) => (PageRole::Unreadable, None),
        };
        extra_pages = true;
        roles.push((page.number, role, kind));
    }
    roles.sort_by_key(|(n, _, _)| *n);
    for (page, content, kind) in roles {
        summary.push(PageSummary {
            page,
            content,
            kind,
        });
    }
    // Pages past the ones looked at.
    let looked = summary.len() as u32;
    if decoded.pages > looked {
        extra_pages = true;
        summary.push(PageSummary {
            page: looked + 1,
            content: PageRole::NotExamined,
            kind: None,
        });
    }
    PageChoice {
        location,
        summary,
        extra_pages,
    }
}

/// Whether a zone of this shape can be the declared kind's.
fn shape_fits(kind: DocumentKind, location: &MrzLocation) -> bool {
    let formats = location.formats();
    let any = |wanted: &[MrzFormat]| formats.iter().any(|f| wanted.contains(f));
    match kind {
        DocumentKind::Passport => any(&[MrzFormat::TD3]),
        DocumentKind::Visa => any(&[MrzFormat::MrvA, MrzFormat::MrvB]),
        DocumentKind::IdCard | DocumentKind::ResidencePermit => {
            any(&[MrzFormat::TD1, MrzFormat::TD2])
        }
        _ => true,
    }
}

/// The kind of the document whose zone is at `location`, read by the glyph
/// classifier (upright, then turned half round).
fn kind_of(
    reader: &Glyphs,
    image: &GrayImage,
    location: &MrzLocation,
    today: Date,
) -> Option<DocumentKind> {
    let turned = match location.rotation {
        0 => image.clone(),
        degrees => locate::turn(image, degrees),
    };
    let read = |image: &GrayImage, location: &MrzLocation| {
        let glyphs = reader.read_grid(image, location);
        mrz::parse(&glyphs.text.lines, today).ok()
    };
    let parsed = read(&turned, location).or_else(|| {
        let flipped = location.turned_180(turned.width(), turned.height());
        read(&locate::turn(&turned, 180), &flipped)
    })?;
    Some(mrz::document_kind(&parsed))
}

/// A page with (almost) no ink: under 0.1% of its pixels well darker than the paper.
pub fn blank(image: &GrayImage) -> bool {
    let pixels = image.as_raw();
    if pixels.is_empty() {
        return true;
    }
    // The paper: the median of a sample.
    let step = (pixels.len() / 4096).max(1);
    let mut sample: Vec<u8> = pixels.iter().step_by(step).copied().collect();
    sample.sort_unstable();
    let paper = sample[sample.len() / 2];
    let threshold = paper.saturating_sub(60);
    let ink = pixels.iter().filter(|&&p| p < threshold).count();
    ink * 1000 < pixels.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_pages() {
        let mut page = GrayImage::from_pixel(400, 500, image::Luma([240]));
        assert!(blank(&page));
        // Scanner specks are still blank.
        for i in 0..50 {
            page.put_pixel(i * 7, i * 9, image::Luma([20]));
        }
        assert!(blank(&page));
        // A line of text is not.
        for x in 50..350 {
            for y in 100..110 {
                page.put_pixel(x, y, image::Luma([30]));
            }
        }
        assert!(!blank(&page));
    }
}
