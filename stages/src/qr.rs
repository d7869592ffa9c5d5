//! QR stage: a structured payload printed on the document, and whether it
//! agrees with what the document says elsewhere.
//!
//! rqrr (a quirc port) is slow on large images and on many candidate grids,
//! so it runs only where a cheap scan of rows sees finder patterns, on a
//! reduced copy first and on a sharper one only when that decodes nothing;
//! a handful of grids at most are decoded, each behind `catch_unwind` (rqrr
//! has panicked on odd codes).

use crate::cross_match::compare_field;
use crate::messages::finding;
use crate::raster;
use image::GrayImage;
use intake_models::{DocumentFields, Field, Finding, MatchResult, QrPayload, ReasonCode};

/// Long sides tried, smallest first.
const SCALES: [u32; 2] = [1200, 2400];
/// Grids decoded per scale at most.
const MAX_GRIDS: usize = 6;
/// Longest payload kept.
const MAX_TEXT: usize = 2048;

/// The first QR code that decodes, if any. A second, sharper look is taken
/// only when the first decoded nothing (the small modules of a code on an ID
/// card at 600 dpi vanish in the reduced copy); no look at all when the scan
/// shows no finder patterns (most documents carry no code, and rqrr's
/// preparation is the costlier part).
pub fn decode(image: &GrayImage) -> Option<QrPayload> {
    if finders(image) < MIN_FINDERS {
        return None;
    }
    let long = image.width().max(image.height());
    for side in SCALES {
        let scaled = if long > side {
            let f = side as f32 / long as f32;
            let (w, h) = (
                ((image.width() as f32 * f) as u32).max(1),
                ((image.height() as f32 * f) as u32).max(1),
            );
            raster::shrink(image, (0, 0, image.width(), image.height()), w, h)
        } else {
            image.clone()
        };
        if let Some(text) = decode_at(scaled) {
            return Some(parse_payload(&text));
        }
        if long <= side {
            break;
        }
    }
    None
}

/// Finder patterns seen before rqrr is asked: a code has three (one may be
/// damaged); a photo or a letter that passes for one is seldom two apart.
const MIN_FINDERS: usize = 2;
/// Scanned rows that must cross a finder for it to count: each is at least
/// seven modules tall, its centre three.
const MIN_CROSSINGS: usize = 2;
/// Every how many rows the pre-screen looks.
const ROW_STEP: usize = 3;
/// Pixels per stretch of a row whose darkest and lightest set its threshold.
const SEGMENT: usize = 64;
/// Least contrast (grey levels) in a stretch for it to hold ink.
const MIN_CONTRAST: u8 = 48;

/// How many scanned rows cross a dark-light-dark-light-dark run of widths
/// 1:1:3:1:1 whose middle's column is cut the same way: the two cuts through
/// a QR finder pattern (the test of ZXing and quirc), each run within half
/// its width. Text and photos give the horizontal cut now and then, hardly
/// ever both.
fn finder_crossings(image: &GrayImage) -> Vec<Crossing> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let pixels = image.as_raw();
    let mut crossings = Vec::new();
    let mut threshold = vec![0u16; w];
    for y in (0..h).step_by(ROW_STEP) {
        let row = &pixels[y * w..(y + 1) * w];
        let ranges: Vec<(u8, u8)> = row
            .chunks(SEGMENT)
            .map(|chunk| {
                chunk
                    .iter()
                    .fold((u8::MAX, u8::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)))
            })
            .collect();
        for (k, out) in threshold.chunks_mut(SEGMENT).enumerate() {
            // Darkest and lightest of the stretch and its two neighbours, so
            // that the inside of a module wider than a stretch is still ink.
            let near = &ranges[k.saturating_sub(1)..(k + 2).min(ranges.len())];
            let lo = near.iter().map(|r| r.0).min().unwrap_or(u8::MAX);
            let hi = near.iter().map(|r| r.1).max().unwrap_or(u8::MIN);
            // Flat all around: paper (or all ink), never a finder's edge.
            let t = if hi.saturating_sub(lo) >= MIN_CONTRAST {
                (u16::from(lo) + u16::from(hi)) / 2
            } else {
                0
            };
            out.fill(t);
        }
        let dark = |x: usize, y: usize| u16::from(pixels[y * w + x]) < threshold[x];
        let runs = run_lengths((0..w).map(|x| dark(x, y)));
        let mut start = 0;
        for r in runs.windows(5) {
            let at = start;
            start += r[0].1;
            let widths = [r[0].1, r[1].1, r[2].1, r[3].1, r[4].1];
            if !(r[0].0 && is_finder_cut(widths)) {
                continue;
            }
            // Down the middle of the centre run: the same cut, vertically.
            let cx = at + r[0].1 + r[1].1 + r[2].1 / 2;
            let reach = 4 * (r[0].1 + r[1].1 + r[2].1);
            let (top, bottom) = (y.saturating_sub(reach), (y + reach).min(h - 1));
            let up = run_lengths((top..=y).rev().map(|yy| dark(cx, yy)));
            let down = run_lengths((y..=bottom).map(|yy| dark(cx, yy)));
            let vertical = match (up.as_slice(), down.as_slice()) {
                (
                    [(true, u0), (false, u1), (true, u2), ..],
                    [(true, d0), (false, d1), (true, d2), ..],
                ) => is_finder_cut([*u2, *u1, u0 + d0 - 1, *d1, *d2]),
                _ => false,
            };
            if vertical {
                let size = widths.iter().sum();
                crossings.push(Crossing { x: cx, y, size });
            }
        }
    }
    crossings
}

/// Where a scanned row crossed a finder pattern, and the pattern's width.
#[derive(Debug, Clone, Copy)]
struct Crossing {
    x: usize,
    y: usize,
    size: usize,
}

/// The finder patterns the crossings belong to (crossings within a
/// pattern's width of each other are one), each crossed by
/// [`MIN_CROSSINGS`] rows at least.
fn finders(image: &GrayImage) -> usize {
    let mut found: Vec<(Crossing, usize)> = Vec::new();
    for c in finder_crossings(image) {
        let same = found
            .iter_mut()
            .find(|(f, _)| f.x.abs_diff(c.x) <= f.size && f.y.abs_diff(c.y) <= f.size);
        match same {
            Some((_, rows)) => *rows += 1,
            None => found.push((c, 1)),
        }
    }
    found
        .iter()
        .filter(|(_, rows)| *rows >= MIN_CROSSINGS)
        .count()
}

/// (colour, length) of each run of equal values.
fn run_lengths(values: impl Iterator<Item = bool>) -> Vec<(bool, usize)> {
    let mut runs: Vec<(bool, usize)> = Vec::new();
    for v in values {
        match runs.last_mut() {
            Some((colour, n)) if *colour == v => *n += 1,
            _ => runs.push((v, 1)),
        }
    }
    runs
}

/// Run widths in the ratio 1:1:3:1:1, each within half its own width.
fn is_finder_cut(runs: [usize; 5]) -> bool {
    let total: usize = runs.iter().sum();
    if total < 7 {
        return false;
    }
    let module = total as f32 / 7.0;
    let near =
        |n: usize, modules: f32| (n as f32 - modules * module).abs() <= modules * module / 2.0;
    near(runs[0], 1.0)
        && near(runs[1], 1.0)
        && near(runs[2], 3.0)
        && near(runs[3], 1.0)
        && near(runs[4], 1.0)
}

/// The text of the first of rqrr's grids that decodes.
fn decode_at(image: GrayImage) -> Option<String> {
    std::panic::catch_unwind(move || {
        let mut prepared = rqrr::PreparedImage::prepare(image);
        prepared
            .detect_grids()
            .into_iter()
            .take(MAX_GRIDS)
            .find_map(|grid| grid.decode().ok().map(|(_, text)| text))
    })
    .ok()
    .flatten()
}

/// Reads `INTAKE1|kind=…|number=…|surname=…|given_names=…|birth_date=…|
/// expiry_date=…|nationality=…|sex=…`. Unknown keys are ignored; the text is
/// length-limited and stripped of control characters before it goes anywhere.
pub fn parse_payload(text: &str) -> QrPayload {
    let text: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect();
    let mut fields = DocumentFields::default();
    let mut parts = text.split('|');
    if parts.next() == Some("INTAKE1") {
        for part in parts {
            let Some((key, value)) = part.split_once('=') else {
                continue;
            };
            let field = match key.trim() {
                "number" => Field::DocumentNumber,
                "surname" => Field::Surname,
                "given_names" => Field::GivenNames,
                "birth_date" => Field::BirthDate,
                "expiry_date" => Field::ExpiryDate,
                "nationality" => Field::Nationality,
                "sex" => Field::Sex,
                _ => continue,
            };
            let value = value.trim();
            if !value.is_empty() {
                fields.set(field, Some(value.chars().take(128).collect()));
            }
        }
    }
    QrPayload { text, fields }
}

/// `qr_mismatch` when the QR and the document disagree on a field both
/// carry, by the cross-match rules (so spellings and formats that are
/// equivalent agree). `names_truncated`: the document's names may be cut.
pub fn check_against(
    qr: &QrPayload,
    document: &DocumentFields,
    names_truncated: bool,
) -> Option<Finding> {
    Field::ALL.into_iter().find_map(|field| {
        let (q, d) = (qr.fields.get(field)?, document.get(field)?);
        let (result, _) = compare_field(field, q, d, names_truncated);
        (result == MatchResult::Mismatch).then(|| finding(ReasonCode::QrMismatch, Some(field)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{imageops, Luma};

    const PAYLOAD: &str = "INTAKE1|kind=migration_card|number=46191234567|surname=TURSUNOV|\
                           given_names=ALISHER|birth_date=1990-01-31|expiry_date=2026-09-01|nationality=UZB|sex=M";

    /// A 300-dpi page (148 x 105 mm) with a 25 mm QR code, some noise.
    fn page_with_code(text: &str) -> GrayImage {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let modules = code.to_colors();
        let width = code.width();
        let module_px = (25.0 / 25.4 * 300.0 / width as f32) as u32;
        let mut page = GrayImage::from_fn(1748, 1240, |x, y| {
            Luma([235 - ((x * 7 + y * 13) % 17) as u8])
        });
        let (x0, y0) = (1300, 700);
        for (i, color) in modules.iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let (mx, my) = ((i % width) as u32, (i / width) as u32);
                for dy in 0..module_px {
                    for dx in 0..module_px {
                        page.put_pixel(
                            x0 + mx * module_px + dx,
                            y0 + my * module_px + dy,
                            Luma([25]),
                        );
                    }
                }
            }
        }
        page
    }

    #[test]
    fn decodes_and_parses_a_printed_code() {
        let page = page_with_code(PAYLOAD);
        let qr = decode(&page).expect("decoded");
        assert_eq!(qr.fields.surname.as_deref(), Some("TURSUNOV"));
        assert_eq!(qr.fields.document_number.as_deref(), Some("46191234567"));
        // Turned a quarter: still found.
        assert!(decode(&imageops::rotate90(&page)).is_some());
        assert!(decode(&GrayImage::from_pixel(400, 300, Luma([255]))).is_none());
    }

    #[test]
    fn pages_without_a_code_are_not_searched() {
        let code = page_with_code(PAYLOAD);
        assert!(finders(&code) >= 3, "{}", finders(&code));
        let mut plain = code.clone();
        for y in 650..1240 {
            for x in 1250..1748 {
                plain.put_pixel(x, y, Luma([235]));
            }
        }
        assert!(finder_crossings(&plain).is_empty());
        assert_eq!(decode(&plain), None);
        assert!(is_finder_cut([4, 4, 12, 4, 4]));
        assert!(is_finder_cut([3, 5, 11, 4, 5]));
        assert!(!is_finder_cut([4, 4, 4, 4, 4]));
        assert!(!is_finder_cut([8, 2, 6, 2, 8]));
    }

    #[test]
    fn finders_wider_than_a_threshold_stretch_are_seen() {
        // One finder pattern of 45-pixel modules: its centre (three modules)
        // holds a whole 64-pixel stretch of flat ink, which must stay ink.
        let module = 45;
        let mut page = GrayImage::from_pixel(900, 900, Luma([235]));
        for y in 0..7 * module {
            for x in 0..7 * module {
                let ring = (x / module)
                    .min(y / module)
                    .min(6 - x / module)
                    .min(6 - y / module);
                if ring != 1 {
                    page.put_pixel(200 + x, 200 + y, Luma([25]));
                }
            }
        }
        assert_eq!(finders(&page), 1);
    }

    #[test]
    fn disagreement_is_a_finding() {
        let qr = parse_payload(PAYLOAD);
        let mut doc = qr.fields.clone();
        assert!(check_against(&qr, &doc, false).is_none());
        doc.birth_date = Some("1990-01-30".into());
        let f = check_against(&qr, &doc, false).unwrap();
        assert_eq!(
            (f.code, f.field),
            (ReasonCode::QrMismatch, Some(Field::BirthDate))
        );
    }

    #[test]
    fn payloads_are_bounded_and_foreign_ones_ignored() {
        let long = format!("INTAKE1|surname={}\u{7}", "A".repeat(10_000));
        let qr = parse_payload(&long);
        assert!(qr.text.len() <= MAX_TEXT);
        assert_eq!(qr.fields.surname.map(|s| s.len()), Some(128));
        assert_eq!(
            parse_payload("ST00012|Name=x").fields,
            DocumentFields::default()
        );
    }
}
