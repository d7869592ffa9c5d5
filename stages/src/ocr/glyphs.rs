//! The MRZ glyph classifier: each cell of the grid against the 37 OCR-B
//! characters it may hold.
//!
//! ICAO 9303 prints the MRZ in one typeface (OCR-B) on a fixed 2.54 mm
//! pitch (Part 3 §4.4). Once the locate stage has found the grid there is
//! no layout left to analyse, only a cell to tell among 37 known shapes.
//! Printers do not agree on the size, though (cap heights 0.8–1.15 of the
//! font's, glyphs ±15% wide), nor on the weight, and the scan adds blur,
//! noise, JPEG and the security print behind the zone.
//!
//! So the cell is first normalised to its line ([`super::model`]: the line's
//! baseline and letter height measured on the strip, the cell resampled to
//! a fixed cap height), then scored by a small network trained on OCR-B
//! rendered from the six cuts of fonts-ocr-b by three rasterisations under
//! all those variations (`make glyph-model`, `stages/glyph-model/`; the
//! weights, `glyph-mlp.bin`, are committed). Each line is read twice: the
//! first reading tells the letters from the digits, whose heights then fix
//! the line's scale exactly (OCR-B's `0` is an `O` 8% taller), and the
//! second reads every cell at that scale. Each cell is read where the line's
//! lattice, fitted to the cells' ink, puts it.
//!
//! It says how sure it is (the margin of the best character's probability
//! over the runner-up's), so the caller can fall back on Tesseract where
//! the print is not the font's.

use super::model::{cell_centres, cell_inputs, measure_line, Ink, LineGeometry, Mlp, INPUTS};
use super::{strip, MrzText};
use crate::locate::MrzLocation;
use crate::mrz::{self, ParsedMrz};
use image::GrayImage;
use thiserror::Error;

/// The characters of the MRZ, in the network's output order.
pub const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";
/// Width of one cell on a strip: the strips' pitch.
pub const CELL_WIDTH: u32 = super::STRIP_PITCH as u32;
/// Height of a strip.
pub const CELL_HEIGHT: u32 = 60;

/// The trained network (`make glyph-model`).
const MODEL: &[u8] = include_bytes!("glyph-mlp.bin");
/// Probability margin from which a first reading's cell counts towards the
/// line's scale.
const SCALE_MARGIN: f32 = 0.5;
/// Relative change of the line's letter height below which the first
/// reading stands (a tenth of the 8% between `O` and `0`).
const SAME_SCALE: f32 = 0.008;

#[derive(Debug, Error)]
pub enum GlyphError {
    #[error("the glyph model cannot be read ({0}); rebuild it with `make glyph-model`")]
    Model(String),
}

/// One cell as classified.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    c: char,
    /// The network's probability of `c`.
    score: f32,
    /// The next most likely character, and how much less likely it is.
    runner_up: char,
    margin: f32,
    /// The network's probability of every character of [`ALPHABET`].
    p: [f32; 37],
}

/// The trained classifier, loaded once per worker.
pub struct Glyphs {
    mlp: Mlp,
}

impl Glyphs {
    /// The classifier with the committed network.
    pub fn new() -> Result<Glyphs, GlyphError> {
        let mlp = Mlp::from_bytes(MODEL).map_err(|e| GlyphError::Model(e.to_string()))?;
        if mlp.classes() != ALPHABET.len() {
            return Err(GlyphError::Model(format!("{} classes", mlp.classes())));
        }
        Ok(Glyphs { mlp })
    }

    /// Reads the grid located in `image` (already turned by `location.rotation`).
    pub fn read_grid(&self, image: &GrayImage, location: &MrzLocation) -> GlyphReading {
        let strips: Vec<GrayImage> = location.lines.iter().map(|l| strip(image, l)).collect();
        let cells: Vec<usize> = location.lines.iter().map(|l| l.cells).collect();
        let (mut read, blur) = self.read(&strips, &cells);
        // Each cell as the field it stands in allows: no digit in a name, no
        // letter in a date.
        let shape = (cells.len(), cells.first().copied().unwrap_or(0));
        if cells.iter().all(|&n| n == shape.1) {
            for (line, row) in read.iter_mut().enumerate() {
                for (column, cell) in row.iter_mut().enumerate() {
                    *cell = best_of(&cell.p, field_chars(shape, line, column));
                }
            }
        }
        let close: Vec<(usize, usize, char)> = read
            .iter()
            .enumerate()
            .flat_map(|(line, row)| {
                row.iter()
                    .enumerate()
                    .filter(|(_, cell)| cell.margin < GLYPH_MARGIN)
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
            margins: read
                .iter()
                .map(|row| row.iter().map(|cell| cell.margin).collect())
                .collect(),
            beyond_tesseract: blur >= TESSERACT_BLUR_LIMIT,
        }
    }

    /// Classifies every cell of every strip (`cells[i]` cells in `strips[i]`,
    /// cell `j` centred at x = `CELL_WIDTH * (j + 1)`, as the OCR stage cuts them).
    /// Also returns the blur (σ in strip pixels) measured on the lines.
    fn read(&self, strips: &[GrayImage], cells: &[usize]) -> (Vec<Vec<Cell>>, f32) {
        let mut blur: f32 = 0.0;
        let out = strips
            .iter()
            .zip(cells)
            .map(|(strip, &n)| {
                let ink = Ink::new(strip);
                let mut line = measure_line(&ink, n);
                blur = blur.max(line.blur);
                let centres = cell_centres(&ink, &line, n);
                let first = self.read_line(&ink, &line, &centres);
                let classes: Vec<Option<usize>> = first
                    .iter()
                    .map(|cell| {
                        (cell.margin >= SCALE_MARGIN)
                            .then(|| ALPHABET.find(cell.c))
                            .flatten()
                    })
                    .collect();
                match line.refined_cap(&classes) {
                    // Read again only where the scale moved enough to matter.
                    Some(cap) if (cap / line.cap - 1.0).abs() >= SAME_SCALE => {
                        line.cap = cap;
                        self.read_line(&ink, &line, &centres)
                    }
                    _ => first,
                }
            })
            .collect();
        (out, blur)
    }

    /// One line's cells, each at its centre.
    fn read_line(&self, ink: &Ink, line: &LineGeometry, centres: &[f32]) -> Vec<Cell> {
        let mut inputs = vec![0.0f32; INPUTS];
        centres
            .iter()
            .enumerate()
            .map(|(j, &centre)| {
                cell_inputs(ink, line, j, centre, &mut inputs);
                cell(&self.mlp.probabilities(&inputs))
            })
            .collect()
    }
}

/// The cell read from class probabilities `p`.
fn cell(p: &[f32]) -> Cell {
    let mut all = [0.0f32; 37];
    for (a, v) in all.iter_mut().zip(p) {
        *a = *v;
    }
    best_of(&all, Chars::Any)
}

/// The characters ICAO 9303 lets a field hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chars {
    /// Letters and `<` (codes, names, nationality, sex).
    Letters,
    /// Digits and `<` (dates, check digits).
    Digits,
    Any,
}

impl Chars {
    fn allows(self, c: u8) -> bool {
        match self {
            Chars::Letters => c.is_ascii_uppercase() || c == b'<',
            Chars::Digits => c.is_ascii_digit() || c == b'<',
            Chars::Any => true,
        }
    }
}

/// The best character `chars` allows, and the runner-up; a character the
/// field does not allow that is likelier still counts as the runner-up, so
/// the cell stays in doubt.
fn best_of(p: &[f32; 37], chars: Chars) -> Cell {
    let alphabet = ALPHABET.as_bytes();
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let first = order
        .iter()
        .copied()
        .find(|&k| chars.allows(alphabet[k]))
        .unwrap_or(order[0]);
    let second = order
        .iter()
        .copied()
        .find(|&k| k != first && (chars.allows(alphabet[k]) || p[k] > p[first]))
        .unwrap_or(first);
    Cell {
        c: alphabet[first] as char,
        score: p[first],
        runner_up: alphabet[second] as char,
        margin: (p[first] - p[second]).max(0.0),
        p: *p,
    }
}

/// What each cell of an MRZ of `shape` (lines, cells per line) may hold
/// (ICAO 9303 Parts 4–6; visas' optional data as `Any`).
fn field_chars(shape: (usize, usize), line: usize, column: usize) -> Chars {
    use Chars::{Any, Digits, Letters};
    match shape {
        (2, 44) | (2, 36) => match (line, column) {
            (0, _) => Letters,
            (1, 0..=8) => Any,
            (1, 9) | (1, 13..=19) | (1, 21..=27) => Digits,
            (1, 10..=12) | (1, 20) => Letters,
            _ => Any,
        },
        (3, 30) => match (line, column) {
            (0, 0..=4) => Letters,
            (0, 14) => Digits,
            (1, 0..=6) | (1, 8..=14) | (1, 29) => Digits,
            (1, 7) | (1, 15..=17) => Letters,
            (2, _) => Letters,
            _ => Any,
        },
        _ => Any,
    }
}

/// A reading by the glyph classifier alone.
#[derive(Debug, Clone, PartialEq)]
pub struct GlyphReading {
    /// `unsure` holds the cells of `close`.
    pub text: MrzText,
    /// Cells (line, column) whose runner-up came within [`GLYPH_MARGIN`],
    /// and that runner-up.
    pub close: Vec<(usize, usize, char)>,
    /// Every cell's margin (line, column): its character's probability less
    /// the runner-up's, in 0..=1.
    pub margins: Vec<Vec<f32>>,
    /// The scan is blurred beyond what Tesseract reads: a second opinion
    /// from it is not worth asking for.
    pub beyond_tesseract: bool,
}

/// Blur (σ of the steepest edges, strip pixels) from which Tesseract is not
/// asked for a second opinion: it reads the generator's scans blurred by
/// σ 1.1 and none blurred by σ 4.5 (`make compare`); the measure gives
/// about 1 and 3.5 on those.
const TESSERACT_BLUR_LIMIT: f32 = 2.8;

/// Probability margin by which a cell's character must beat the runner-up
/// for the classifier to be sure of it (chosen on the held-out synthetic
/// set of `make glyph-model`: above it, cells are almost never wrong).
const GLYPH_MARGIN: f32 = 0.6;

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

/// The `width` x `height` pixels at (`x0`, `y0`) of `image`, row-major;
/// paper outside it.
pub(super) fn pixels(image: &GrayImage, x0: i64, y0: i64, width: u32, height: u32) -> Vec<f32> {
    let (w, h) = (i64::from(image.width()), i64::from(image.height()));
    let mut out = Vec::with_capacity((width * height) as usize);
    for y in y0..y0 + i64::from(height) {
        for x in x0..x0 + i64::from(width) {
            let inside = (0..w).contains(&x) && (0..h).contains(&y);
            out.push(if inside {
                f32::from(image.get_pixel(x as u32, y as u32)[0])
            } else {
                255.0
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::Date;
    use crate::locate;
    use ab_glyph::FontVec;
    use intake_samples::render::{Fonts, Page};

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

    /// Every character of the MRZ, clean, in the font's own rendering (the
    /// generator's, ab_glyph): the committed network reads them all.
    #[test]
    fn the_committed_model_reads_the_fonts_rendering() {
        let fonts = Fonts::load().unwrap();
        let glyphs = Glyphs::new().unwrap();
        let lines = [
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<<<<<<<<",
            "0O0O8B5S2Z1I7T6GQD<KX4AUV<0O<O0<MNWH3E9FJ<LP",
        ];
        for dpi in [300.0, 400.0, 600.0] {
            let image = scan(&fonts, &lines, dpi);
            let location = locate::locate(&image).expect("the MRZ is found");
            let image = locate::turn(&image, location.rotation);
            // Not an MRZ's layout: the cells as read, before the fields' rules.
            let strips: Vec<GrayImage> = location.lines.iter().map(|l| strip(&image, l)).collect();
            let cells: Vec<usize> = location.lines.iter().map(|l| l.cells).collect();
            let read: Vec<String> = glyphs
                .read(&strips, &cells)
                .0
                .iter()
                .map(|row| row.iter().map(|c| c.c).collect())
                .collect();
            assert_eq!(read, truth(&lines), "{dpi} dpi");
        }
    }

    #[test]
    fn reads_ocr_b_at_any_resolution_and_blur_on_its_own() {
        let fonts = Fonts::load().unwrap();
        let glyphs = Glyphs::new().unwrap();
        let mut alone = 0;
        for lines in MRZS {
            for dpi in [300.0, 450.0, 600.0] {
                let sharp = scan(&fonts, lines, dpi);
                let (read, stands) = read(&glyphs, &sharp);
                assert_eq!(read, truth(lines), "{dpi} dpi");
                alone += usize::from(stands);
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
        // A close call in a name (an `O` the network finds tall) goes to
        // Tesseract: one of the twelve sharp scans does today.
        assert!(alone >= 11, "{alone} of 12 sharp scans read alone");
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

    /// Accuracy on the held-out synthetic set of `make glyph-model`
    /// (`GLYPH_HELDOUT=out/glyph-data/heldout.strips`), per variation: the
    /// classifier's real path (placement, shifts) on each line's strip.
    #[test]
    #[ignore]
    fn held_out_accuracy() {
        let Ok(path) = std::env::var("GLYPH_HELDOUT") else {
            return;
        };
        let bytes = std::fs::read(&path).unwrap();
        let presets: Vec<String> = std::fs::read_to_string(format!("{path}.json"))
            .unwrap()
            .lines()
            .map(|l| {
                let from = l.find("\"preset\": \"").unwrap() + 11;
                l[from..from + l[from..].find('"').unwrap()].to_string()
            })
            .collect();
        let glyphs = Glyphs::new().unwrap();
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        // preset -> (cells, right, sure but wrong, lines, lines right)
        let mut table: Vec<(String, [usize; 5])> = Vec::new();
        let (mut at, mut line, mut seconds) = (0usize, 0usize, 0.0f64);
        let mut td3_line = (0.0f64, 0usize);
        let mut confusions: Vec<(char, char, usize)> = Vec::new();
        let margins = [0.3f32, 0.6, 0.8, 0.9, 0.95, 0.98];
        // (sure, sure but wrong) at each margin
        let mut by_margin = vec![(0usize, 0usize); margins.len()];
        while at + 8 <= bytes.len() && line < presets.len() {
            let (width, cells) = (u32_at(at), u32_at(at + 4) as usize);
            let n = (width * CELL_HEIGHT) as usize;
            if at + 8 + n + 5 * cells > bytes.len() {
                break;
            }
            let strip = GrayImage::from_raw(width, CELL_HEIGHT, bytes[at + 8..at + 8 + n].to_vec())
                .unwrap();
            let truth: Vec<char> = (0..cells)
                .map(|j| ALPHABET.as_bytes()[bytes[at + 8 + n + 5 * j] as usize] as char)
                .collect();
            at += 8 + n + 5 * cells;
            let t = std::time::Instant::now();
            let (read, _) = glyphs.read(std::slice::from_ref(&strip), &[cells]);
            seconds += t.elapsed().as_secs_f64();
            if cells == 44 {
                td3_line.0 += t.elapsed().as_secs_f64();
                td3_line.1 += 1;
            }
            let row = &read[0];
            for (c, t) in row.iter().zip(&truth) {
                for (m, e) in margins.iter().zip(by_margin.iter_mut()) {
                    if c.margin >= *m {
                        e.0 += 1;
                        e.1 += usize::from(c.c != *t);
                    }
                }
                if c.c != *t {
                    match confusions.iter_mut().find(|(a, b, _)| a == t && *b == c.c) {
                        Some(e) => e.2 += 1,
                        None => confusions.push((*t, c.c, 1)),
                    }
                }
            }
            let right = row.iter().zip(&truth).filter(|(c, t)| c.c == **t).count();
            let sure_wrong = row
                .iter()
                .zip(&truth)
                .filter(|(c, t)| c.c != **t && c.margin >= GLYPH_MARGIN)
                .count();
            for key in ["all", presets[line].as_str()] {
                let i = match table.iter().position(|(k, _)| k == key) {
                    Some(i) => i,
                    None => {
                        table.push((key.to_string(), [0; 5]));
                        table.len() - 1
                    }
                };
                let e = &mut table[i].1;
                e[0] += cells;
                e[1] += right;
                e[2] += sure_wrong;
                e[3] += 1;
                e[4] += usize::from(right == cells);
            }
            line += 1;
        }
        eprintln!(
            "{line} lines, {:.2} ms per line; a TD3 zone (two 44-cell lines) {:.2} ms",
            seconds * 1000.0 / line.max(1) as f64,
            2000.0 * td3_line.0 / td3_line.1.max(1) as f64
        );
        confusions.sort_by_key(|e| std::cmp::Reverse(e.2));
        let top: Vec<String> = confusions
            .iter()
            .take(16)
            .map(|(a, b, n)| format!("{a}>{b} {n}"))
            .collect();
        eprintln!("confusions (truth>read): {}", top.join(", "));
        let cells: usize = table[0].1[0];
        for (m, (sure, wrong)) in margins.iter().zip(&by_margin) {
            eprintln!(
                "margin >= {m}: {:.2}% of cells sure, {wrong} of them wrong",
                100.0 * *sure as f64 / cells as f64
            );
        }
        eprintln!("| variation | cells right % | sure but wrong | lines all right |");
        for (key, e) in &table {
            eprintln!(
                "| {key} | {:.2} | {} | {}/{} |",
                100.0 * e[1] as f64 / e[0] as f64,
                e[2],
                e[4],
                e[3]
            );
        }
    }
}
