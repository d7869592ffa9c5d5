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

use image::imageops;
use image::{GrayImage, Luma};
use imageproc::region_labelling::{connected_components, Connectivity};
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
    /// Distance between neighbouring cell centres, in pixels.
    pub pitch: f32,
    /// Height of a capital letter, in pixels.
    pub char_height: f32,
    /// Number of cells (30, 36 or 44).
    pub cells: usize,
}

impl GridLine {
    /// Centre of cell `i`.
    pub fn cell_center(&self, i: usize) -> (f32, f32) {
        let t = i as f32 * self.pitch;
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
            }
        }
        self.lines.sort_by(|a, b| a.origin.1.total_cmp(&b.origin.1));
        self
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
pub fn locate(image: &GrayImage) -> Option<MrzLocation> {
    let blobs = Blobs::find(image)?;
    if let Some(found) = blobs.grid(false) {
        return Some(found.left_to_right());
    }
    let found = blobs.grid(true).map(|mut found| {
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
    fn find(image: &GrayImage) -> Option<Blobs> {
        let (w, h) = image.dimensions();
        if w < 40 || h < 40 {
            return None;
        }
        let long = w.max(h);
        let (work, scale) = if long > WORK_SIDE {
            let f = WORK_SIDE as f32 / long as f32;
            let (nw, nh) = (
                ((w as f32 * f) as u32).max(1),
                ((h as f32 * f) as u32).max(1),
            );
            (imageops::thumbnail(image, nw, nh), 1.0 / f)
        } else {
            (image.clone(), 1.0)
        };
        // Dark ink on a lighter, possibly unevenly lit, background -> white ink mask.
        let mut ink = imageproc::contrast::adaptive_threshold(&work, 12, 12);
        imageops::invert(&mut ink);
        let labels = connected_components(&ink, Connectivity::Eight, Luma([0u8]));
        let count = labels.pixels().map(|p| p[0]).max().unwrap_or(0) as usize;
        if count == 0 {
            return None;
        }
        // Bounding boxes per label: (min_x, min_y, max_x, max_y, pixels).
        let mut boxes = vec![(u32::MAX, u32::MAX, 0u32, 0u32, 0u32); count + 1];
        for (x, y, p) in labels.enumerate_pixels() {
            let l = p[0] as usize;
            if l == 0 {
                continue;
            }
            if let Some(b) = boxes.get_mut(l) {
                b.0 = b.0.min(x);
                b.1 = b.1.min(y);
                b.2 = b.2.max(x);
                b.3 = b.3.max(y);
                b.4 += 1;
            }
        }
        let blobs = boxes
            .into_iter()
            .skip(1)
            .filter(|b| b.4 > 0)
            .map(|(x0, y0, x1, y1, _)| Blob {
                cx: (x0 + x1) as f32 / 2.0,
                cy: (y0 + y1) as f32 / 2.0,
                w: (x1 - x0 + 1) as f32,
                h: (y1 - y0 + 1) as f32,
            })
            // Character-sized: MRZ glyphs are 4..60 working pixels tall.
            .filter(|b| (4.0..=60.0).contains(&b.h.max(b.w)) && b.h.max(b.w) >= 5.0)
            .collect();
        Some(Blobs { blobs, scale })
    }

    /// Looks for the grid in rows (`columns == false`) or in columns, where
    /// x and y trade places so the same row logic applies.
    fn grid(&self, columns: bool) -> Option<MrzLocation> {
        let blobs: Vec<Blob> = self
            .blobs
            .iter()
            .map(|b| {
                if columns {
                    Blob {
                        cx: b.cy,
                        cy: b.cx,
                        w: b.h,
                        h: b.w,
                    }
                } else {
                    *b
                }
            })
            .collect();
        let rows = rows(&blobs);
        let mut best: Option<(usize, MrzLocation)> = None;
        for group in line_groups(&rows) {
            let blob_count: usize = group.iter().map(|r| r.members.len()).sum();
            if best.as_ref().is_some_and(|(n, _)| *n >= blob_count) {
                continue;
            }
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

/// A chain of blobs linked left to right.
#[derive(Debug, Clone)]
struct Row {
    members: Vec<Blob>,
    /// Median distance between linked neighbours: the pitch estimate.
    step: f32,
    /// Slope dy/dx of the least-squares line through the centres.
    slope: f32,
    /// Median blob height of the taller half (capitals and digits, not `<`).
    char_height: f32,
}

impl Row {
    fn first(&self) -> Blob {
        self.members[0]
    }
    fn last(&self) -> Blob {
        self.members[self.members.len() - 1]
    }
    /// Number of cells the row spans, at its own step.
    fn span_cells(&self) -> f32 {
        (self.last().cx - self.first().cx) / self.step + 1.0
    }
    fn y_at(&self, x: f32) -> f32 {
        let f = self.first();
        f.cy + (x - f.cx) * self.slope
    }
}

fn median(values: &mut [f32]) -> f32 {
    values.sort_by(f32::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Links each blob to its nearest right-hand neighbour of similar size on
/// the same baseline, and follows the links into rows.
fn rows(blobs: &[Blob]) -> Vec<Row> {
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
    let mut rows = Vec::new();
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
            rows.extend(split_irregular(members).and_then(row_from));
        }
    }
    rows
}

/// Keeps the longest run of a chain whose gaps are whole multiples of one
/// pitch (a fixed-pitch font); proportional text breaks into short runs.
fn split_irregular(members: Vec<Blob>) -> Option<Vec<Blob>> {
    let mut gaps: Vec<f32> = members.windows(2).map(|w| w[1].cx - w[0].cx).collect();
    let step = median(&mut gaps);
    if step <= 0.0 {
        return None;
    }
    let mut best = (0usize, 0usize);
    let mut start = 0;
    for i in 1..=members.len() {
        let regular = i < members.len() && {
            let k = (members[i].cx - members[i - 1].cx) / step;
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
    (run.len() >= MIN_ROW_BLOBS).then_some(run)
}

fn row_from(members: Vec<Blob>) -> Option<Row> {
    let mut single: Vec<f32> = Vec::new();
    let mut gaps: Vec<f32> = members.windows(2).map(|w| w[1].cx - w[0].cx).collect();
    let rough = median(&mut gaps);
    for w in members.windows(2) {
        let dx = w[1].cx - w[0].cx;
        let k = (dx / rough).round().max(1.0);
        single.push(dx / k);
    }
    let step = median(&mut single);
    let n = members.len() as f32;
    let (mx, my) = (
        members.iter().map(|b| b.cx).sum::<f32>() / n,
        members.iter().map(|b| b.cy).sum::<f32>() / n,
    );
    let sxx: f32 = members.iter().map(|b| (b.cx - mx).powi(2)).sum();
    let sxy: f32 = members.iter().map(|b| (b.cx - mx) * (b.cy - my)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let mut heights: Vec<f32> = members.iter().map(|b| b.h).collect();
    heights.sort_by(f32::total_cmp);
    let tall = &mut heights[members.len() / 2..].to_vec();
    let char_height = median(tall);
    (step > 2.0 && slope.abs() < 0.2).then_some(Row {
        members,
        step,
        slope,
        char_height,
    })
}

/// Candidate MRZs: 2 or 3 rows of the same pitch and slope, left-aligned,
/// stacked at a regular line spacing.
fn line_groups(rows: &[Row]) -> Vec<Vec<Row>> {
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| a.first().cy.total_cmp(&b.first().cy));
    let alike = |a: &Row, b: &Row| {
        let pitch_ratio = a.step / b.step;
        let x_off = (a.first().cx - b.first().cx).abs().min(
            // A row may have lost a blob at its start; compare the ends too.
            (a.last().cx - b.last().cx).abs(),
        );
        let dy = b.y_at(a.first().cx) - a.first().cy;
        (0.9..=1.11).contains(&pitch_ratio)
            && (a.slope - b.slope).abs() < 0.03
            && x_off < 2.5 * a.step
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

/// Fits the fixed-pitch grid to a group of rows, if it has an MRZ shape.
fn grid_from_rows(group: &[Row], scale: f32) -> Option<MrzLocation> {
    let mut spans: Vec<f32> = group.iter().map(Row::span_cells).collect();
    let span = median(&mut spans);
    let cells = match group.len() {
        3 => 30,
        _ => *[36usize, 44].iter().min_by(|a, b| {
            (**a as f32 - span)
                .abs()
                .total_cmp(&(**b as f32 - span).abs())
        })?,
    };
    // Most blobs present: the widest row must cover nearly the whole line.
    let widest = spans.iter().copied().fold(0.0f32, f32::max);
    if widest < cells as f32 - 3.5 || widest > cells as f32 + 1.5 {
        return None;
    }
    // Lines are left-aligned: one origin and one end for the whole group.
    let start = group
        .iter()
        .map(|r| r.first().cx)
        .fold(f32::INFINITY, f32::min);
    let end = group.iter().map(|r| r.last().cx).fold(0.0f32, f32::max);
    let pitch = (end - start) / (cells - 1) as f32;
    let mut steps: Vec<f32> = group.iter().map(|r| r.step).collect();
    let step = median(&mut steps);
    if (pitch / step - 1.0).abs() > 0.08 {
        return None;
    }
    let mut slopes: Vec<f32> = group.iter().map(|r| r.slope).collect();
    let slope = median(&mut slopes);
    let norm = (1.0 + slope * slope).sqrt();
    let direction = (1.0 / norm, slope / norm);
    let lines = group
        .iter()
        .map(|r| {
            let y = r.y_at(start);
            GridLine {
                origin: (start * scale, y * scale),
                direction,
                pitch: pitch * norm * scale,
                char_height: r.char_height * scale,
                cells,
            }
        })
        .collect();
    Some(MrzLocation {
        rotation: 0,
        lines,
        shape: (group.len(), cells),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_and_tiny_images_have_no_mrz() {
        assert!(locate(&GrayImage::from_pixel(600, 400, Luma([255]))).is_none());
        assert!(locate(&GrayImage::new(3, 3)).is_none());
    }
}
