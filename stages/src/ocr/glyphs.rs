//! The MRZ glyph classifier: each cell of the grid against the 37 OCR-B
//! characters it may hold.
//!
//! ICAO 9303 prints the MRZ in one typeface (OCR-B), at one size, on a
//! fixed 2.54 mm pitch (Part 3 §4.4). Once the locate stage has found the
//! grid there is no layout left to analyse, only a cell to compare with 37
//! known shapes: normalised cross-correlation with templates rendered from
//! the font (`ocrb-mrz.png`, made by `make glyphs`), at the best of a few
//! one-pixel shifts, at the blur (and height) that fits this scan best. That is about
//! eight times cheaper than Tesseract on the same strips (9 against 71 ms for
//! a TD3 zone), and it reads blur Tesseract cannot, because the templates
//! are blurred as much as the scan.
//!
//! It says how sure it is (the margin to the runner-up), so the caller
//! can fall back on Tesseract where the print is not the font's.

use super::{bilinear, strip, MrzText};
use crate::locate::MrzLocation;
use crate::mrz::{self, ParsedMrz};
use image::{GrayImage, ImageFormat, Luma};
use thiserror::Error;

/// The characters of the MRZ, in the atlas's order.
pub const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";
/// Width of one atlas cell: the strips' pitch.
pub const CELL_WIDTH: u32 = super::STRIP_PITCH as u32;
/// Height of one atlas cell: the strips' height, cap middle on the middle row.
pub const CELL_HEIGHT: u32 = 60;

/// The templates, rendered from fonts-ocr-b's `OCRB.otf`.
const ATLAS: &[u8] = include_bytes!("ocrb-mrz.png");
/// Gaussian blurs (σ in strip pixels, i.e. at 300 dpi) the templates come
/// in: from a sharp print to a scan too blurred for Tesseract.
const BLURS: [f32; 5] = [0.0, 1.2, 2.4, 3.6, 4.8];
/// Cells of the first line that choose the blur and offset for the whole grid.
const PROBE_CELLS: usize = 8;
/// Heights the templates come in, against the font's own (first): ISO 1073-2
/// allows printers some latitude (MRZs are often printed 2.0-2.3 mm high
/// against the font's 2.54), and a scanner or a camera may squash. In OCR-B
/// the digit 0 is a tenth taller than the letter O, so steps are finer
/// than that.
const STRETCHES: [f32; 6] = [1.0, 0.92, 1.08, 0.84, 1.16, 0.77];
/// The template set (font height, σ 1.2) on which lines are placed before
/// the blur is known.
const OFFSET_LEVEL: usize = 1;
/// Shifts (pixels) tried either way across the line.
const SHIFT_Y: i32 = 1;
/// Rows of paper kept above and below the tallest glyph.
const WINDOW_MARGIN: u32 = 5;
/// Pixels left out at each side of a cell, where the neighbours' ink bleeds in.
const SIDE: u32 = 1;
/// Dark enough to be ink, on a contrast-stretched strip.
const INK_BELOW: u8 = 128;

#[derive(Debug, Error)]
pub enum GlyphError {
    #[error("the OCR-B template atlas cannot be read ({0}); regenerate it with `make glyphs`")]
    Atlas(String),
}

/// One cell as classified.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    c: char,
    /// Correlation with its template, in -1..=1.
    score: f32,
    /// The next most alike character, and how much less alike it is.
    runner_up: char,
    margin: f32,
    /// Where the window matched best.
    at: Shift,
}

/// The templates at every blur, normalised for correlation.
pub struct Glyphs {
    /// `levels[stretch * BLURS.len() + blur][class]`: zero mean, unit norm,
    /// over the window.
    levels: Vec<Vec<Vec<f32>>>,
    window: Window,
    /// Mean row of the templates' ink, to place a strip's line on them.
    ink_row: f32,
}

/// The part of a cell compared: `width` x `height` from (`SIDE`, `top`).
#[derive(Debug, Clone, Copy)]
struct Window {
    top: u32,
    width: u32,
    height: u32,
}

impl Glyphs {
    /// The classifier with the committed templates.
    pub fn new() -> Result<Glyphs, GlyphError> {
        let atlas = image::load_from_memory_with_format(ATLAS, ImageFormat::Png)
            .map_err(|e| GlyphError::Atlas(e.to_string()))?
            .to_luma8();
        Glyphs::from_atlas(&atlas)
    }

    /// The classifier with the templates of `atlas` (one cell per character of [`ALPHABET`]).
    fn from_atlas(atlas: &GrayImage) -> Result<Glyphs, GlyphError> {
        let classes = ALPHABET.len() as u32;
        if atlas.dimensions() != (classes * CELL_WIDTH, CELL_HEIGHT) {
            return Err(GlyphError::Atlas(format!(
                "{}x{} pixels, not {}x{CELL_HEIGHT}",
                atlas.width(),
                atlas.height(),
                classes * CELL_WIDTH
            )));
        }
        let ink_rows: Vec<u32> = (0..CELL_HEIGHT)
            .filter(|&y| (0..atlas.width()).any(|x| atlas.get_pixel(x, y)[0] < INK_BELOW))
            .collect();
        let (Some(&first), Some(&last)) = (ink_rows.first(), ink_rows.last()) else {
            return Err(GlyphError::Atlas("no ink".into()));
        };
        let top = first.saturating_sub(WINDOW_MARGIN);
        let window = Window {
            top,
            width: CELL_WIDTH - 2 * SIDE,
            height: (last + WINDOW_MARGIN + 1).min(CELL_HEIGHT) - top,
        };
        let ink_row = ink_centroid(atlas, 0, atlas.width()).unwrap_or(CELL_HEIGHT as f32 / 2.0);
        let cells: Vec<GrayImage> = (0..classes).map(|k| padded_cell(atlas, k)).collect();
        // Blurred once, then stretched: the gaussians are the costly part.
        let blurred: Vec<Vec<GrayImage>> = BLURS
            .iter()
            .map(|&sigma| {
                cells
                    .iter()
                    .map(|cell| match sigma {
                        0.0 => cell.clone(),
                        _ => imageproc::filter::gaussian_blur_f32(cell, sigma),
                    })
                    .collect()
            })
            .collect();
        let levels = STRETCHES
            .iter()
            .flat_map(|&stretch| blurred.iter().map(move |cells| (stretch, cells)))
            .map(|(stretch, cells)| {
                cells
                    .iter()
                    .map(|cell| {
                        let (x0, y0) = (PAD + SIDE, PAD + window.top);
                        let (w, h) = (window.width, window.height);
                        let middle = PAD + CELL_HEIGHT / 2;
                        normalised(&stretched(cell, stretch, middle, (x0, y0, w, h)))
                    })
                    .collect()
            })
            .collect();
        Ok(Glyphs {
            levels,
            window,
            ink_row,
        })
    }

    /// Reads the grid located in `image` (already turned by `location.rotation`).
    pub fn read_grid(&self, image: &GrayImage, location: &MrzLocation) -> GlyphReading {
        let strips: Vec<GrayImage> = location.lines.iter().map(|l| strip(image, l)).collect();
        let cells: Vec<usize> = location.lines.iter().map(|l| l.cells).collect();
        let (read, blur) = self.read(&strips, &cells);
        let close: Vec<(usize, usize, char)> = read
            .iter()
            .enumerate()
            .flat_map(|(line, row)| {
                // A cell that matches its best template much worse than the
                // rest of its line do theirs is not the font's glyph there
                // (a stain, a misplaced window): in doubt however clear its lead.
                let mut scores: Vec<f32> = row.iter().map(|cell| cell.score).collect();
                scores.sort_by(f32::total_cmp);
                let typical = scores.get(scores.len() / 2).copied().unwrap_or(0.0);
                row.iter()
                    .enumerate()
                    .filter(move |(_, cell)| {
                        cell.margin < GLYPH_MARGIN || cell.score < typical - GLYPH_SCORE_DROP
                    })
                    .map(move |(column, cell)| (line, column, cell.runner_up))
            })
            .collect();
        GlyphReading {
            text: MrzText {
                lines: read
                    .iter()
                    .map(|row| row.iter().map(|cell| cell.c).collect())
                    .collect(),
                reread_cells: 0,
                unsure: close
                    .iter()
                    .map(|&(line, column, _)| (line, column))
                    .collect(),
            },
            close,
            beyond_tesseract: blur >= TESSERACT_BLUR_LIMIT,
        }
    }

    /// Classifies every cell of every strip (`cells[i]` cells in `strips[i]`,
    /// cell `j` centred at x = `CELL_WIDTH * (j + 1)`, as the OCR stage cuts them).
    /// Also returns the blur (σ in strip pixels) whose templates fit best.
    fn read(&self, strips: &[GrayImage], cells: &[usize]) -> (Vec<Vec<Cell>>, f32) {
        let tops: Vec<i64> = strips
            .iter()
            .zip(cells)
            .map(|(strip, &n)| self.line_top(strip, n))
            .collect();
        // Offsets first, at a middling blur (a misplaced window would pass
        // for a blurred scan), then the blur at those offsets.
        let offsets: Vec<i32> = strips
            .iter()
            .zip(cells)
            .zip(&tops)
            .map(|((strip, &n), &top)| self.line_offset(strip, n, top, OFFSET_LEVEL))
            .collect();
        let level = self.blur_level(strips, cells, &tops, &offsets);
        let out: Vec<Vec<Cell>> = strips
            .iter()
            .zip(cells)
            .zip(tops.iter().zip(&offsets))
            .map(|((strip, &n), (&top, &dx))| {
                let mut at = Shift { dx, dy: 0 };
                // Each cell is looked for where its left neighbour was found:
                // a pitch or skew off by a little drifts along the line.
                (0..n)
                    .map(|j| {
                        let cell = self.classify(strip, j, top, level, at, FINE);
                        at = Shift {
                            dx: cell.at.dx.clamp(-MAX_DRIFT, MAX_DRIFT),
                            dy: cell.at.dy.clamp(-MAX_DRIFT, MAX_DRIFT),
                        };
                        cell
                    })
                    .collect()
            })
            .collect();
        (out, BLURS[level % BLURS.len()])
    }

    /// The template row at the window's top, placed on this strip: the
    /// strip's ink centred where the templates' ink is.
    fn line_top(&self, strip: &GrayImage, cells: usize) -> i64 {
        let x0 = CELL_WIDTH / 2;
        let x1 = (x0 + CELL_WIDTH * cells as u32).min(strip.width());
        let offset = ink_centroid(strip, x0, x1).map_or(0.0, |row| row - self.ink_row);
        i64::from(self.window.top) + offset.round() as i64
    }

    /// The template set the first cells of the grid match best: the blur
    /// at the font's height, then the height at that blur.
    fn blur_level(
        &self,
        strips: &[GrayImage],
        cells: &[usize],
        tops: &[i64],
        offsets: &[i32],
    ) -> usize {
        let (Some(strip), Some(&n), Some(&top), Some(&dx)) =
            (strips.first(), cells.first(), tops.first(), offsets.first())
        else {
            return 0;
        };
        let at = Shift { dx, dy: 0 };
        let fit = |level: usize| -> f32 {
            (0..n.min(PROBE_CELLS))
                .map(|j| self.classify(strip, j, top, level, at, FINE).score)
                .sum()
        };
        let best = |levels: &mut dyn Iterator<Item = usize>| {
            levels
                .map(|level| (level, fit(level)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0, |(level, _)| level)
        };
        let blur = best(&mut (0..BLURS.len()));
        best(&mut (0..STRETCHES.len()).map(|s| s * BLURS.len() + blur))
    }

    /// The line's offset along itself: the locate stage's cell centres are
    /// off by the same pixel or two all along a line. The median of the
    /// best shifts of its first cells.
    fn line_offset(&self, strip: &GrayImage, cells: usize, top: i64, level: usize) -> i32 {
        let centre = Shift { dx: 0, dy: 0 };
        let mut offsets: Vec<i32> = (0..cells.min(PROBE_CELLS))
            .map(|j| self.classify(strip, j, top, level, centre, WIDE).at.dx)
            .collect();
        offsets.sort_unstable();
        offsets.get(offsets.len() / 2).copied().unwrap_or(0)
    }

    /// Cell `j` of `strip` against the templates of one blur, at the best of
    /// the shifts `around` `at`: every template at `at` itself, the few most
    /// alike at the others.
    fn classify(
        &self,
        strip: &GrayImage,
        j: usize,
        top: i64,
        level: usize,
        at: Shift,
        around: i32,
    ) -> Cell {
        let templates = &self.levels[level];
        let left =
            i64::from(CELL_WIDTH) * (j as i64 + 1) - i64::from(CELL_WIDTH / 2) + i64::from(SIDE);
        let patch_at = |shift: Shift| {
            let (x0, y0) = (left + i64::from(shift.dx), top + i64::from(shift.dy));
            let patch = pixels(strip, x0, y0, self.window.width, self.window.height);
            centred_norm(&patch).map(|norm| (patch, norm))
        };
        // The template has zero mean, so the patch's mean drops out.
        let score = |(patch, norm): &(Vec<f32>, f32), k: usize| dot(patch, &templates[k]) / norm;
        let mut best: Vec<(usize, f32, Shift)> = match patch_at(at) {
            Some(p) => (0..templates.len())
                .map(|k| (k, score(&p, k), at))
                .collect(),
            None => (0..templates.len()).map(|k| (k, f32::MIN, at)).collect(),
        };
        best.sort_by(|a, b| b.1.total_cmp(&a.1));
        best.truncate(CANDIDATES);
        for dy in -around.min(SHIFT_Y)..=around.min(SHIFT_Y) {
            for dx in -around..=around {
                let shift = Shift {
                    dx: at.dx + dx,
                    dy: at.dy + dy,
                };
                if shift == at {
                    continue;
                }
                let Some(p) = patch_at(shift) else { continue };
                for slot in best.iter_mut() {
                    let s = score(&p, slot.0);
                    if s > slot.1 {
                        (slot.1, slot.2) = (s, shift);
                    }
                }
            }
        }
        best.sort_by(|a, b| b.1.total_cmp(&a.1));
        let class = |k: usize| ALPHABET.as_bytes()[k] as char;
        let (first, second) = (best[0], best[1]);
        if first.1 == f32::MIN {
            // Blank paper: nothing to read.
            return Cell {
                c: '<',
                score: 0.0,
                runner_up: '<',
                margin: 0.0,
                at,
            };
        }
        Cell {
            c: class(first.0),
            score: first.1,
            runner_up: class(second.0),
            margin: first.1 - second.1,
            at: first.2,
        }
    }
}

/// An offset of the compared window, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shift {
    dx: i32,
    dy: i32,
}

/// Characters compared at every shift: the most alike at the grid's own position.
const CANDIDATES: usize = 6;
/// Shifts along the line tried while fitting the grid, and for each cell after.
const WIDE: i32 = 3;
const FINE: i32 = 1;
/// Farthest a cell is looked for from the grid's own position.
const MAX_DRIFT: i32 = 6;

/// A reading by the glyph classifier alone.
#[derive(Debug, Clone, PartialEq)]
pub struct GlyphReading {
    /// `unsure` holds the cells of `close`.
    pub text: MrzText,
    /// Cells (line, column) whose runner-up came within [`GLYPH_MARGIN`]
    /// (or that matched far worse than their line), and that runner-up.
    pub close: Vec<(usize, usize, char)>,
    /// The scan is blurred beyond what Tesseract reads: a second opinion
    /// from it is not worth asking for.
    pub beyond_tesseract: bool,
}

/// Template blur (σ, pixels at 300 dpi) from which Tesseract is not asked
/// for a second opinion. Of the 16 heavily blurred scans (σ 4.5) of the
/// comparison set it read none, the classifier all; scans blurred by σ 1.1,
/// which Tesseract does read, fit far sharper templates (`make compare`).
const TESSERACT_BLUR_LIMIT: f32 = 3.6;

/// Correlation by which a cell's best template must beat the runner-up for
/// the classifier to be sure of it. On the generator's scans, clean or
/// blurred, the lead seen in dumped readings is 0.1 to 0.4; 0.04 leaves room
/// for worn print and is not tuned further.
const GLYPH_MARGIN: f32 = 0.04;
/// How far below its line's median correlation a cell's may fall.
const GLYPH_SCORE_DROP: f32 = 0.1;

impl GlyphReading {
    /// Whether the reading stands on its own, with no second opinion from
    /// Tesseract: every check digit agrees, and every close call is one a
    /// check digit settles (not in a name, not a check-blind swap like
    /// `G`/`6`), or the scan is too blurred for Tesseract to judge it (its
    /// doubtful cells then go to a person).
    pub fn stands_alone(&self, parsed: &ParsedMrz) -> bool {
        let lines = &parsed.reading.lines;
        parsed.reading.check_digits_valid
            && (self.beyond_tesseract
                || self.close.iter().all(|&(line, column, runner_up)| {
                    let read = lines.get(line).and_then(|l| l.chars().nth(column));
                    mrz::unchecked_field(lines, parsed.reading.format, line, column).is_none()
                        && read.is_some_and(|c| !mrz::check_blind(c, runner_up))
                }))
    }
}

/// White border around each template cell, wide enough for the widest blur.
const PAD: u32 = 16;

/// Atlas cell `k` on white paper with a `PAD` border.
fn padded_cell(atlas: &GrayImage, k: u32) -> GrayImage {
    let mut cell = GrayImage::from_pixel(CELL_WIDTH + 2 * PAD, CELL_HEIGHT + 2 * PAD, Luma([255]));
    let glyph = image::imageops::crop_imm(atlas, k * CELL_WIDTH, 0, CELL_WIDTH, CELL_HEIGHT);
    image::imageops::replace(&mut cell, &*glyph, i64::from(PAD), i64::from(PAD));
    cell
}

/// `cell` stretched vertically by `factor` about row `middle` (bilinear).
/// The `window` (`x0, y0, width, height`) of `cell` stretched vertically by
/// `factor` about row `middle`, row-major: only the compared pixels are sampled.
fn stretched(cell: &GrayImage, factor: f32, middle: u32, window: (u32, u32, u32, u32)) -> Vec<f32> {
    let (x0, y0, width, height) = window;
    if factor == 1.0 {
        return pixels(cell, x0.into(), y0.into(), width, height);
    }
    let middle = middle as f32;
    (y0..y0 + height)
        .flat_map(|y| (x0..x0 + width).map(move |x| (x, y)))
        .map(|(x, y)| {
            f32::from(bilinear(
                cell,
                x as f32,
                middle + (y as f32 - middle) / factor,
            ))
        })
        .collect()
}

/// The `width` x `height` pixels at (`x0`, `y0`) of `image`, row-major;
/// paper outside it.
pub(super) fn pixels(image: &GrayImage, x0: i64, y0: i64, width: u32, height: u32) -> Vec<f32> {
    let (w, h) = (i64::from(image.width()), i64::from(image.height()));
    let (width, height) = (i64::from(width), i64::from(height));
    let mut out = Vec::with_capacity((width * height) as usize);
    let raw = image.as_raw();
    // The columns of the window inside the image; paper (255) around them.
    let (inside_from, inside_to) = (x0.clamp(0, w), (x0 + width).clamp(0, w));
    let (before, after) = (
        (inside_from - x0).clamp(0, width) as usize,
        (x0 + width - inside_to.max(inside_from)).clamp(0, width) as usize,
    );
    for y in y0..y0 + height {
        if !(0..h).contains(&y) || inside_to <= inside_from {
            out.extend(std::iter::repeat_n(255.0, width as usize));
            continue;
        }
        let row = (y * w) as usize;
        out.extend(std::iter::repeat_n(255.0, before));
        out.extend(
            raw[row + inside_from as usize..row + inside_to as usize]
                .iter()
                .map(|&v| f32::from(v)),
        );
        out.extend(std::iter::repeat_n(255.0, after));
    }
    out
}

/// Zero mean, unit norm (all zeros for a blank patch).
pub(super) fn normalised(values: &[f32]) -> Vec<f32> {
    let mean = values.iter().sum::<f32>() / values.len().max(1) as f32;
    let centred: Vec<f32> = values.iter().map(|v| v - mean).collect();
    let norm = dot(&centred, &centred).sqrt();
    if norm <= f32::EPSILON {
        return vec![0.0; values.len()];
    }
    centred.iter().map(|v| v / norm).collect()
}

/// The norm of `values` minus their mean; `None` for a blank patch.
fn centred_norm(values: &[f32]) -> Option<f32> {
    let n = values.len() as f32;
    let sum: f32 = values.iter().sum();
    let squares = dot(values, values) - sum * sum / n;
    (squares > 1.0).then(|| squares.sqrt())
}

/// Dot product in eight lanes, which the compiler turns into vector code.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Mean row of the ink between columns `x0` and `x1`.
fn ink_centroid(image: &GrayImage, x0: u32, x1: u32) -> Option<f32> {
    let (mut rows, mut count) = (0.0f64, 0u64);
    for y in 0..image.height() {
        for x in x0..x1.min(image.width()) {
            if image.get_pixel(x, y)[0] < INK_BELOW {
                rows += f64::from(y);
                count += 1;
            }
        }
    }
    (count > 0).then(|| (rows / count as f64) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::Date;
    use crate::locate;
    use ab_glyph::FontVec;
    use intake_samples::render::{ocrb_atlas, Fonts, Page};

    /// Valid MRZs of every layout (ICAO 9303's specimen and the generator's).
    const MRZS: [&[&str]; 4] = [
        &[
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
        ],
        &[
            "P<UZBKIM<<FERUZA<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
            "NA86989272UZB9711220F29040544666899731531930",
        ],
        &[
            "IDUZBZ92359498<1548<<<<<<<<<<<",
            "7201275F3411012UZB<<<<<<<<<<<4",
            "TSOI<<MADINA<<<<<<<<<<<<<<<<<<",
        ],
        &[
            "V<RUSSAFAROV<<FIRDAVS<<<<<<<<<<<<<<<<<<<<<<<",
            "9023672740TJK8006204M2707277<<<<<<<<<<<<<<<<",
        ],
    ];

    fn today() -> Date {
        Date::new(2026, 6, 1).unwrap()
    }

    /// The lines printed with `fonts` at `dpi` on a strip of paper, as a scanner sees them.
    fn scan(fonts: &Fonts, lines: &[&str], dpi: f32) -> GrayImage {
        let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let mut page = Page::new(125.0, 14.0 + 4.2 * lines.len() as f32, dpi);
        page.mrz(fonts, 6.0, 6.0, 4.2, &lines);
        page.image
    }

    /// The classifier's reading of a scan, and whether it stands alone.
    fn read(glyphs: &Glyphs, image: &GrayImage) -> (Vec<String>, bool) {
        let location = locate::locate(image).expect("the MRZ is found");
        let image = locate::turn(image, location.rotation);
        let reading = glyphs.read_grid(&image, &location);
        let parsed = mrz::parse(&reading.text.lines, today()).ok();
        let alone = parsed.is_some_and(|p| reading.stands_alone(&p));
        (reading.text.lines, alone)
    }

    fn truth(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn the_committed_atlas_is_the_fonts_rendering() {
        let fonts = Fonts::load().unwrap();
        let rendered = ocrb_atlas(&fonts, ALPHABET, CELL_WIDTH, CELL_HEIGHT);
        let committed = image::load_from_memory(ATLAS).unwrap().to_luma8();
        assert!(
            rendered == committed,
            "stages/src/ocr/ocrb-mrz.png is not what the font renders: run `make glyphs`"
        );
    }

    #[test]
    fn reads_ocr_b_at_any_resolution_and_blur_on_its_own() {
        let fonts = Fonts::load().unwrap();
        let glyphs = Glyphs::new().unwrap();
        for lines in MRZS {
            for dpi in [300.0, 450.0, 600.0] {
                let sharp = scan(&fonts, lines, dpi);
                assert_eq!(read(&glyphs, &sharp), (truth(lines), true), "{dpi} dpi");
            }
            for sigma in [1.1, 2.5, 4.5] {
                let blurred =
                    imageproc::filter::gaussian_blur_f32(&scan(&fonts, lines, 300.0), sigma);
                let (read, _) = read(&glyphs, &blurred);
                assert_eq!(read, truth(lines), "blur {sigma}");
                // Tesseract still reads σ 1.1, not σ 4.5: only the latter skips it.
                let location = locate::locate(&blurred).unwrap();
                let beyond = glyphs.read_grid(&blurred, &location).beyond_tesseract;
                if sigma != 2.5 {
                    assert_eq!(beyond, sigma > 4.0, "blur {sigma}");
                }
            }
        }
    }

    #[test]
    fn reads_mrzs_printed_lower_or_taller_than_the_font() {
        use intake_samples::render::MrzStyle;
        let fonts = Fonts::load().unwrap();
        let glyphs = Glyphs::new().unwrap();
        // The font's capitals are 2.54 mm at the MRZ pitch; printers go
        // lower (the 0/O difference is then all but gone) and a little taller.
        for cap_height_mm in [2.0, 2.3, 2.8] {
            for lines in MRZS {
                let owned: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                let mut page = Page::new(125.0, 14.0 + 4.2 * lines.len() as f32, 300.0);
                let style = MrzStyle {
                    cap_height_mm: Some(cap_height_mm),
                    ..MrzStyle::default()
                };
                page.mrz_styled(&fonts, 6.0, 6.0, 4.2, &owned, &style);
                let (read, _) = read(&glyphs, &page.image);
                assert_eq!(read, truth(lines), "cap height {cap_height_mm} mm");
            }
        }
    }

    #[test]
    fn reads_upside_down_text_as_nothing_it_would_accept() {
        let fonts = Fonts::load().unwrap();
        let glyphs = Glyphs::new().unwrap();
        for lines in MRZS {
            let image = scan(&fonts, lines, 300.0);
            let location = locate::locate(&image).unwrap();
            let upside_down = location.turned_180(image.width(), image.height());
            let turned = locate::turn(&image, 180);
            let reading = glyphs.read_grid(&turned, &upside_down);
            let parsed = mrz::parse(&reading.text.lines, today()).ok();
            assert!(!parsed.is_some_and(|p| reading.stands_alone(&p)));
        }
    }

    /// Prints that are not the templates' own: OCR-B's sharp-cornered cut,
    /// ink spread (bold) and starved (thin). The classifier may hand them to
    /// Tesseract, but what it lets stand alone must be right.
    #[test]
    fn other_prints_of_ocr_b_are_never_read_wrong_on_their_own() {
        let mut fonts = Fonts::load().unwrap();
        let glyphs = Glyphs::new().unwrap();
        let (mut alone, mut total) = (0, 0);
        let mut check = |image: &GrayImage, lines: &[&str], print: &str| {
            let (read, stands) = read(&glyphs, image);
            total += 1;
            if stands {
                alone += 1;
                assert_eq!(read, truth(lines), "{print} print read wrong on its own");
            }
        };
        for lines in MRZS {
            let plain = scan(&fonts, lines, 600.0);
            for spread in [1, 2] {
                let mask = imageproc::morphology::Mask::square(spread);
                let bold = imageproc::morphology::grayscale_erode(&plain, &mask);
                let thin = imageproc::morphology::grayscale_dilate(&plain, &mask);
                check(&bold, lines, "bold");
                check(&thin, lines, "thin");
            }
        }
        for lines in MRZS {
            // Glyphs a tenth shorter or taller than the font's at the same pitch.
            let plain = scan(&fonts, lines, 300.0);
            for stretch in [0.9, 1.1] {
                let h = (plain.height() as f32 * stretch) as u32;
                let image = image::imageops::resize(
                    &plain,
                    plain.width(),
                    h,
                    image::imageops::FilterType::Triangle,
                );
                check(&image, lines, "stretched");
            }
        }
        for (cut, file) in [("sharp", "OCRBS.otf"), ("oblique", "OCRBL.otf")] {
            let font = std::fs::read(format!("/usr/share/fonts/opentype/ocr-b/{file}")).unwrap();
            fonts.ocr_b = FontVec::try_from_vec(font).unwrap();
            for lines in MRZS {
                check(&scan(&fonts, lines, 300.0), lines, cut);
            }
        }
        eprintln!("other prints: {alone} of {total} read by the classifier alone");
    }
}
