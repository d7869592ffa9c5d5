//! Locate stage: find the machine-readable zone and its character grid.
//!
//! The MRZ is printed in OCR-B at a fixed pitch of 2.54 mm (ICAO 9303 Part 3
//! §4.4), 30, 36 or 44 characters per line, in 2 or 3 parallel lines. So
//! instead of looking for "a dark band" we look for what only an MRZ has:
//! rows of character-sized blobs at one regular pitch, left-aligned, of one
//! of those lengths. That gives the grid (every character cell), the scan's
//! real resolution (pitch in pixels x 10 = dots per inch), the skew, and the
//! orientation (rows run across at 0/180 degrees, down at 90/270).
//!
//! Blobs come from an adaptive threshold (robust to uneven light), labelled
//! with imageproc's connected components, on a copy scaled so its long side
//! is at most [`WORK_SIDE`] pixels. Rows of blobs replace the usual
//! morphological band search (PassportEye's): a band says where the MRZ is,
//! rows also say where every character is.

use crate::raster;
use image::imageops;
use image::GrayImage;
use intake_models::MrzFormat;

/// Long side of the working copy used for detection.
const WORK_SIDE: u32 = 1700;
/// Fewest linked blobs for a row to count as an MRZ line candidate.
const MIN_ROW_BLOBS: usize = 18;

/// One MRZ text line as a row of character cells, in full-resolution
/// coordinates of the (turned) image.
#[derive(Debug, Clone, PartialEq)]
pub struct GridLine {
    /// Centre of the first character cell.
    pub origin: (f32, f32),
    /// Unit vector along the line.
    pub direction: (f32, f32),
    /// Distance between neighbouring cell centres, in pixels: the mean
    /// over the line, (last centre - first) / (cells - 1).
    pub pitch: f32,
    /// Perspective: cell `i` sits `i * pitch + bend * (i * i - i * (cells - 1))`
    /// pixels along the line from the origin (0 for a flat scan). The ends
    /// stay where `pitch` puts them; reversing the line negates `bend`.
    pub bend: f32,
    /// Height of a capital letter, in pixels.
    pub char_height: f32,
    /// Number of cells (30, 36 or 44).
    pub cells: usize,
}

impl GridLine {
    /// Distance along the line from the origin to the centre of (fractional) cell `k`.
    pub fn along(&self, k: f32) -> f32 {
        k * self.pitch + self.bend * (k * k - k * (self.cells as f32 - 1.0))
    }

    /// Centre of cell `i`.
    pub fn cell_center(&self, i: usize) -> (f32, f32) {
        let t = self.along(i as f32);
        (
            self.origin.0 + t * self.direction.0,
            self.origin.1 + t * self.direction.1,
        )
    }
}

/// Where the MRZ is.
#[derive(Debug, Clone, PartialEq)]
pub struct MrzLocation {
    /// Clockwise quarter turns (0, 90, 180 or 270 degrees) applied to the
    /// scan before the lines below run left to right; 0/180 and 90/270 are
    /// told apart only by reading (see [`MrzLocation::turned_180`]).
    pub rotation: u16,
    /// The lines, top to bottom.
    pub lines: Vec<GridLine>,
    /// Layouts the grid fits: TD3/MRV-A (2x44), TD2/MRV-B (2x36), TD1 (3x30).
    pub shape: (usize, usize),
}

impl MrzLocation {
    /// Character pitch in pixels (the mean over lines).
    pub fn pitch(&self) -> f32 {
        self.lines.iter().map(|l| l.pitch).sum::<f32>() / self.lines.len().max(1) as f32
    }

    /// Effective resolution in dots per inch: one pitch is 2.54 mm = 0.1 inch.
    pub fn effective_dpi(&self) -> f32 {
        self.pitch() * 10.0
    }

    /// The formats whose shape this grid has.
    pub fn formats(&self) -> &'static [MrzFormat] {
        match self.shape {
            (3, 30) => &[MrzFormat::TD1],
            (2, 36) => &[MrzFormat::TD2, MrzFormat::MrvB],
            _ => &[MrzFormat::TD3, MrzFormat::MrvA],
        }
    }

    /// Every line running left to right (origin at its left end), which is
    /// how the reader samples it; upside-down text is then read at +180.
    fn left_to_right(mut self) -> MrzLocation {
        for line in &mut self.lines {
            if line.direction.0 < 0.0 {
                line.origin = line.cell_center(line.cells - 1);
                line.direction = (-line.direction.0, -line.direction.1);
                line.bend = -line.bend;
            }
        }
        self.lines.sort_by(|a, b| a.origin.1.total_cmp(&b.origin.1));
        self
    }

    /// The same grid moved `by` cells along its lines (all of them): where
    /// a fragment of security print was taken for the first glyph and the
    /// last was lost in print, the grid is one cell off and reads as nothing.
    pub fn shifted(&self, by: i32) -> MrzLocation {
        let lines = self
            .lines
            .iter()
            .map(|l| GridLine {
                origin: {
                    let t = l.along(by as f32);
                    (
                        l.origin.0 + t * l.direction.0,
                        l.origin.1 + t * l.direction.1,
                    )
                },
                // The window's mean pitch; the bend is the same parabola's.
                pitch: l.pitch + 2.0 * by as f32 * l.bend,
                ..l.clone()
            })
            .collect();
        MrzLocation {
            lines,
            ..self.clone()
        }
    }

    /// The same grid after turning the image (of size `width` x `height`) by 180 degrees.
    pub fn turned_180(&self, width: u32, height: u32) -> MrzLocation {
        let (w, h) = (width as f32 - 1.0, height as f32 - 1.0);
        let lines = self
            .lines
            .iter()
            .rev()
            .map(|l| {
                let (ex, ey) = l.cell_center(l.cells - 1);
                GridLine {
                    origin: (w - ex, h - ey),
                    bend: -l.bend,
                    ..l.clone()
                }
            })
            .collect();
        MrzLocation {
            rotation: (self.rotation + 180) % 360,
            lines,
            shape: self.shape,
        }
    }
}

/// Turns `image` clockwise by `degrees` (a multiple of 90).
pub fn turn(image: &GrayImage, degrees: u16) -> GrayImage {
    match degrees % 360 {
        90 => imageops::rotate90(image),
        180 => imageops::rotate180(image),
        270 => imageops::rotate270(image),
        _ => image.clone(),
    }
}

/// Finds the MRZ grid, trying the scan as it is and turned by 90 degrees.
/// The location's `rotation` says which turn (0 or 90) found it; the caller
/// turns the image the same way before reading.
///
/// Hairlines (guilloche, fine security print) that cross the MRZ join its
/// glyphs into blobs no glyph is like. Opening the ink mask removes lines
/// thinner than a stroke, and with them the thinnest strokes of a
/// low-resolution scan: so it is the second look, where the first finds nothing.
///
/// A TD1 whose third line is too faint to be seen is taken from its other
/// two only when no grid is found otherwise: two rows of 30 cells are also
/// what a 36- or 44-cell line broken by security print leaves.
pub fn locate(image: &GrayImage) -> Option<MrzLocation> {
    let plain = Blobs::find(image, Ink::AsThresholded);
    let mut opened = None;
    for faint_td1 in [false, true] {
        if let Some(found) = plain.as_ref().and_then(|b| locate_in(image, b, faint_td1)) {
            return Some(found);
        }
        let opened = opened.get_or_insert_with(|| Blobs::find(image, Ink::WithoutHairlines));
        if let Some(found) = opened.as_ref().and_then(|b| locate_in(image, b, faint_td1)) {
            return Some(found);
        }
    }
    None
}

/// Whether the text of a page without an MRZ runs across (0) or down (90
/// degrees): where more character-sized blobs link to a neighbour on their
/// baseline. `None` when the page shows too few characters to tell. Told
/// before any OCR, so that the visual-zone reader need not try four turns.
pub fn text_direction(image: &GrayImage) -> Option<u16> {
    let blobs = Blobs::find(image, Ink::AsThresholded)?;
    let linked = |columns: bool| {
        links(&blobs.along(columns))
            .next
            .iter()
            .filter(|n| n.is_some())
            .count()
    };
    let (across, down) = (linked(false), linked(true));
    // Undecided (a photo, noise, a table) unless one way clearly wins.
    if across.max(down) < MIN_ROW_BLOBS || 2 * across.max(down) < 3 * across.min(down) {
        return None;
    }
    Some(if across > down { 0 } else { 90 })
}

fn locate_in(image: &GrayImage, blobs: &Blobs, faint_td1: bool) -> Option<MrzLocation> {
    if let Some(found) = blobs.grid(false, faint_td1) {
        return Some(found.left_to_right());
    }
    let found = blobs.grid(true, faint_td1).map(|mut found| {
        // Found in columns: turning the image 90 degrees clockwise makes them rows.
        found.lines = found
            .lines
            .into_iter()
            .map(|l| {
                let (x, y) = l.origin;
                GridLine {
                    origin: (image.height() as f32 - 1.0 - y, x),
                    direction: (-l.direction.1, l.direction.0),
                    ..l
                }
            })
            .collect();
        found.rotation = 90;
        found
    })?;
    Some(found.left_to_right())
}

/// Dark ink on a lighter, possibly unevenly lit, background: 255 where a
/// pixel is darker than the mean of its 25 x 25 neighbourhood by more than 12
/// (imageproc's `adaptive_threshold(image, 12, 12)`, inverted, over raw rows).
fn ink_mask(image: &GrayImage) -> GrayImage {
    const RADIUS: usize = 12;
    const DELTA: u32 = 12;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    // Summed-area table with a zero first row and column.
    let stride = w + 1;
    let mut sums = vec![0u32; stride * (h + 1)];
    for (y, line) in raw.chunks_exact(w).enumerate() {
        let (above, below) = sums.split_at_mut((y + 1) * stride);
        let (above, below) = (&above[y * stride + 1..], &mut below[1..stride]);
        let mut row_sum = 0u32;
        for ((sum, &up), &v) in below.iter_mut().zip(above).zip(line) {
            row_sum += u32::from(v);
            *sum = up + row_sum;
        }
    }
    // Each column's window [left, right); the mean's division is avoided:
    // v < floor(total / n) - DELTA  <=>  (v + DELTA + 1) * n <= total.
    let columns: Vec<(usize, usize)> = (0..w)
        .map(|x| (x.saturating_sub(RADIUS), (x + RADIUS).min(w - 1) + 1))
        .collect();
    let mut mask = vec![0u8; w * h];
    for (y, (line, out)) in raw
        .chunks_exact(w)
        .zip(mask.chunks_exact_mut(w))
        .enumerate()
    {
        let (top, bottom) = (y.saturating_sub(RADIUS), (y + RADIUS).min(h - 1) + 1);
        let above = &sums[top * stride..(top + 1) * stride];
        let below = &sums[bottom * stride..(bottom + 1) * stride];
        let rows = (bottom - top) as u32;
        for ((&v, ink), &(left, right)) in line.iter().zip(out.iter_mut()).zip(&columns) {
            let total = below[right] + above[left] - below[left] - above[right];
            let n = rows * (right - left) as u32;
            if (u32::from(v) + DELTA + 1) * n <= total {
                *ink = 255;
            }
        }
    }
    GrayImage::from_raw(w as u32, h as u32, mask).unwrap_or_else(|| GrayImage::new(0, 0))
}

/// The bounding boxes `(x0, y0, x1, y1)` (inclusive) of the 8-connected
/// components of a mask's non-zero pixels, in the raster order of their
/// first pixel. Labelled by runs, not pixels: ink is a few percent of a page.
fn components(mask: &GrayImage) -> Vec<(u32, u32, u32, u32)> {
    let w = mask.width() as usize;
    // Runs [x0, x1) per row, numbered in raster order.
    let mut runs: Vec<(u32, u32, u32)> = Vec::new();
    let mut row_starts = Vec::with_capacity(mask.height() as usize + 1);
    for (y, row) in mask.as_raw().chunks_exact(w.max(1)).enumerate() {
        row_starts.push(runs.len());
        let mut x = 0;
        while x < w {
            if row[x] == 0 {
                x += 1;
                continue;
            }
            let start = x;
            while x < w && row[x] != 0 {
                x += 1;
            }
            runs.push((y as u32, start as u32, x as u32));
        }
    }
    row_starts.push(runs.len());
    let mut parent: Vec<usize> = (0..runs.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for row in 1..row_starts.len().saturating_sub(1) {
        let (previous, current) = (
            row_starts[row - 1]..row_starts[row],
            row_starts[row]..row_starts[row + 1],
        );
        let mut p = previous.start;
        for c in current {
            let (_, x0, x1) = runs[c];
            // Skip runs of the row above that end before this one's
            // diagonal neighbour; they cannot touch later runs either.
            while p < previous.end && runs[p].2 < x0 {
                p += 1;
            }
            let mut q = p;
            while q < previous.end && runs[q].1 <= x1 {
                let (a, b) = (root(&mut parent, c), root(&mut parent, q));
                // The smaller index (earlier in raster order) stays the root.
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
                q += 1;
            }
        }
    }
    let mut boxes: Vec<Option<(u32, u32, u32, u32)>> = vec![None; runs.len()];
    for (i, &(y, x0, x1)) in runs.iter().enumerate() {
        let r = root(&mut parent, i);
        let b = boxes[r].get_or_insert((x0, y, x1 - 1, y));
        *b = (b.0.min(x0), b.1.min(y), b.2.max(x1 - 1), b.3.max(y));
    }
    boxes.into_iter().flatten().collect()
}

/// Which ink mask the blobs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ink {
    AsThresholded,
    /// Opened by one pixel: lines one or two pixels wide are gone.
    WithoutHairlines,
}

#[derive(Debug, Clone, Copy)]
struct Blob {
    cx: f32,
    cy: f32,
    w: f32,
    h: f32,
}

struct Blobs {
    blobs: Vec<Blob>,
    /// Full-resolution pixels per working pixel.
    scale: f32,
}

impl Blobs {
    fn find(image: &GrayImage, mask: Ink) -> Option<Blobs> {
        let (w, h) = image.dimensions();
        if w < 40 || h < 40 {
            return None;
        }
        let long = w.max(h);
        let shrunk;
        let (work, scale) = if long > WORK_SIDE {
            let f = WORK_SIDE as f32 / long as f32;
            let (nw, nh) = (
                ((w as f32 * f) as u32).max(1),
                ((h as f32 * f) as u32).max(1),
            );
            shrunk = raster::shrink(image, (0, 0, w, h), nw, nh);
            (&shrunk, 1.0 / f)
        } else {
            (image, 1.0)
        };
        let mut ink = ink_mask(work);
        if mask == Ink::WithoutHairlines {
            imageproc::morphology::open_mut(&mut ink, imageproc::distance_transform::Norm::LInf, 1);
        }
        let blobs: Vec<Blob> = components(&ink)
            .into_iter()
            .map(|(x0, y0, x1, y1)| Blob {
                cx: (x0 + x1) as f32 / 2.0,
                cy: (y0 + y1) as f32 / 2.0,
                w: (x1 - x0 + 1) as f32,
                h: (y1 - y0 + 1) as f32,
            })
            // Character-sized: MRZ glyphs are 4..60 working pixels tall.
            .filter(|b| (4.0..=60.0).contains(&b.h.max(b.w)) && b.h.max(b.w) >= 5.0)
            .collect();
        if blobs.is_empty() {
            return None;
        }
        Some(Blobs { blobs, scale })
    }

    /// The blobs, with x and y swapped when `columns` is set (so that what
    /// runs down the page runs across).
    fn along(&self, columns: bool) -> Vec<Blob> {
        self.blobs
            .iter()
            .map(|b| match columns {
                true => Blob {
                    cx: b.cy,
                    cy: b.cx,
                    w: b.h,
                    h: b.w,
                },
                false => *b,
            })
            .collect()
    }

    /// Looks for the grid in rows (`columns == false`) or in columns, where
    /// x and y trade places so the same row logic applies.
    fn grid(&self, columns: bool, faint_td1: bool) -> Option<MrzLocation> {
        let blobs = self.along(columns);
        let mut by_height = blobs.clone();
        by_height.sort_by(|a, b| a.cy.total_cmp(&b.cy));
        let rows: Vec<Row> = rows(&blobs)
            .into_iter()
            .filter_map(|chain| Row::fit(&chain, &by_height))
            .collect();
        let mut best: Option<(usize, MrzLocation)> = None;
        for group in line_groups(&rows) {
            // Only blobs seen count: a line added where it was too faint adds none.
            let blob_count: usize = group.iter().map(|r| r.members.len()).sum();
            if best.as_ref().is_some_and(|(n, _)| *n >= blob_count) {
                continue;
            }
            let group = match faint_td1 {
                true => with_faint_td1_line(group, &blobs),
                false => group,
            };
            if let Some(found) = grid_from_rows(&group, self.scale) {
                best = Some((blob_count, found));
            }
        }
        let mut found = best?.1;
        if columns {
            // Back to image coordinates (x and y swapped); the rows ran down the page.
            for l in &mut found.lines {
                l.origin = (l.origin.1, l.origin.0);
                l.direction = (l.direction.1, l.direction.0);
            }
        }
        Some(found)
    }
}

/// A chain of blobs linked left to right: where a line of text may run.
#[derive(Debug, Clone)]
struct Chain {
    members: Vec<Blob>,
    /// Median distance between neighbouring characters: the pitch estimate.
    step: f32,
}

/// An MRZ line candidate: the lattice of cells fitted to the glyph-like
/// blobs along a chain. Cell `k` is centred at `x0 + k * pitch + bend * k^2`
/// on the line `y = y0 + slope * (x - x0)`.
#[derive(Debug, Clone, Default)]
struct Row {
    /// The glyph-like blobs on the lattice, left to right, one per cell.
    members: Vec<Blob>,
    /// Each member's cell index (0 for the first member).
    cells: Vec<i32>,
    x0: f32,
    y0: f32,
    pitch: f32,
    /// Perspective: how the pitch changes along the row (see [`GridLine::bend`]).
    bend: f32,
    slope: f32,
    /// Median blob height of the taller half (capitals and digits, not `<`).
    char_height: f32,
}

impl Row {
    /// The lattice of the blobs along `chain`. Every blob of the scan near
    /// the chain's line is weighed, not only the chain's own: a glyph the
    /// linking skipped is taken back, and what does not look like a glyph
    /// of this line (a guilloche fragment, a card or shadow edge, a speck:
    /// wrong height, too wide, off the baseline or off the pitch) is left
    /// out wherever it lies, instead of stretching the grid by a cell.
    /// `blobs` are sorted by `cy`.
    fn fit(chain: &Chain, blobs: &[Blob]) -> Option<Row> {
        let members = &chain.members;
        let xs: Vec<f32> = members.iter().map(|b| b.cx).collect();
        let ys: Vec<f32> = members.iter().map(|b| b.cy).collect();
        let (intercept, slope) = least_squares(&xs, &ys).unwrap_or((ys[0], 0.0));
        let char_height = tall_median(members);
        let pitch = chain.step;
        if pitch <= 2.0 || slope.abs() >= 0.2 || char_height <= 0.0 {
            return None;
        }
        let (left, right) = (
            members[0].cx - 1.5 * pitch,
            members[members.len() - 1].cx + 1.5 * pitch,
        );
        let glyph_like = |b: &Blob, x0: f32, y0: f32, slope: f32, pitch: f32| {
            (left..=right).contains(&b.cx)
                && is_glyph_of_line(b, y0 + slope * (b.cx - x0), char_height, pitch)
        };
        // The lattice goes through a member in the middle of the chain.
        let x0 = members[members.len() / 2].cx;
        let (mut x0, mut y0, mut slope, mut pitch) = (x0, intercept + slope * x0, slope, pitch);
        let mut bend = 0.0;
        // Only the band the chain's line crosses can hold its glyphs.
        let (top, bottom) = members
            .iter()
            .fold((f32::MAX, f32::MIN), |(t, b), m| (t.min(m.cy), b.max(m.cy)));
        let band = &blobs[blobs.partition_point(|b| b.cy < top - char_height)
            ..blobs.partition_point(|b| b.cy <= bottom + char_height)];
        let mut row = None;
        // The lattice fitted to the chain, then twice to the glyphs it
        // gathered: the second time a bend (perspective) learnt from the
        // middle of the line can take in its ends.
        for _ in 0..3 {
            let mut near: Vec<Blob> = band
                .iter()
                .filter(|b| glyph_like(b, x0, y0, slope, pitch))
                .copied()
                .collect();
            near.sort_by(|a, b| a.cx.total_cmp(&b.cx));
            let Some(fitted) = Row::lattice(&near, x0, y0, slope, pitch, bend, char_height) else {
                break;
            };
            (x0, y0, slope, pitch) = (fitted.x0, fitted.y0, fitted.slope, fitted.pitch);
            bend = fitted.bend;
            row = Some(fitted);
        }
        row.filter(|r| r.pitch > 2.0 && r.slope.abs() < 0.2)
    }

    /// Puts `near` (sorted by x) on the cells of a lattice of about `pitch`
    /// through (`x0`, `y0`), keeps the blobs that sit on it (one per cell,
    /// the tallest), and fits origin, pitch and slope to them by least squares.
    fn lattice(
        near: &[Blob],
        x0: f32,
        y0: f32,
        slope: f32,
        pitch: f32,
        bend: f32,
        char_height: f32,
    ) -> Option<Row> {
        let lattice = Row {
            x0,
            pitch,
            bend,
            ..Row::default()
        };
        let mut on: Vec<(i32, Blob)> = Vec::new();
        for b in near {
            let k = lattice.cell_of(b.cx);
            if (b.cx - lattice.cell_x(k)).abs() > 0.3 * pitch {
                continue;
            }
            match on.last_mut() {
                Some((last, kept)) if *last == k => {
                    if b.h > kept.h {
                        *kept = *b;
                    }
                }
                _ => on.push((k, *b)),
            }
        }
        if on.len() < MIN_ROW_BLOBS {
            return None;
        }
        let first = on[0].0;
        let ks: Vec<f32> = on.iter().map(|(k, _)| (k - first) as f32).collect();
        let xs: Vec<f32> = on.iter().map(|(_, b)| b.cx).collect();
        let ys: Vec<f32> = on.iter().map(|(_, b)| b.cy).collect();
        let (origin, pitch, bend) = match quadratic_fit(&ks, &xs) {
            // Perspective: the pitch changes along the line, by at most a
            // fifth of it; only a long row can tell.
            Some((a, b, c)) if ks.len() >= 12 && (2.0 * c * ks[ks.len() - 1]).abs() <= 0.2 * b => {
                (a, b, c)
            }
            _ => {
                let (a, b) = least_squares(&ks, &xs)?;
                (a, b, 0.0)
            }
        };
        let (y_at_origin, slope) =
            least_squares(&xs.iter().map(|x| x - origin).collect::<Vec<_>>(), &ys)
                .unwrap_or((y0 + slope * (origin - x0), slope));
        let members: Vec<Blob> = on.iter().map(|(_, b)| *b).collect();
        let cells = on.iter().map(|(k, _)| k - first).collect();
        Some(Row {
            char_height: tall_median(&members).max(0.5 * char_height),
            members,
            cells,
            x0: origin,
            y0: y_at_origin,
            pitch,
            bend,
            slope,
        })
    }

    fn first(&self) -> Blob {
        self.members[0]
    }

    /// Cells from the first member's to the last's.
    fn span_cells(&self) -> i32 {
        self.cells.last().copied().unwrap_or(0) + 1
    }

    /// Centre of cell `k`.
    fn cell_x(&self, k: i32) -> f32 {
        let k = k as f32;
        self.x0 + k * self.pitch + self.bend * k * k
    }

    /// The cell whose centre is nearest `x`.
    fn cell_of(&self, x: f32) -> i32 {
        let k = (x - self.x0) / self.pitch;
        // One step of inverting the bend is plenty: it is a few percent.
        ((x - self.x0 - self.bend * k * k) / self.pitch).round() as i32
    }

    fn y_at(&self, x: f32) -> f32 {
        self.y0 + (x - self.x0) * self.slope
    }

    /// Members in cells `start..start + cells`, and the cells they span.
    fn window(&self, start: i32, cells: i32) -> (usize, i32) {
        let inside: Vec<i32> = self
            .cells
            .iter()
            .copied()
            .filter(|k| (start..start + cells).contains(k))
            .collect();
        let span = match (inside.first(), inside.last()) {
            (Some(a), Some(b)) => b - a + 1,
            _ => 0,
        };
        (inside.len(), span)
    }
}

/// Whether `b` looks like a glyph of a line whose centre is at `line_y`
/// where `b` stands: the line's height (`<` is about half of it),
/// narrower than a cell, centred on the line.
fn is_glyph_of_line(b: &Blob, line_y: f32, char_height: f32, pitch: f32) -> bool {
    (0.3 * char_height..=1.3 * char_height).contains(&b.h)
        && b.w <= 0.95 * pitch
        && (b.cy - line_y).abs() <= 0.3 * char_height
}

/// Median height of the taller half of `blobs` (capitals and digits, not `<`).
fn tall_median(blobs: &[Blob]) -> f32 {
    let mut heights: Vec<f32> = blobs.iter().map(|b| b.h).collect();
    heights.sort_by(f32::total_cmp);
    let mut tall = heights[blobs.len() / 2..].to_vec();
    median(&mut tall)
}

/// Intercept and slope of the least-squares line `y = a + b x`.
/// `(a, b, c)` of the parabola `y = a + b x + c x^2` nearest the points
/// (least squares, solved about the mean of `xs` for conditioning).
fn quadratic_fit(xs: &[f32], ys: &[f32]) -> Option<(f32, f32, f32)> {
    let n = xs.len() as f64;
    if n < 3.0 {
        return None;
    }
    let m = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let (mut s2, mut s3, mut s4, mut t0, mut t1, mut t2) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (&x, &y) in xs.iter().zip(ys) {
        let (u, y) = (f64::from(x) - m, f64::from(y));
        s2 += u * u;
        s3 += u * u * u;
        s4 += u * u * u * u;
        t0 += y;
        t1 += u * y;
        t2 += u * u * y;
    }
    // Normal equations [n 0 s2; 0 s2 s3; s2 s3 s4] (a b c)' = (t0 t1 t2)', by Cramer.
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let system = [[n, 0.0, s2], [0.0, s2, s3], [s2, s3, s4]];
    let d = det(system);
    if d.abs() < 1e-9 {
        return None;
    }
    let solve = |column: usize| {
        let mut m = system;
        for (row, t) in m.iter_mut().zip([t0, t1, t2]) {
            row[column] = t;
        }
        det(m) / d
    };
    let (a, b, c) = (solve(0), solve(1), solve(2));
    // Back from u = x - m to x.
    Some((
        (a - b * m + c * m * m) as f32,
        (b - 2.0 * c * m) as f32,
        c as f32,
    ))
}

fn least_squares(xs: &[f32], ys: &[f32]) -> Option<(f32, f32)> {
    let n = xs.len() as f32;
    if n < 2.0 {
        return None;
    }
    let (mx, my) = (xs.iter().sum::<f32>() / n, ys.iter().sum::<f32>() / n);
    let sxx: f32 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f32 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    if sxx <= f32::EPSILON {
        return None;
    }
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

fn median(values: &mut [f32]) -> f32 {
    values.sort_by(f32::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Each blob's link to its nearest right-hand neighbour of similar size on
/// the same baseline (at most one link into each blob), and the blobs in
/// order of x.
struct Links {
    order: Vec<usize>,
    next: Vec<Option<usize>>,
    has_prev: Vec<bool>,
}

fn links(blobs: &[Blob]) -> Links {
    let mut order: Vec<usize> = (0..blobs.len()).collect();
    order.sort_by(|&a, &b| blobs[a].cx.total_cmp(&blobs[b].cx));
    let mut next: Vec<Option<usize>> = vec![None; blobs.len()];
    let mut has_prev = vec![false; blobs.len()];
    for (pos, &i) in order.iter().enumerate() {
        let a = blobs[i];
        let size = a.h.max(a.w * 1.2);
        let mut best: Option<(f32, usize)> = None;
        for &j in order.iter().skip(pos + 1) {
            let b = blobs[j];
            let dx = b.cx - a.cx;
            if dx > 2.2 * size {
                break;
            }
            let dy = (b.cy - a.cy).abs();
            let ratio = b.h.max(b.w) / a.h.max(a.w);
            if dx < 0.3 * size || dy > 0.35 * size.max(b.h) || !(0.4..=2.5).contains(&ratio) {
                continue;
            }
            let cost = dx + 3.0 * dy;
            if best.is_none_or(|(c, _)| cost < c) {
                best = Some((cost, j));
            }
        }
        if let Some((_, j)) = best {
            if !has_prev[j] {
                next[i] = Some(j);
                has_prev[j] = true;
            }
        }
    }
    Links {
        order,
        next,
        has_prev,
    }
}

/// Follows the links into chains.
fn rows(blobs: &[Blob]) -> Vec<Chain> {
    let Links {
        order,
        next,
        has_prev,
    } = links(blobs);
    let mut chains = Vec::new();
    for &start in &order {
        if has_prev[start] {
            continue;
        }
        let mut members = vec![blobs[start]];
        let mut at = start;
        while let Some(n) = next[at] {
            members.push(blobs[n]);
            at = n;
        }
        if members.len() >= MIN_ROW_BLOBS {
            chains.extend(split_irregular(members));
        }
    }
    chains
}

/// Keeps the longest run of a chain whose gaps are whole multiples of one
/// pitch (a fixed-pitch font); proportional text breaks into short runs.
fn split_irregular(members: Vec<Blob>) -> Option<Chain> {
    let mut gaps: Vec<f32> = members.windows(2).map(|w| w[1].cx - w[0].cx).collect();
    let rough = median(&mut gaps);
    if rough <= 0.0 {
        return None;
    }
    let mut best = (0usize, 0usize);
    let mut start = 0;
    for i in 1..=members.len() {
        let regular = i < members.len() && {
            let k = (members[i].cx - members[i - 1].cx) / rough;
            k.round() >= 1.0 && k.round() <= 3.0 && (k - k.round()).abs() < 0.22
        };
        if !regular {
            if i - start > best.1 - best.0 {
                best = (start, i);
            }
            start = i;
        }
    }
    let run: Vec<Blob> = members.get(best.0..best.1)?.to_vec();
    if run.len() < MIN_ROW_BLOBS {
        return None;
    }
    let mut single: Vec<f32> = run
        .windows(2)
        .map(|w| {
            let dx = w[1].cx - w[0].cx;
            dx / (dx / rough).round().max(1.0)
        })
        .collect();
    let step = median(&mut single);
    Some(Chain { members: run, step })
}

/// Candidate MRZs: 2 or 3 rows of the same pitch and slope, stacked at a
/// regular line spacing and overlapping along the line.
fn line_groups(rows: &[Row]) -> Vec<Vec<Row>> {
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| a.first().cy.total_cmp(&b.first().cy));
    let alike = |a: &Row, b: &Row| {
        let pitch_ratio = a.pitch / b.pitch;
        let x_off = (a.cell_x(0) - b.cell_x(0)).abs().min(
            // A row may have lost a glyph at its start; compare the ends too.
            (a.cell_x(a.span_cells() - 1) - b.cell_x(b.span_cells() - 1)).abs(),
        );
        let dy = b.y_at(a.first().cx) - a.first().cy;
        (0.9..=1.11).contains(&pitch_ratio)
            && (a.slope - b.slope).abs() < 0.03
            && x_off < 2.5 * a.pitch
            && dy > 1.1 * a.char_height
            && dy < 3.2 * a.char_height
    };
    let mut groups = Vec::new();
    for (i, first) in sorted.iter().enumerate() {
        let mut group = vec![(*first).clone()];
        for candidate in sorted.iter().skip(i + 1) {
            if group.len() == 3 {
                break;
            }
            if let Some(last) = group.last() {
                if alike(last, candidate) {
                    group.push((*candidate).clone());
                }
            }
        }
        if group.len() >= 2 {
            groups.push(group.clone());
            if group.len() == 3 {
                // Two 44/36-character lines can sit above a third text row.
                groups.push(group[..2].to_vec());
                groups.push(group[1..].to_vec());
            }
        }
    }
    groups
}

/// Two rows of 30 cells are a TD1 whose third line was too faint to link:
/// the group gets that line, on the lattice of its neighbour one line
/// spacing away, above or below, wherever more glyph-like blobs sit on it.
fn with_faint_td1_line(group: Vec<Row>, blobs: &[Blob]) -> Vec<Row> {
    let [a, b] = group.as_slice() else {
        return group;
    };
    let span = (a.span_cells() + b.span_cells()) as f32 / 2.0;
    if (span - 30.0).abs() >= (span - 36.0).abs() {
        return group;
    }
    let spacing = b.y_at(b.x0) - a.y_at(b.x0);
    let shifted = |row: &Row, dy: f32| Row {
        y0: row.y0 + dy,
        members: row
            .members
            .iter()
            .map(|m| Blob {
                cy: m.cy + dy,
                ..*m
            })
            .collect(),
        ..row.clone()
    };
    let (above, below) = (shifted(a, -spacing), shifted(b, spacing));
    let on = |row: &Row| {
        blobs
            .iter()
            .filter(|m| {
                let k = row.cell_of(m.cx);
                (-1..=31).contains(&k)
                    && (m.cx - row.cell_x(k)).abs() < 0.3 * row.pitch
                    && is_glyph_of_line(m, row.y_at(m.cx), row.char_height, row.pitch)
            })
            .count()
    };
    if on(&above) > on(&below) {
        vec![above, a.clone(), b.clone()]
    } else {
        vec![a.clone(), b.clone(), below]
    }
}

/// Fits the MRZ grid to a group of rows, if it has an MRZ shape: each line
/// gets the window of `cells` cells that holds most of its glyphs (what
/// lies beyond it at either end is trimmed), the lines' windows chosen
/// together so that they start level (MRZ lines are left-aligned), and each
/// line keeps its own origin and pitch (under perspective they differ).
fn grid_from_rows(group: &[Row], scale: f32) -> Option<MrzLocation> {
    let mut spans: Vec<f32> = group.iter().map(|r| r.span_cells() as f32).collect();
    let span = median(&mut spans);
    let cells = match group.len() {
        3 => 30,
        _ => *[36i32, 44].iter().min_by(|a, b| {
            (**a as f32 - span)
                .abs()
                .total_cmp(&(**b as f32 - span).abs())
        })?,
    };
    // Each line's candidate windows: every placement that keeps most of its glyphs.
    let candidates: Vec<Vec<(i32, usize)>> = group
        .iter()
        .map(|row| {
            let last = row.span_cells() - 1;
            let starts = (last - cells + 1).min(0)..=(last - cells + 1).max(0);
            let placed: Vec<(i32, usize)> = starts.map(|s| (s, row.window(s, cells).0)).collect();
            let most = placed.iter().map(|p| p.1).max().unwrap_or(0);
            placed.into_iter().filter(|p| p.1 == most).collect()
        })
        .collect();
    // The combination whose lines start most nearly level.
    let mut chosen: Option<(f32, Vec<i32>)> = None;
    let mut pick = vec![0usize; group.len()];
    loop {
        let starts: Vec<i32> = pick.iter().zip(&candidates).map(|(&i, c)| c[i].0).collect();
        let xs: Vec<f32> = group
            .iter()
            .zip(&starts)
            .map(|(r, &s)| r.cell_x(s))
            .collect();
        let spread = xs.iter().copied().fold(f32::MIN, f32::max)
            - xs.iter().copied().fold(f32::MAX, f32::min);
        if chosen.as_ref().is_none_or(|(best, _)| spread < *best) {
            chosen = Some((spread, starts));
        }
        // Next combination (the candidates are few: one to three per line).
        let mut i = 0;
        while i < pick.len() {
            pick[i] += 1;
            if pick[i] < candidates[i].len() {
                break;
            }
            pick[i] = 0;
            i += 1;
        }
        if i == pick.len() {
            break;
        }
    }
    let (spread, starts) = chosen?;
    let pitch = group.iter().map(|r| r.pitch).sum::<f32>() / group.len() as f32;
    // Left-aligned lines, and most glyphs present: the fullest line covers
    // nearly the whole window.
    let widest = group
        .iter()
        .zip(&starts)
        .map(|(r, &s)| r.window(s, cells).1)
        .max()?;
    if spread > 0.6 * pitch || (widest as f32) < cells as f32 - 3.5 {
        return None;
    }
    let lines = group
        .iter()
        .zip(&starts)
        .map(|(r, &s)| {
            let x = r.cell_x(s);
            let norm = (1.0 + r.slope * r.slope).sqrt();
            // The window's own mean pitch; the bend keeps its ends in place.
            let mean_pitch = r.pitch + r.bend * (2 * s + cells - 1) as f32;
            GridLine {
                origin: (x * scale, r.y_at(x) * scale),
                direction: (1.0 / norm, r.slope / norm),
                pitch: mean_pitch * norm * scale,
                bend: r.bend * norm * scale,
                char_height: r.char_height * scale,
                cells: cells as usize,
            }
        })
        .collect();
    Some(MrzLocation {
        rotation: 0,
        lines,
        shape: (group.len(), cells as usize),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// A page-like texture: smooth light background, dark specks and strokes.
    fn texture() -> GrayImage {
        GrayImage::from_fn(301, 207, |x, y| {
            let h = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) % 97;
            let light = 150 + (x + 2 * y) % 90;
            Luma([if h < 9 || (x % 37 < 2 && y % 11 < 7) {
                (h * 5) as u8
            } else {
                light as u8
            }])
        })
    }

    #[test]
    fn ink_mask_is_imageprocs_adaptive_threshold_inverted() {
        let page = texture();
        let mut theirs = imageproc::contrast::adaptive_threshold(&page, 12, 12);
        image::imageops::invert(&mut theirs);
        assert_eq!(ink_mask(&page), theirs);
    }

    #[test]
    fn components_are_imageprocs_eight_connected_ones() {
        use imageproc::region_labelling::{connected_components, Connectivity};
        let mask = ink_mask(&texture());
        let labels = connected_components(&mask, Connectivity::Eight, Luma([0u8]));
        let mut theirs = std::collections::BTreeMap::new();
        for (x, y, l) in labels.enumerate_pixels().filter(|(_, _, l)| l[0] > 0) {
            let b = theirs.entry(l[0]).or_insert((x, y, x, y));
            *b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
        }
        let ours = components(&mask);
        assert!(ours.len() > 50, "{}", ours.len());
        assert_eq!(ours, theirs.into_values().collect::<Vec<_>>());
    }
    use intake_samples::render::{Fonts, Page};

    const TD3: [&str; 2] = [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ];
    const TD1: [&str; 3] = [
        "IDUZBZ92359498<1548<<<<<<<<<<<",
        "7201275F3411012UZB<<<<<<<<<<<4",
        "TSOI<<MADINA<<<<<<<<<<<<<<<<<<",
    ];

    /// The lines printed in OCR-B at 300 dpi, 6 mm from the paper's edges.
    fn scan(lines: &[&str]) -> GrayImage {
        let fonts = Fonts::load().expect("fonts-ocr-b and fonts-dejavu-core");
        let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let mut page = Page::new(125.0, 14.0 + 4.2 * lines.len() as f32, 300.0);
        page.mrz(&fonts, 6.0, 6.0, 4.2, &lines);
        page.image
    }

    /// Every line of `found` starts and runs where the clean scan's does.
    fn same_grid(found: &MrzLocation, clean: &MrzLocation) {
        assert_eq!(found.shape, clean.shape);
        for (a, b) in found.lines.iter().zip(&clean.lines) {
            let pitch = b.pitch;
            assert!(
                (a.pitch / pitch - 1.0).abs() < 0.01,
                "pitch {} vs {}",
                a.pitch,
                pitch
            );
            let (ax, ay) = a.origin;
            let (bx, by) = b.origin;
            assert!((ax - bx).abs() < 0.3 * pitch && (ay - by).abs() < 0.3 * pitch);
        }
    }

    #[test]
    fn blank_and_tiny_images_have_no_mrz() {
        assert!(locate(&GrayImage::from_pixel(600, 400, Luma([255]))).is_none());
        assert!(locate(&GrayImage::new(3, 3)).is_none());
    }

    #[test]
    fn what_is_not_a_glyph_beside_a_line_does_not_stretch_the_grid() {
        let clean_scan = scan(&TD3);
        let clean = locate(&clean_scan).expect("found");
        let (pitch, (x, y)) = (clean.lines[0].pitch, clean.lines[0].origin);
        // A flat guilloche fragment one cell before the first line, and a
        // speck one cell after the second.
        let mut image = clean_scan.clone();
        let fragment = imageproc::rect::Rect::at((x - 1.6 * pitch) as i32, (y - 5.0) as i32)
            .of_size((1.1 * pitch) as u32, 10);
        imageproc::drawing::draw_filled_rect_mut(&mut image, fragment, Luma([40]));
        let (ex, ey) = clean.lines[1].cell_center(43);
        let speck =
            imageproc::rect::Rect::at((ex + 0.8 * pitch) as i32, (ey - 4.0) as i32).of_size(8, 8);
        imageproc::drawing::draw_filled_rect_mut(&mut image, speck, Luma([40]));
        same_grid(&locate(&image).expect("found"), &clean);
    }

    #[test]
    fn a_line_seen_in_perspective_keeps_its_ends_on_their_cells() {
        use imageproc::geometric_transformations::{warp, Border, Interpolation, Projection};
        let clean_scan = scan(&TD3);
        let clean = locate(&clean_scan).expect("found");
        // A card tilted away on its right: the pitch grows by about 12%
        // from the first cell to the last (x -> x / (1 - c x)).
        let c = 0.12 / (clean.lines[0].pitch * 44.0) / 2.0;
        let Some(tilt) = Projection::from_matrix([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, -c, 0.0, 1.0])
        else {
            panic!("an invertible projection")
        };
        let image = warp(
            &clean_scan,
            tilt,
            Interpolation::Bilinear,
            Border::Constant(Luma([255])),
        );
        let seen = locate(&image).expect("found");
        let moved = |(x, y): (f32, f32)| (x / (1.0 - c * x), y / (1.0 - c * x));
        for (line, before) in seen.lines.iter().zip(&clean.lines) {
            for cell in [0, 21, 43] {
                let (ex, ey) = moved(before.cell_center(cell));
                let (x, y) = line.cell_center(cell);
                let off = ((x - ex).powi(2) + (y - ey).powi(2)).sqrt();
                assert!(
                    off < 0.2 * before.pitch,
                    "cell {cell}: {off} px off; {line:?}"
                );
            }
        }
    }

    #[test]
    fn hairlines_across_the_mrz_are_looked_through() {
        let clean_scan = scan(&TD3);
        let clean = locate(&clean_scan).expect("found");
        let mut image = clean_scan.clone();
        // Wavy one-pixel lines every 9 pixels, through every glyph.
        let (w, h) = image.dimensions();
        for start in (0..h).step_by(9) {
            for x in 0..w {
                let y = start as f32 + 6.0 * (x as f32 / 40.0 + start as f32).sin();
                if (0.0..h as f32).contains(&y) {
                    image.put_pixel(x, y as u32, Luma([90]));
                }
            }
        }
        same_grid(&locate(&image).expect("found"), &clean);
    }

    #[test]
    fn a_td1_whose_last_line_is_too_faint_is_found_from_the_other_two() {
        let clean_scan = scan(&TD1);
        let clean = locate(&clean_scan).expect("found");
        // The third line faded to almost nothing.
        let mut image = clean_scan.clone();
        let (y1, y2) = (clean.lines[1].origin.1, clean.lines[2].origin.1);
        let from = ((y1 + y2) / 2.0) as u32;
        for y in from..image.height() {
            for x in 0..image.width() {
                let p = image.get_pixel_mut(x, y);
                p.0[0] = 255 - (255 - p.0[0]) / 40;
            }
        }
        same_grid(&locate(&image).expect("found"), &clean);
    }
}
