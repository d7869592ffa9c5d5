//! Effective dpi from the document's own physical size: where the scan shows
//! the document's edges (a card on the scanner's lid, a page's edges, a
//! form's printed frame), their distance in pixels over the size the
//! document's kind has (ID-1/ID-2/ID-3 of ISO/IEC 7810, the A-series, the
//! MRV-A visa) is the resolution.
//!
//! Edges are long straight lines: the scan is smoothed along each direction
//! and a step of a few grey levels across it, running without a break over
//! a fifth of the scan or more, is a side. Four sides that close a
//! rectangle, the largest whose proportions are a size the kind comes in,
//! give the measurement. Proportions that fit sizes of different scales
//! (ID-2, ID-3 and A-series pages are all about 1.41) decide nothing unless
//! the kind says which; a skewed scan, whose edges do not run along the
//! pixel grid, decides nothing.

use image::GrayImage;
use intake_models::DocumentKind;

/// A document size, long side by short side, in millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Size {
    pub name: &'static str,
    pub long_mm: f32,
    pub short_mm: f32,
}

pub const ID1: Size = Size {
    name: "ID-1",
    long_mm: 85.6,
    short_mm: 53.98,
};
pub const ID2: Size = Size {
    name: "ID-2",
    long_mm: 105.0,
    short_mm: 74.0,
};
pub const ID3: Size = Size {
    name: "ID-3",
    long_mm: 125.0,
    short_mm: 88.0,
};
pub const MRV_A: Size = Size {
    name: "MRV-A",
    long_mm: 120.0,
    short_mm: 80.0,
};
pub const A4: Size = Size {
    name: "A4",
    long_mm: 297.0,
    short_mm: 210.0,
};
pub const A5: Size = Size {
    name: "A5",
    long_mm: 210.0,
    short_mm: 148.0,
};
pub const A6: Size = Size {
    name: "A6",
    long_mm: 148.0,
    short_mm: 105.0,
};

/// The sizes a kind's documents come in; every size for an undeclared kind.
pub fn sizes(kind: Option<DocumentKind>) -> &'static [Size] {
    match kind {
        // A passport's data page (TD3).
        Some(DocumentKind::Passport) => &[ID3],
        Some(DocumentKind::IdCard) => &[ID1, ID2],
        Some(DocumentKind::Visa) => &[MRV_A, ID2],
        // A card (ID-1, ID-2) or a booklet page (A6): ID-2 and A6 look alike,
        // so only an ID-1 card decides.
        Some(DocumentKind::ResidencePermit) => &[ID1, ID2, A6],
        // The migration card form, A6.
        Some(DocumentKind::MigrationCard) => &[A6],
        Some(DocumentKind::AddressProof) => &[A4],
        // Booklets: a data page, or a passport page with the permit's stamp.
        Some(
            DocumentKind::NationalPassport
            | DocumentKind::TemporaryTravelDocument
            | DocumentKind::RefugeeCertificate
            | DocumentKind::TemporaryResidencePermit,
        ) => &[ID3],
        // The work permit is a plastic card.
        Some(DocumentKind::WorkPermit) => &[ID1],
        // The patent form and the notification's tear-off part, A5.
        Some(DocumentKind::WorkPatent | DocumentKind::StayRegistration) => &[A5],
        None => &[ID1, ID2, ID3, MRV_A, A4, A5, A6],
    }
}

/// Proportions within this of a size's are that size.
const RATIO_TOLERANCE: f32 = 0.025;
/// The two sides' resolutions must agree this closely.
const AXIS_AGREEMENT: f32 = 0.03;
/// A side runs over at least this share of the scan's shorter side.
const MIN_SIDE: f32 = 0.2;
/// Grey-level step across a side (after smoothing along it).
const STEP: i16 = 4;

/// The resolution the document's edges give, with the size they matched.
pub fn measure(image: &GrayImage, kind: Option<DocumentKind>) -> Option<(f32, Size)> {
    // Work on at most about 6 MP: a box-averaged copy.
    let pixels = u64::from(image.width()) * u64::from(image.height());
    let factor = ((pixels as f64 / 6.0e6).sqrt().ceil() as u32).max(1);
    let small;
    let g = if factor > 1 {
        small = shrink(image, factor);
        &small
    } else {
        image
    };
    let (w, h) = g.dimensions();
    if w < 50 || h < 50 {
        return None;
    }
    let min_side = (MIN_SIDE * w.min(h) as f32) as u32;
    let vertical = segments(g, true, min_side);
    let horizontal = segments(g, false, min_side);
    // The largest closed rectangle of a size's proportions; `None` inside
    // when its proportions fit sizes of different scales.
    let mut best: Option<(u64, Option<(f32, Size)>)> = None;
    for (i, l) in vertical.iter().enumerate() {
        for r in &vertical[i + 1..] {
            let (x0, x1) = (l.at.min(r.at), l.at.max(r.at));
            if x1 - x0 < min_side {
                continue;
            }
            for (j, t) in horizontal.iter().enumerate() {
                for b in &horizontal[j + 1..] {
                    let (y0, y1) = (t.at.min(b.at), t.at.max(b.at));
                    if y1 - y0 < min_side {
                        continue;
                    }
                    let area = u64::from(x1 - x0) * u64::from(y1 - y0);
                    if best.as_ref().is_some_and(|(a, _)| *a >= area) {
                        continue;
                    }
                    let closed = covers(&vertical, x0, y0, y1)
                        && covers(&vertical, x1, y0, y1)
                        && covers(&horizontal, y0, x0, x1)
                        && covers(&horizontal, y1, x0, x1);
                    if !closed {
                        continue;
                    }
                    match fit(x1 - x0, y1 - y0, kind) {
                        Fit::Size(dpi, size) => {
                            best = Some((area, Some((dpi * factor as f32, size))))
                        }
                        Fit::Ambiguous => best = Some((area, None)),
                        Fit::None => {}
                    }
                }
            }
        }
    }
    best.and_then(|(_, found)| found)
        .filter(|(dpi, _)| (50.0..=2400.0).contains(dpi))
}

enum Fit {
    Size(f32, Size),
    /// Sizes of different scales have these proportions.
    Ambiguous,
    None,
}

/// The resolution of a `w` x `h` pixel rectangle if its proportions are one
/// size of the kind's, or several of one scale.
fn fit(w: u32, h: u32, kind: Option<DocumentKind>) -> Fit {
    let (long, short) = (w.max(h) as f32, w.min(h) as f32);
    let ratio = long / short;
    let mut found: Option<(f32, Size)> = None;
    for size in sizes(kind) {
        let want = size.long_mm / size.short_mm;
        if (ratio / want - 1.0).abs() > RATIO_TOLERANCE {
            continue;
        }
        let along = long / (size.long_mm / 25.4);
        let across = short / (size.short_mm / 25.4);
        if (along / across - 1.0).abs() > AXIS_AGREEMENT {
            continue;
        }
        let dpi = (along + across) / 2.0;
        match found {
            // Two sizes of different scales fit: the edges do not say which.
            Some((other, _)) if (other / dpi - 1.0).abs() > AXIS_AGREEMENT => {
                return Fit::Ambiguous
            }
            Some(_) => {}
            None => found = Some((dpi, *size)),
        }
    }
    match found {
        Some((dpi, size)) => Fit::Size(dpi, size),
        None => Fit::None,
    }
}

/// A straight side: its position across (x for a vertical side) and the
/// ranges along it that it covers.
#[derive(Debug, Clone)]
struct Side {
    at: u32,
    runs: Vec<(u32, u32)>,
}

/// Whether sides near `at` cover most of `from..to`.
fn covers(sides: &[Side], at: u32, from: u32, to: u32) -> bool {
    let span = to.saturating_sub(from);
    if span == 0 {
        return false;
    }
    let mut covered = 0u32;
    for side in sides.iter().filter(|s| s.at.abs_diff(at) <= 3) {
        for &(a, b) in &side.runs {
            let (a, b) = (a.max(from), b.min(to));
            covered += b.saturating_sub(a);
        }
    }
    covered as f32 >= 0.8 * span as f32
}

/// Long straight steps: vertical ones (`true`) or horizontal ones, each at
/// least `min_len` long, those within 3 pixels of each other merged.
fn segments(g: &GrayImage, vertical: bool, min_len: u32) -> Vec<Side> {
    let (w, h) = g.dimensions();
    // Across and along the side.
    let (n_across, n_along) = if vertical { (w, h) } else { (h, w) };
    let px = |across: u32, along: u32| -> i16 {
        let (x, y) = if vertical {
            (across, along)
        } else {
            (along, across)
        };
        i16::from(g.get_pixel(x, y).0[0])
    };
    // Smoothed along the side (9 pixels), then the step across it (4 pixels):
    // the sign of each place's step, 0 where there is none.
    let smooth: Vec<Vec<i16>> = (0..n_across)
        .map(|a| {
            let line: Vec<i16> = (0..n_along).map(|l| px(a, l)).collect();
            let mut out = vec![0i16; line.len()];
            let mut sum: i32 = 0;
            for (i, v) in line.iter().enumerate() {
                sum += i32::from(*v);
                if i >= 9 {
                    sum -= i32::from(line[i - 9]);
                }
                out[i.saturating_sub(4)] = (sum / 9) as i16;
            }
            out
        })
        .collect();
    let step = |a: u32, l: u32| -> i8 {
        if a < 2 || a + 2 >= n_across {
            return 0;
        }
        let d = smooth[(a + 2) as usize][l as usize] - smooth[(a - 2) as usize][l as usize];
        if d >= STEP {
            1
        } else if d <= -STEP {
            -1
        } else {
            0
        }
    };
    let mut sides: Vec<Side> = Vec::new();
    for a in 0..n_across {
        for sign in [1i8, -1] {
            let mut start: Option<u32> = None;
            let mut gap = 0u32;
            let mut last = 0u32;
            for l in 4..n_along.saturating_sub(4) {
                let hit =
                    (a.saturating_sub(1)..=(a + 1).min(n_across - 1)).any(|b| step(b, l) == sign);
                if hit {
                    start.get_or_insert(l);
                    last = l;
                    gap = 0;
                } else if let Some(s) = start {
                    gap += 1;
                    if gap > 4 {
                        if last - s >= min_len {
                            add(&mut sides, a, (s, last));
                        }
                        start = None;
                    }
                }
            }
            if let Some(s) = start {
                if last - s >= min_len {
                    add(&mut sides, a, (s, last));
                }
            }
        }
    }
    // The longest first, at most 40.
    sides.sort_by_key(|s| std::cmp::Reverse(s.runs.iter().map(|(a, b)| b - a).sum::<u32>()));
    sides.truncate(40);
    sides.sort_by_key(|s| s.at);
    sides
}

fn add(sides: &mut Vec<Side>, at: u32, run: (u32, u32)) {
    match sides.iter_mut().find(|s| s.at.abs_diff(at) <= 3) {
        Some(side) => side.runs.push(run),
        None => sides.push(Side {
            at,
            runs: vec![run],
        }),
    }
}

/// `image` box-averaged by `factor` in each direction.
fn shrink(image: &GrayImage, factor: u32) -> GrayImage {
    let (w, h) = (image.width() / factor, image.height() / factor);
    GrayImage::from_fn(w.max(1), h.max(1), |x, y| {
        let mut sum = 0u32;
        for dy in 0..factor {
            for dx in 0..factor {
                let (sx, sy) = (x * factor + dx, y * factor + dy);
                sum += u32::from(
                    image
                        .get_pixel(sx.min(image.width() - 1), sy.min(image.height() - 1))
                        .0[0],
                );
            }
        }
        image::Luma([(sum / (factor * factor)) as u8])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `size` document at `dpi` with a faint edge (paper 238-245 on a 244-251 lid),
    /// text lines inside, on a lid `margin` pixels wider all round.
    fn scan(size: Size, dpi: f32, margin: u32, portrait: bool) -> GrayImage {
        let mm = |v: f32| (v * dpi / 25.4).round() as u32;
        let (mut dw, mut dh) = (mm(size.long_mm), mm(size.short_mm));
        if portrait {
            std::mem::swap(&mut dw, &mut dh);
        }
        GrayImage::from_fn(dw + 2 * margin, dh + 2 * margin, |x, y| {
            let inside = (margin..margin + dw).contains(&x) && (margin..margin + dh).contains(&y);
            let (u, v) = (x.wrapping_sub(margin), y.wrapping_sub(margin));
            let text = inside && v % 60 < 14 && u > dw / 10 && u < dw / 2 && (u / 7) % 3 != 0;
            // White noise of a few grey levels.
            let mut n = x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663);
            n ^= n >> 13;
            n = n.wrapping_mul(0x5bd1_e995);
            n ^= n >> 15;
            let noise = (n & 7) as u8;
            image::Luma([match (inside, text) {
                (true, true) => 40,
                (true, false) => 238 + noise,
                _ => 244 + noise,
            }])
        })
    }

    #[test]
    fn the_edges_of_a_card_give_its_resolution() {
        for (size, kind) in [
            (A6, DocumentKind::MigrationCard),
            (ID1, DocumentKind::IdCard),
            (ID3, DocumentKind::Passport),
        ] {
            for dpi in [150.0, 300.0] {
                let image = scan(size, dpi, 40, false);
                let (measured, found) = measure(&image, Some(kind)).expect("found");
                assert_eq!(found, size);
                assert!(
                    (measured / dpi - 1.0).abs() < 0.01,
                    "{} {dpi}: {measured}",
                    size.name
                );
            }
        }
        // Turned a quarter: the same.
        let (measured, _) = measure(
            &scan(A6, 300.0, 30, true),
            Some(DocumentKind::MigrationCard),
        )
        .unwrap();
        assert!((measured - 300.0).abs() < 3.0, "{measured}");
        // Undeclared: ID-1's proportions are its own; A6's are also ID-2's and A5's.
        assert!(measure(&scan(ID1, 300.0, 40, false), None).is_some());
        assert!(measure(&scan(A6, 300.0, 40, false), None).is_none());
    }

    #[test]
    fn no_edges_no_measurement() {
        // The document filling the scan, and a plain page.
        let image = scan(A6, 300.0, 0, false);
        assert!(measure(&image, Some(DocumentKind::MigrationCard)).is_none());
        let blank = GrayImage::from_pixel(1200, 900, image::Luma([250]));
        assert!(measure(&blank, None).is_none());
        // A rectangle of the wrong proportions.
        let wrong = scan(A6, 300.0, 40, false);
        let stretched = image::imageops::resize(
            &wrong,
            wrong.width(),
            wrong.height() * 3 / 4,
            image::imageops::FilterType::Triangle,
        );
        assert!(measure(&stretched, Some(DocumentKind::MigrationCard)).is_none());
    }
}
