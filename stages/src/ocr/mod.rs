//! OCR stage: read the MRZ grid with the OCR-B glyph classifier and, where
//! it is not sure, with Tesseract (leptess), as [`read_mrz`] decides; read
//! the visual zone with Tesseract.
//!
//! Both MRZ readers work on strips resampled along the located grid
//! (deskewed, scaled to a 30-pixel pitch). The glyph classifier
//! ([`glyphs`]) compares each cell with the 37 OCR-B characters; its reading
//! stands alone when every check digit agrees and no close call falls where
//! no check digit looks (names, `G`/`6`), which is nearly always on a real
//! OCR-B print, at a tenth of Tesseract's cost.
//!
//! Tesseract reads a strip as one line with the alphabet restricted to
//! `A-Z0-9<`. Its symbols (hOCR character boxes) are then put into the
//! grid's cells by their position, never by their order: an extra symbol
//! (the `<` read as `<K`) lands in an occupied cell and loses to the more
//! confident one, and a dropped symbol (long `<<<<` runs) leaves an empty
//! cell that is read again on its own.
//!
//! One Tesseract engine per worker thread, created once: Tesseract
//! instances are not thread-safe and loading a model costs far more than
//! reading a line. Run with `OMP_THREAD_LIMIT=1` (the binary sets it) so
//! each engine stays on its thread.

pub mod glyphs;
pub mod read;

pub use read::{read_mrz, MrzRead};

use crate::locate::{GridLine, MrzLocation};
use glyphs::GlyphError;
use image::{GrayImage, Luma};
use intake_models::config::Ocr;
use leptess::tesseract::TessApi;
use std::ffi::CString;
use thiserror::Error;

/// Pixels per character cell in the strips handed to Tesseract.
const STRIP_PITCH: f32 = 30.0;
/// Most empty cells per line read again one by one.
const MAX_REREAD_CELLS: usize = 4;
/// Tesseract's symbol confidence (0–100) below which a letter is in doubt;
/// on clean 300 dpi MRZs real letters read at 93–99, misreads at 75–90.
const SURE_CONFIDENCE: f32 = 92.0;
const MRZ_ALPHABET: &str = glyphs::ALPHABET;
const DIGITS: &str = "0123456789<";

/// Cells of the document number (TD1: with its overflow into the optional data).
fn number_cells(shape: (usize, usize)) -> Vec<(usize, usize)> {
    match shape {
        (3, 30) => (5..29).map(|c| (0, c)).collect(),
        (2, _) => (0..9).map(|c| (1, c)).collect(),
        _ => Vec::new(),
    }
}

/// Cells that hold only digits or `<` (dates and check digits, ICAO 9303
/// Parts 4–7) in a grid of `shape` = (lines, characters): (line, column).
fn digit_cells(shape: (usize, usize)) -> Vec<(usize, usize)> {
    let mut cells = Vec::new();
    match shape {
        (3, 30) => {
            cells.push((0, 14));
            cells.extend((0..7).chain(8..15).chain(29..30).map(|c| (1, c)));
        }
        // TD2, TD3 and visas alike; their last column is a digit only in TD2/TD3.
        (2, _) => cells.extend([9].into_iter().chain(13..20).chain(21..28).map(|c| (1, c))),
        _ => {}
    }
    cells
}

#[derive(Debug, Error)]
pub enum OcrError {
    #[error("cannot start Tesseract with language {language:?} (is tesseract-ocr-{language} installed? `make setup` installs it)")]
    Init { language: String },
    #[error("Tesseract rejected setting {name}")]
    Setting { name: &'static str },
    #[error(transparent)]
    Glyphs(#[from] GlyphError),
}

/// Text read from an MRZ grid: one string per line, one character per cell.
#[derive(Debug, Clone, PartialEq)]
pub struct MrzText {
    pub lines: Vec<String>,
    /// Cells Tesseract left empty and a second, single-character pass filled.
    pub reread_cells: usize,
    /// (line, column) of letters and digits read with low confidence: where
    /// no check digit covers them, a person must look.
    pub unsure: Vec<(usize, usize)>,
}

struct Engine {
    api: TessApi,
}

impl Engine {
    fn new(cfg: &Ocr, language: &str) -> Result<Engine, OcrError> {
        let api =
            TessApi::new(cfg.tessdata_dir.as_deref(), language).map_err(|_| OcrError::Init {
                language: language.to_string(),
            })?;
        let mut engine = Engine { api };
        // Dictionaries only hurt on codes that are not words; some builds
        // take these only at start-up, so a refusal is not an error.
        let _ = engine.set("load_system_dawg", "0");
        let _ = engine.set("load_freq_dawg", "0");
        // Strips are handed over at a known scale; this also stops Tesseract
        // printing its own resolution guess on stderr.
        let _ = engine.set("user_defined_dpi", "300");
        Ok(engine)
    }

    fn set(&mut self, name: &'static str, value: &str) -> Result<(), OcrError> {
        let (Ok(n), Ok(v)) = (CString::new(name), CString::new(value)) else {
            return Err(OcrError::Setting { name });
        };
        self.api
            .raw
            .set_variable(&n, &v)
            .map_err(|_| OcrError::Setting { name })
    }

    /// Hands a grey image to Tesseract; false if it refuses the buffer.
    fn set_image(&mut self, image: &GrayImage) -> bool {
        let (w, h) = image.dimensions();
        let (Ok(w), Ok(h)) = (i32::try_from(w), i32::try_from(h)) else {
            return false;
        };
        self.api.raw.set_image(image.as_raw(), w, h, 1, w).is_ok()
    }
}

/// Tesseract set up to read MRZ lines, one per worker thread (the OCR-B
/// glyph classifier, [`glyphs::Glyphs`], reads first and is shared by all threads).
pub struct MrzOcr {
    engine: Engine,
}

impl MrzOcr {
    pub fn new(cfg: &Ocr) -> Result<MrzOcr, OcrError> {
        let mut engine = Engine::new(cfg, &cfg.mrz_language)?;
        engine.set("tessedit_char_whitelist", MRZ_ALPHABET)?;
        engine.set("tessedit_pageseg_mode", "7")?; // one text line
        engine.set("hocr_char_boxes", "1")?;
        Ok(MrzOcr { engine })
    }

    /// Reads every line of the grid located in `image` (already turned by
    /// `location.rotation`).
    pub fn read(&mut self, image: &GrayImage, location: &MrzLocation) -> MrzText {
        let mut reread_cells = 0;
        let mut unsure: Vec<(usize, usize)> = Vec::new();
        let strips: Vec<GrayImage> = location.lines.iter().map(|l| strip(image, l)).collect();
        let mut lines: Vec<Vec<char>> = Vec::with_capacity(strips.len());
        let mut confidences: Vec<Vec<f32>> = Vec::with_capacity(strips.len());
        for (row, (strip, line)) in strips.iter().zip(&location.lines).enumerate() {
            let read = self.read_cells(strip, line.cells);
            // A few dropped symbols are read again one by one; a line
            // with many is not text the right way up, and not worth it.
            let dropped = read.iter().filter(|c| c.is_none()).count();
            let mut cells = Vec::with_capacity(read.len());
            confidences.push(
                read.iter()
                    .map(|c| c.map_or(0.0, |(conf, _)| conf))
                    .collect(),
            );
            for (i, cell) in read.into_iter().enumerate() {
                let c = match cell {
                    Some((conf, c)) => {
                        if conf < SURE_CONFIDENCE {
                            unsure.push((row, i));
                        }
                        Some(c)
                    }
                    None if dropped <= MAX_REREAD_CELLS => {
                        reread_cells += 1;
                        unsure.push((row, i));
                        self.read_one_cell(strip, i, MRZ_ALPHABET)
                    }
                    None => None,
                };
                // A cell nothing could read stays a filler: never a made-up letter.
                cells.push(c.unwrap_or('<'));
            }
            lines.push(cells);
        }
        fillers_by_template(&strips, &mut lines);
        // Names: letters and `<`. Document numbers: only `G` against `6`,
        // the one swap their check digit cannot see.
        let name_alternative = |c: char, k: char| k != c && (k.is_ascii_uppercase() || k == '<');
        let g6 = |c: char, k: char| matches!((c, k), ('G', '6') | ('6', 'G'));
        let passes = [
            (
                name_cells(location.shape),
                &name_alternative as &dyn Fn(char, char) -> bool,
            ),
            (number_cells(location.shape), &g6),
        ];
        letters_by_template(&strips, &mut lines, &confidences, &passes);
        // A letter where only a digit may stand is read again as a digit
        // (`9` read as `I` defeats the parser's I→1 repair).
        for (line, column) in digit_cells(location.shape) {
            let (Some(strip), Some(row)) = (strips.get(line), lines.get_mut(line)) else {
                continue;
            };
            if row.get(column).is_some_and(char::is_ascii_alphabetic) {
                reread_cells += 1;
                if let Some(digit) = self.read_one_cell(strip, column, DIGITS) {
                    row[column] = digit;
                }
            }
        }
        // `G` and `6` differ by 10 in check-digit value, so no check digit
        // tells them apart: a second, single-cell reading must agree.
        for (line, column) in number_cells(location.shape) {
            let (Some(strip), Some(row)) = (strips.get(line), lines.get(line)) else {
                continue;
            };
            if let Some(&c) = row.get(column).filter(|c| matches!(c, 'G' | '6')) {
                reread_cells += 1;
                if self.read_one_cell(strip, column, "6G") != Some(c) {
                    unsure.push((line, column));
                }
            }
        }
        // Fillers are settled by the template; only letters and digits stay in doubt.
        unsure.retain(|&(row, i)| lines[row].get(i).is_some_and(|c| *c != '<'));
        MrzText {
            lines: lines.into_iter().map(String::from_iter).collect(),
            reread_cells,
            unsure,
        }
    }

    /// Reads the given (line, column) cells of `text` again, one by one, as
    /// digits when `digits` is set: for fields whose check digit failed.
    pub fn reread(
        &mut self,
        image: &GrayImage,
        location: &MrzLocation,
        text: &mut MrzText,
        cells: &[(usize, usize)],
        digits: bool,
    ) {
        let alphabet = if digits { DIGITS } else { MRZ_ALPHABET };
        let mut strips: Vec<Option<GrayImage>> = vec![None; location.lines.len()];
        for &(line, column) in cells {
            let (Some(grid_line), Some(row)) = (location.lines.get(line), text.lines.get_mut(line))
            else {
                continue;
            };
            let strip = strips[line].get_or_insert_with(|| strip(image, grid_line));
            let Some(c) = self.read_one_cell(strip, column, alphabet) else {
                continue;
            };
            if column < row.len() && row.is_char_boundary(column) {
                row.replace_range(column..column + 1, &c.to_string());
                text.reread_cells += 1;
            }
        }
    }

    /// Tesseract's symbols on a strip, each put in the cell under its centre;
    /// of two in one cell the more confident wins.
    fn read_cells(&mut self, strip: &GrayImage, cells: usize) -> Vec<Option<(f32, char)>> {
        let mut best: Vec<Option<(f32, char)>> = vec![None; cells];
        if !self.engine.set_image(strip) {
            return best;
        }
        let Ok(hocr) = self.engine.api.get_hocr_text(0) else {
            return best;
        };
        for symbol in hocr_symbols(&hocr) {
            if !MRZ_ALPHABET.contains(symbol.c) {
                continue;
            }
            let index = ((symbol.x0 + symbol.x1) / 2.0 / STRIP_PITCH - 1.0).round();
            if index < 0.0 || index >= cells as f32 {
                continue;
            }
            let slot = &mut best[index as usize];
            if slot.is_none_or(|(conf, _)| symbol.conf > conf) {
                *slot = Some((symbol.conf, symbol.c));
            }
        }
        best
    }

    /// Reads cell `index` of a strip on its own, as one of `alphabet`.
    fn read_one_cell(&mut self, strip: &GrayImage, index: usize, alphabet: &str) -> Option<char> {
        let x0 = (STRIP_PITCH * (index as f32 + 0.5)).max(0.0) as u32;
        let w = STRIP_PITCH as u32;
        if x0 + w > strip.width() {
            return None;
        }
        let mut cell = GrayImage::from_pixel(w * 3, strip.height(), Luma([255]));
        image::imageops::replace(
            &mut cell,
            &*image::imageops::crop_imm(strip, x0, 0, w, strip.height()),
            i64::from(w),
            0,
        );
        let text = if self.engine.set("tessedit_pageseg_mode", "10").is_ok()
            && self.engine.set("tessedit_char_whitelist", alphabet).is_ok()
            && self.engine.set_image(&cell)
        {
            self.engine.api.get_utf8_text().ok()
        } else {
            None
        };
        let _ = self.engine.set("tessedit_pageseg_mode", "7");
        let _ = self.engine.set("tessedit_char_whitelist", MRZ_ALPHABET);
        text?.chars().find(|c| alphabet.contains(*c))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Symbol {
    c: char,
    x0: f32,
    x1: f32,
    conf: f32,
}

/// Character boxes from Tesseract's hOCR (`hocr_char_boxes`):
/// `<span class='ocrx_cinfo' title='x_bboxes 23 15 39 39; x_conf 98.9'>P</span>`.
fn hocr_symbols(hocr: &str) -> Vec<Symbol> {
    hocr.split("<span class='ocrx_cinfo' title='x_bboxes ")
        .skip(1)
        .filter_map(|piece| {
            let (title, rest) = piece.split_once("'>")?;
            let (bbox, conf) = title.split_once("; x_conf ")?;
            let mut coords = bbox.split_whitespace().map(|v| v.parse::<f32>().ok());
            let (x0, _y0, x1) = (coords.next()??, coords.next()??, coords.next()??);
            let text = rest.split('<').next()?;
            let c = match text {
                "&lt;" => '<',
                "&gt;" => '>',
                "&amp;" => '&',
                _ => text.chars().next()?,
            };
            Some(Symbol {
                c,
                x0,
                x1,
                conf: conf.trim().parse().ok()?,
            })
        })
        .collect()
}

/// Tesseract reads a lone `<` between names as `K`, `X` or `S`, and TD3
/// names have no check digit to catch it. An MRZ almost always has fillers
/// Tesseract did read as `<`; their mean image is this scan's own `<`, in
/// its own print and blur. A cell read as anything else that looks like that
/// template (normalised cross-correlation) as much as the fillers do is a
/// filler. This can only ever turn a character into `<`, never invent one.
fn fillers_by_template(strips: &[GrayImage], lines: &mut [Vec<char>]) {
    let patches: Vec<Vec<Vec<f32>>> = strips
        .iter()
        .zip(lines.iter())
        .map(|(strip, text)| (0..text.len()).map(|i| cell_patch(strip, i)).collect())
        .collect();
    let is_filler = |(c, _): &(&char, &Vec<f32>)| **c == '<';
    let fillers: Vec<&Vec<f32>> = lines
        .iter()
        .zip(&patches)
        .flat_map(|(text, p)| text.iter().zip(p).filter(is_filler).map(|(_, p)| p))
        .collect();
    let Some(first) = fillers.first() else {
        return;
    };
    if fillers.len() < 3 {
        return;
    }
    let mut template = vec![0.0f32; first.len()];
    for p in &fillers {
        for (t, v) in template.iter_mut().zip(p.iter()) {
            *t += v / fillers.len() as f32;
        }
    }
    let mut filler_scores: Vec<f32> = fillers.iter().map(|p| ncc(p, &template)).collect();
    filler_scores.sort_by(f32::total_cmp);
    // As like the template as the fillers themselves are: in a blurred scan
    // every glyph is a blob that correlates well, so a fixed bar is not enough.
    let bar = (filler_scores[filler_scores.len() / 10] - 0.03).max(MIN_FILLER_LIKENESS);
    for (text, patches) in lines.iter_mut().zip(&patches) {
        for (c, patch) in text.iter_mut().zip(patches) {
            if *c != '<' && ncc(patch, &template) > bar {
                *c = '<';
            }
        }
    }
}

/// Cells of the name field, which no check digit covers: (line, column).
fn name_cells(shape: (usize, usize)) -> Vec<(usize, usize)> {
    match shape {
        (3, 30) => (0..30).map(|c| (2, c)).collect(),
        (2, n) => (5..n).map(|c| (0, c)).collect(),
        _ => Vec::new(),
    }
}

/// How much better than its own character's template a name letter must
/// match another character's template (or the `<`) to be read as that one.
const LETTER_MARGIN: f32 = 0.06;

/// Cells (line, column) to check, and which characters each may be instead of
/// the one read: `alternative(read, other)`.
type TemplatePass<'a> = (Vec<(usize, usize)>, &'a dyn Fn(char, char) -> bool);

/// Names have no check digit, and Tesseract confuses `I` with `T` and reads
/// the first `<` of the `<<` separator as `K` or `X`; in a document number
/// no check digit tells `G` from `6`. The scan prints every character alike,
/// so the mean image of the cells read confidently as one character is that
/// character in this scan's own print. A cell that matches another
/// character's template clearly better than its own (leave one out: never
/// its own cell), and almost perfectly, is that other character; one with no
/// template of its own must match the other almost perfectly. Only ever
/// between characters the scan itself shows; a `G` that occurs nowhere else
/// stays in doubt (the second reading in [`MrzOcr::read`] sends it to review).
fn letters_by_template(
    strips: &[GrayImage],
    lines: &mut [Vec<char>],
    confidences: &[Vec<f32>],
    passes: &[TemplatePass],
) {
    let patches: Vec<Vec<Vec<f32>>> = strips
        .iter()
        .zip(lines.iter())
        .map(|(strip, text)| (0..text.len()).map(|i| cell_patch(strip, i)).collect())
        .collect();
    let sure = |row: usize, i: usize| {
        confidences
            .get(row)
            .and_then(|c| c.get(i))
            .is_some_and(|&k| k >= SURE_CONFIDENCE)
    };
    // Sum of the patches of each character's confident cells, and their count.
    let mut sums: Vec<(char, Vec<f32>, usize)> = Vec::new();
    for (row, (text, patches)) in lines.iter().zip(&patches).enumerate() {
        for (i, (&c, patch)) in text.iter().zip(patches).enumerate() {
            if c != '<' && !sure(row, i) {
                continue;
            }
            match sums.iter_mut().find(|(k, _, _)| *k == c) {
                Some((_, sum, n)) => {
                    sum.iter_mut().zip(patch).for_each(|(s, v)| *s += v);
                    *n += 1;
                }
                None => sums.push((c, patch.clone(), 1)),
            }
        }
    }
    for (cells, alternative) in passes {
        for &(row, i) in cells {
            let (Some(&c), Some(strip), Some(patch)) = (
                lines.get(row).and_then(|t| t.get(i)),
                strips.get(row),
                patches.get(row).and_then(|p| p.get(i)),
            ) else {
                continue;
            };
            if c == '<' {
                continue;
            }
            // Its own character's template, without this cell.
            let member = sure(row, i);
            let own: Option<Vec<f32>> = sums
                .iter()
                .find(|(k, _, _)| *k == c)
                .filter(|(_, _, n)| !member || *n >= 2)
                .map(|(_, sum, _)| {
                    if member {
                        sum.iter().zip(patch).map(|(s, v)| s - v).collect()
                    } else {
                        sum.clone()
                    }
                });
            if own
                .as_ref()
                .is_some_and(|t| ncc(patch, t) >= CLEARLY_ITSELF)
            {
                continue;
            }
            let mut rivals: Vec<(char, f32, &Vec<f32>)> = sums
                .iter()
                .filter(|(k, _, _)| alternative(c, *k))
                .map(|(k, sum, _)| (*k, ncc(patch, sum), sum))
                .collect();
            rivals.sort_by(|a, b| b.1.total_cmp(&a.1));
            rivals.truncate(RIVALS);
            if rivals.is_empty() {
                continue;
            }
            // The grid may drift by a pixel or two along a line: the best of a few shifts.
            let shifted: Vec<Vec<f32>> = (-SHIFT..=SHIFT)
                .map(|dx| cell_patch_at(strip, i, dx))
                .collect();
            let likeness = |t: &[f32]| shifted.iter().map(|p| ncc(p, t)).fold(f32::MIN, f32::max);
            let Some((alt, score)) = rivals
                .iter()
                .map(|(k, _, t)| (*k, likeness(t)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
            else {
                continue;
            };
            let better = match own.as_deref().map(likeness) {
                Some(own) => score > own + LETTER_MARGIN && score > SOLE_LETTER_LIKENESS,
                // A letter with no template of its own (read once, unsure) that
                // is all but identical to another character in this scan.
                None if alt == '<' => score > SOLE_FILLER_LIKENESS,
                None => score > SOLE_LETTER_LIKENESS,
            };
            if better {
                lines[row][i] = alt;
            }
        }
    }
}

/// Likeness to its own character's template at which a cell is left alone.
const CLEARLY_ITSELF: f32 = 0.97;
/// Other characters' templates (the most alike) a doubtful cell is matched against.
const RIVALS: usize = 3;
/// Pixels a cell is shifted either way when matched against a template.
const SHIFT: i32 = 3;
/// Correlation with another character's template below which a name letter
/// is always kept; above it, a letter read only once, with no template of its
/// own, is that other character. In a skewed or blurred scan glyphs match
/// each other's templates at 0.7–0.85, a misread at 0.93–1.
const SOLE_LETTER_LIKENESS: f32 = 0.93;
/// The same for the `<` (read as `K` or `X`), whose template is the mean
/// of many fillers and so a little blurred.
const SOLE_FILLER_LIKENESS: f32 = 0.88;

/// The pixels of cell `i` shifted `dx` pixels along the strip.
fn cell_patch_at(strip: &GrayImage, i: usize, dx: i32) -> Vec<f32> {
    let x0 = (STRIP_PITCH * (i as f32 + 0.5)) as i64 + i64::from(dx);
    glyphs::pixels(strip, x0, 0, STRIP_PITCH as u32, strip.height())
}

/// Correlation with the line's `<` below which a cell is never a filler.
const MIN_FILLER_LIKENESS: f32 = 0.8;

/// The pixels of cell `i` (one pitch wide, the strip's height), row-major.
fn cell_patch(strip: &GrayImage, i: usize) -> Vec<f32> {
    cell_patch_at(strip, i, 0)
}

/// Normalised cross-correlation of two equally long patches, in -1..=1.
fn ncc(a: &[f32], b: &[f32]) -> f32 {
    glyphs::dot(&glyphs::normalised(a), &glyphs::normalised(b))
}

/// The line resampled onto a straight strip: cell `i` centred at x =
/// `STRIP_PITCH * (i + 1)`, the text centred vertically, bilinear. Every
/// strip has the same height, so cells of all lines compare pixel for pixel.
/// Ink and paper are stretched to black and white: Tesseract misreads grey
/// on grey (`L` as `E`, `I` as `T` on faded scans).
pub fn strip(image: &GrayImage, line: &GridLine) -> GrayImage {
    let mut strip = resample(image, line);
    stretch_contrast(&mut strip);
    strip
}

/// Maps the 2nd percentile to black and the 98th to white.
fn stretch_contrast(strip: &mut GrayImage) {
    let mut histogram = [0usize; 256];
    for p in strip.pixels() {
        histogram[p.0[0] as usize] += 1;
    }
    let total = strip.pixels().len();
    let percentile = |q: usize| {
        let mut seen = 0;
        histogram
            .iter()
            .position(|n| {
                seen += n;
                seen * 100 >= total * q
            })
            .unwrap_or(255) as f32
    };
    let (low, high) = (percentile(2), percentile(98));
    if high - low < 8.0 {
        return;
    }
    for p in strip.pixels_mut() {
        p.0[0] = ((p.0[0] as f32 - low) * 255.0 / (high - low)).clamp(0.0, 255.0) as u8;
    }
}

fn resample(image: &GrayImage, line: &GridLine) -> GrayImage {
    let s = STRIP_PITCH / line.pitch.max(1.0);
    let width = (STRIP_PITCH * (line.cells as f32 + 1.0)) as u32;
    // Two pitches: the glyph (about 0.9 pitch tall) with room for skew,
    // short of the next line (1.65 pitches away, ICAO 9303 line spacing).
    let height = (STRIP_PITCH * 2.0) as u32;
    let (dx, dy) = line.direction;
    let (nx, ny) = (-dy, dx);
    // Where each column of the strip falls along the line, computed once.
    let along: Vec<f32> = (0..width)
        .map(|u| line.along((u as f32 - STRIP_PITCH) / STRIP_PITCH))
        .collect();
    let mut samples = Vec::with_capacity(width as usize * height as usize);
    for v in 0..height {
        let across = (v as f32 - height as f32 / 2.0) / s;
        let (x0, y0) = (line.origin.0 + across * nx, line.origin.1 + across * ny);
        samples.extend(
            along
                .iter()
                .map(|t| bilinear(image, x0 + t * dx, y0 + t * dy)),
        );
    }
    GrayImage::from_raw(width, height, samples).unwrap_or_else(|| GrayImage::new(width, height))
}

fn bilinear(image: &GrayImage, x: f32, y: f32) -> u8 {
    let (w, h) = image.dimensions();
    if x < 0.0 || y < 0.0 || x > (w - 1) as f32 || y > (h - 1) as f32 {
        return 255;
    }
    // Truncation is floor here: x and y are not negative.
    let (x0, y0) = (x as usize, y as usize);
    let (w, h) = (w as usize, h as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let raw = image.as_raw();
    let p = |x: usize, y: usize| f32::from(raw[y * w + x]);
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    (top * (1.0 - fy) + bottom * fy + 0.5) as u8
}

/// The visual-zone reader of one worker thread (documents without an MRZ).
pub struct VizOcr {
    engine: Engine,
}

impl VizOcr {
    pub fn new(cfg: &Ocr) -> Result<VizOcr, OcrError> {
        let mut engine = Engine::new(cfg, &cfg.viz_languages)?;
        engine.set("tessedit_pageseg_mode", "6")?; // one block: no column finding
        Ok(VizOcr { engine })
    }

    /// The page's text, lines in reading order.
    pub fn read(&mut self, image: &GrayImage) -> String {
        if !self.engine.set_image(image) {
            return String::new();
        }
        self.engine.api.get_utf8_text().unwrap_or_default()
    }
}

/// The Tesseract instances of one thread. Each is started on first use: a
/// batch of passports never pays for loading the Russian model, nor one
/// the glyph classifier reads alone for starting Tesseract at all.
#[derive(Default)]
pub struct Engines {
    mrz: Option<MrzOcr>,
    viz: Option<VizOcr>,
}

impl Engines {
    pub fn mrz(&mut self, cfg: &Ocr) -> Result<&mut MrzOcr, OcrError> {
        let engine = match self.mrz.take() {
            Some(engine) => engine,
            None => MrzOcr::new(cfg)?,
        };
        Ok(self.mrz.insert(engine))
    }

    pub fn viz(&mut self, cfg: &Ocr) -> Result<&mut VizOcr, OcrError> {
        let engine = match self.viz.take() {
            Some(engine) => engine,
            None => VizOcr::new(cfg)?,
        };
        Ok(self.viz.insert(engine))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strip of `text` in blocky glyphs, one per cell, as `strip` lays them out.
    fn strip_of(text: &str) -> GrayImage {
        let width = STRIP_PITCH as u32 * (text.len() as u32 + 1);
        let mut image = GrayImage::from_pixel(width, 60, Luma([255]));
        for (i, c) in text.chars().enumerate() {
            let x0 = (STRIP_PITCH * (i as f32 + 0.5)) as u32;
            for y in 0..60u32 {
                for x in 0..30u32 {
                    let stem = (13..18).contains(&x) && (15..45).contains(&y);
                    let ink = match c {
                        'I' => stem,
                        'T' => stem || ((5..25).contains(&x) && (15..20).contains(&y)),
                        'L' => {
                            ((6..11).contains(&x) && (15..45).contains(&y))
                                || ((6..24).contains(&x) && (40..45).contains(&y))
                        }
                        '<' => {
                            let d = (y as i32 - 30).abs();
                            d < 15 && (x as i32 - (8 + d * 14 / 15)).abs() < 3
                        }
                        _ => false,
                    };
                    if ink {
                        image.put_pixel(x0 + x, y, Luma([0]));
                    }
                }
            }
        }
        image
    }

    fn names(printed: &str, read: &str, doubtful: &[usize]) -> String {
        let strips = [strip_of(printed)];
        let mut lines = vec![read.chars().collect::<Vec<char>>()];
        let confidences = vec![(0..read.len())
            .map(|i| if doubtful.contains(&i) { 80.0 } else { 99.0 })
            .collect::<Vec<f32>>()];
        let letters = |c: char, k: char| k != c && (k.is_ascii_uppercase() || k == '<');
        let passes = [(
            (0..read.len()).map(|i| (0, i)).collect(),
            &letters as &dyn Fn(char, char) -> bool,
        )];
        letters_by_template(&strips, &mut lines, &confidences, &passes);
        lines[0].iter().collect()
    }

    #[test]
    fn a_letter_printed_like_another_is_that_letter() {
        // The third cell is printed `I`, read `T` with some doubt.
        assert_eq!(names("ILIIL<<<<", "ILTIL<<<<", &[2]), "ILIIL<<<<");
        // Read `T` with full confidence, still printed exactly like the `I`s.
        assert_eq!(names("ILIIL<<<<", "ILTIL<<<<", &[]), "ILIIL<<<<");
    }

    #[test]
    fn a_filler_read_as_a_letter_is_a_filler() {
        assert_eq!(names("IL<<I<<<<", "ILT<I<<<<", &[2]), "IL<<I<<<<");
    }

    #[test]
    fn letters_that_look_like_themselves_stay() {
        assert_eq!(names("TLTIL<<<<", "TLTIL<<<<", &[]), "TLTIL<<<<");
        assert_eq!(names("TLTIL<<<<", "TLTIL<<<<", &[0, 2]), "TLTIL<<<<");
    }
}
