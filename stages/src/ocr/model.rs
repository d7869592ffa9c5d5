//! The trained glyph classifier's two halves: what it is shown of a cell
//! (the cell normalised to its line's measured cap height) and the network
//! that scores the 37 MRZ characters.
//!
//! Training (`make glyph-model`, `stages/glyph-model/`) draws its examples
//! through this very code (the `glyph_features` example), so a cell looks
//! the same to the network in training and in use.
//!
//! **Normalisation.** OCR-B's `0` and `O` differ mainly in height (digits
//! stand about 8% taller than letters), and printers put the MRZ's cap
//! height anywhere in 0.8–1.15 of the font's nominal size on the same
//! 2.54 mm pitch. So the cell is not compared at the strip's scale: the
//! line's baseline and its *letter* cap height are measured (every cell's
//! top, fitted by one height for letters and 1.08 times it for digits), and
//! the cell is resampled so that the letter cap height is [`CAP_ROWS`] rows
//! whatever the print, its baseline on row [`BASE_ROW`], the same scale
//! across.

use image::GrayImage;
use thiserror::Error;

/// Columns and rows of a cell as the network sees it.
pub const FEAT_W: usize = 16;
pub const FEAT_H: usize = 22;
/// The cell's samples, then its own height over the line's letter height.
pub const INPUTS: usize = FEAT_W * FEAT_H + 1;
/// The height input is (height / letter height - 1) times this: `O` about
/// 0, `0` about 0.8.
const HEIGHT_GAIN: f32 = 10.0;
/// Rows a letter's cap height spans, and the baseline's row.
pub const CAP_ROWS: f32 = 16.0;
pub const BASE_ROW: f32 = 19.0;
/// Digits' height over letters' in OCR-B (758–773 against 701–721 font units).
const DIGIT_RATIO: f32 = 1.08;
/// The `<`'s height over letters' as [`measure_line`] finds it (678 against 713).
const FILLER_RATIO: f32 = 0.95;
/// Strip pixels per cell (the OCR stage's pitch).
const PITCH: f32 = super::STRIP_PITCH;
/// Half the columns of a cell whose ink profile locates its top.
const TOP_HALF_WIDTH: f32 = 12.0;

/// One MRZ line's strip as ink (1 black, 0 paper), for sampling.
pub struct Ink {
    width: usize,
    height: usize,
    ink: Vec<f32>,
}

impl Ink {
    pub fn new(strip: &GrayImage) -> Ink {
        Ink {
            width: strip.width() as usize,
            height: strip.height() as usize,
            ink: strip
                .pixels()
                .map(|p| (255.0 - f32::from(p[0])) / 255.0)
                .collect(),
        }
    }

    fn at(&self, x: usize, y: usize) -> f32 {
        self.ink[y * self.width + x]
    }

    /// Bilinear, paper outside (pixel centres at integer coordinates).
    fn sample(&self, x: f32, y: f32) -> f32 {
        let (w, h) = (self.width as f32, self.height as f32);
        if !(x >= 0.0 && y >= 0.0 && x <= w - 1.0 && y <= h - 1.0) {
            return 0.0;
        }
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let top = self.at(x0, y0) * (1.0 - fx) + self.at(x1, y0) * fx;
        let bottom = self.at(x0, y1) * (1.0 - fx) + self.at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// Mean ink of each row between columns `x0` and `x1`.
    fn rows(&self, x0: f32, x1: f32) -> Vec<f32> {
        let x0 = x0.max(0.0) as usize;
        let x1 = (x1.max(0.0) as usize).min(self.width);
        let n = x1.saturating_sub(x0).max(1) as f32;
        (0..self.height)
            .map(|y| {
                self.ink[y * self.width + x0..y * self.width + x1.max(x0)]
                    .iter()
                    .sum::<f32>()
                    / n
            })
            .collect()
    }
}

/// Where a line's glyphs stand on its strip.
#[derive(Debug, Clone, PartialEq)]
pub struct LineGeometry {
    /// Row of the baseline (between the last ink row and the paper below).
    pub baseline: f32,
    /// Height of a letter, in strip pixels.
    pub cap: f32,
    /// Blur of the print, as the σ (strip pixels) of a gaussian edge.
    pub blur: f32,
    /// Each cell's height above the baseline (NaN where no top was found).
    pub heights: Vec<f32>,
}

/// Top of each character of [`super::glyphs::ALPHABET`] above the
/// baseline as [`measure_line`] finds it, on the scale where a letter's is
/// 713 (OCR-B font units): the median over the training lines of seed 1
/// (`make glyph-model`). Digits stand 8% taller than letters; the `<`'s
/// pointed tip is found lower than the font's 696.
const CLASS_TOP: [f32; 37] = [
    711.0, 709.0, 713.0, 697.0, 715.0, 713.0, 712.0, 712.0, 715.0, 718.0, 709.0, 718.0, 716.0,
    713.0, 716.0, 708.0, 711.0, 708.0, 715.0, 716.0, 714.0, 713.0, 714.0, 710.0, 711.0, 716.0,
    774.0, 769.0, 774.0, 774.0, 771.0, 773.0, 764.0, 775.0, 772.0, 771.0, 678.0,
];
/// The characters whose heights fix a line's scale best.
const FLAT_TOPPED: &str = "BCDEFGIOPQRSTZ0235789";
const ALPHABET_BYTES: &[u8] = super::glyphs::ALPHABET.as_bytes();
/// The letter height [`CLASS_TOP`] refers to.
const LETTER_TOP: f32 = 713.0;

impl LineGeometry {
    /// The letter height once the cells' characters are known (`classes[j]`
    /// for cell `j`, `None` where in doubt): the median of each cell's
    /// height scaled by its own character's. A line's letters and digits
    /// then agree on one scale, which tells a `0` from an `O`.
    pub fn refined_cap(&self, classes: &[Option<usize>]) -> Option<f32> {
        let caps = |take: &dyn Fn(usize) -> bool| -> Vec<f32> {
            self.heights
                .iter()
                .zip(classes)
                .filter_map(|(&h, &c)| {
                    let c = c.filter(|&c| take(c))?;
                    let top = CLASS_TOP.get(c)?;
                    h.is_finite().then(|| h * LETTER_TOP / top)
                })
                .collect()
        };
        // Characters whose top is a flat bar or a round: blur leaves where it
        // is found alone. Pointed tops (A, V, the `<`) are found lower the
        // more the scan is blurred.
        let mut found = caps(&|c| FLAT_TOPPED.as_bytes().contains(&ALPHABET_BYTES[c]));
        if found.len() < 5 {
            found = caps(&|c| ALPHABET_BYTES[c] != b'<');
        }
        if found.len() < 5 {
            return None;
        }
        let mid = found.len() / 2;
        let (_, &mut cap, _) = found.select_nth_unstable_by(mid, f32::total_cmp);
        Some(cap)
    }
}

/// The row where `profile`'s centred difference is most `sign`-ward within
/// `lo..=hi` (or, `first`, the topmost local extreme of at least 40% of
/// that), to a fraction of a row, and that difference.
fn edge(profile: &[f32], lo: usize, hi: usize, sign: f32, first: bool) -> Option<(f32, f32)> {
    let n = profile.len();
    if n < 3 {
        return None;
    }
    let d = |y: usize| sign * (profile[y + 1] - profile[y - 1]);
    let (lo, hi) = (lo.max(1), hi.min(n - 2));
    let strongest = (lo..=hi).max_by(|&a, &b| d(a).total_cmp(&d(b)))?;
    let best = if first {
        let floor = 0.4 * d(strongest);
        (lo..=hi)
            .find(|&y| d(y) >= floor && (y == hi || d(y) >= d(y + 1)))
            .unwrap_or(strongest)
    } else {
        strongest
    };
    let mut at = best as f32;
    if best > 1 && best + 2 < n {
        let (a, b, c) = (d(best - 1), d(best), d(best + 1));
        let curve = a - 2.0 * b + c;
        if curve < 0.0 {
            at += (0.5 * (a - c) / curve).clamp(-0.5, 0.5);
        }
    }
    Some((at, d(best)))
}

/// Measures the line of `cells` cells on `strip` (cell `j` centred at
/// x = 30 (j + 1)).
pub fn measure_line(ink: &Ink, cells: usize) -> LineGeometry {
    let h = ink.height;
    let x0 = PITCH / 2.0;
    let x1 = x0 + PITCH * cells as f32;
    let middle = h as f32 / 2.0;
    // The baseline: all MRZ characters stand on it.
    let rows = ink.rows(x0, x1);
    let lo = (middle + 0.1 * PITCH) as usize;
    let hi = (middle + 0.87 * PITCH) as usize;
    let baseline = edge(&rows, lo, hi, -1.0, false).map_or(middle + PITCH / 2.0, |(y, _)| y);
    // Each cell's top, then one height for letters and DIGIT_RATIO times it for digits.
    let lo = (baseline - 1.45 * PITCH).max(1.0) as usize;
    let hi = (baseline - 0.45 * PITCH).max(1.0) as usize;
    let heights: Vec<f32> = (0..cells)
        .map(|j| {
            let centre = PITCH * (j as f32 + 1.0);
            let profile = ink.rows(centre - TOP_HALF_WIDTH, centre + TOP_HALF_WIDTH);
            edge(&profile, lo, hi, 1.0, true)
                .filter(|&(_, step)| step > 0.03)
                .map_or(f32::NAN, |(top, _)| baseline - top)
        })
        .collect();
    let found: Vec<f32> = heights.iter().copied().filter(|h| h.is_finite()).collect();
    let cap = fit_cap(&found).unwrap_or(PITCH);
    LineGeometry {
        baseline,
        cap,
        blur: blur(ink, baseline, cap, x0, x1),
        heights,
    }
}

/// The letter height that best explains the cells' `heights` as letters
/// (that height), digits ([`DIGIT_RATIO`] times it) or fillers
/// ([`FILLER_RATIO`] times it); a cell called a digit or a filler costs a
/// little, so a line of one kind is read as letters. Residuals are
/// relative, so no height is favoured for being small.
fn fit_cap(heights: &[f32]) -> Option<f32> {
    if heights.is_empty() {
        return None;
    }
    let cost = |k: f32| -> f32 {
        heights
            .iter()
            .map(|&h| {
                let r = h / k;
                (r - 1.0)
                    .abs()
                    .min((r - DIGIT_RATIO).abs() + 0.005)
                    .min((r - FILLER_RATIO).abs() + 0.003)
                    .min(0.05)
            })
            .sum()
    };
    let mut best = (f32::MAX, PITCH);
    let mut k = 0.5 * PITCH;
    while k <= 1.45 * PITCH {
        let c = cost(k);
        if c < best.0 {
            best = (c, k);
        }
        k += 0.05;
    }
    Some(best.1)
}

/// The σ of a gaussian edge as steep as the line's steepest (99th percentile)
/// horizontal steps.
fn blur(ink: &Ink, baseline: f32, cap: f32, x0: f32, x1: f32) -> f32 {
    let y0 = (baseline - cap).max(0.0) as usize;
    let y1 = (baseline.max(0.0) as usize).min(ink.height);
    let (x0, x1) = (x0.max(0.0) as usize, (x1.max(0.0) as usize).min(ink.width));
    let mut steps: Vec<f32> = Vec::with_capacity((y1.saturating_sub(y0)) * (x1.saturating_sub(x0)));
    for y in y0..y1 {
        for x in x0..x1.saturating_sub(1) {
            steps.push((ink.at(x + 1, y) - ink.at(x, y)).abs());
        }
    }
    if steps.is_empty() {
        return 0.0;
    }
    let k = (steps.len() * 99 / 100).min(steps.len() - 1);
    let (_, &mut step, _) = steps.select_nth_unstable_by(k, f32::total_cmp);
    (1.0 / (step.max(0.01) * (2.0 * std::f32::consts::PI).sqrt())).min(10.0)
}

/// Where each of the line's `cells` cells is centred on the strip: the
/// grid's centres (x = 30 (j + 1)) moved by the line's offset and pitch
/// error, fitted (Theil–Sen, robust to odd glyphs and specks) to where the
/// ink of each cell is centred; twice, the second time with the windows at
/// the first fit's centres.
pub fn cell_centres(ink: &Ink, line: &LineGeometry, cells: usize) -> Vec<f32> {
    let y0 = (line.baseline - line.cap).max(0.0) as usize;
    let y1 = (line.baseline.max(0.0) as usize + 1).min(ink.height);
    let columns: Vec<f32> = (0..ink.width)
        .map(|x| (y0..y1).map(|y| ink.at(x, y)).sum())
        .collect();
    let nominal = |j: usize| PITCH * (j as f32 + 1.0);
    let (mut offset, mut slope) = (0.0f32, 0.0f32);
    for _ in 0..2 {
        let found: Vec<(f32, f32)> = (0..cells)
            .filter_map(|j| {
                let centre = nominal(j) + offset + slope * j as f32;
                let lo = (centre - 0.45 * PITCH).max(0.0) as usize;
                let hi = ((centre + 0.45 * PITCH).max(0.0) as usize).min(ink.width);
                let (mut sum, mut moment) = (0.0f32, 0.0f32);
                for (x, &w) in columns.iter().enumerate().take(hi).skip(lo) {
                    sum += w;
                    moment += w * x as f32;
                }
                // A blank cell says nothing.
                (sum > 0.1 * line.cap).then(|| (j as f32, moment / sum - nominal(j)))
            })
            .collect();
        if found.len() < 3 {
            break;
        }
        let mut slopes: Vec<f32> = Vec::with_capacity(found.len() * found.len() / 2);
        for (i, a) in found.iter().enumerate() {
            for b in &found[i + 1..] {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
        slope = median(&mut slopes).clamp(-0.3, 0.3);
        let mut offsets: Vec<f32> = found.iter().map(|(j, d)| d - slope * j).collect();
        offset = median(&mut offsets).clamp(-0.4 * PITCH, 0.4 * PITCH);
    }
    (0..cells)
        .map(|j| nominal(j) + offset + slope * j as f32)
        .collect()
}

fn median(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    let (_, &mut m, _) = values.select_nth_unstable_by(mid, f32::total_cmp);
    m
}

/// The network's input for cell `j`, centred at x = `centre` of the strip:
/// [`FEAT_W`] x [`FEAT_H`] bilinear samples, then the cell's height against
/// the line's letter height (0 where no top was found).
pub fn cell_inputs(ink: &Ink, line: &LineGeometry, j: usize, centre: f32, out: &mut [f32]) {
    let s = line.cap / CAP_ROWS;
    let x0 = centre + (0.5 - FEAT_W as f32 / 2.0) * s;
    let y0 = line.baseline + (0.5 - BASE_ROW) * s;
    for r in 0..FEAT_H {
        let y = y0 + r as f32 * s;
        for c in 0..FEAT_W {
            out[r * FEAT_W + c] = ink.sample(x0 + c as f32 * s, y);
        }
    }
    let height = line.heights.get(j).copied().unwrap_or(f32::NAN);
    out[FEAT_W * FEAT_H] = if height.is_finite() && line.cap > 0.0 {
        ((height / line.cap - 1.0) * HEIGHT_GAIN).clamp(-3.0, 3.0)
    } else {
        0.0
    };
}

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("the glyph model is malformed: {0}")]
    Malformed(&'static str),
}

/// A fully connected layer: `weights` row-major, `outputs` x `inputs`.
struct Layer {
    inputs: usize,
    outputs: usize,
    weights: Vec<f32>,
    biases: Vec<f32>,
}

/// A multilayer perceptron, ReLU between layers, softmax at the end.
pub struct Mlp {
    layers: Vec<Layer>,
}

impl Mlp {
    /// `GLM1`, the layer count (u32), then per layer its inputs and outputs
    /// (u32), weights and biases (f32), all little-endian.
    pub fn from_bytes(bytes: &[u8]) -> Result<Mlp, ModelError> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], ModelError> {
            let s = bytes
                .get(at..at + n)
                .ok_or(ModelError::Malformed("truncated"))?;
            at += n;
            Ok(s)
        };
        if take(4)? != b"GLM1" {
            return Err(ModelError::Malformed("not GLM1"));
        }
        let u32_of = |s: &[u8]| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize;
        let count = u32_of(take(4)?);
        let mut layers = Vec::with_capacity(count);
        for _ in 0..count {
            let inputs = u32_of(take(4)?);
            let outputs = u32_of(take(4)?);
            if inputs == 0 || outputs == 0 || inputs * outputs > 1 << 22 {
                return Err(ModelError::Malformed("layer size"));
            }
            let floats = |s: &[u8]| -> Vec<f32> {
                s.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            };
            let weights = floats(take(4 * inputs * outputs)?);
            let biases = floats(take(4 * outputs)?);
            layers.push(Layer {
                inputs,
                outputs,
                weights,
                biases,
            });
        }
        let chained = layers.windows(2).all(|w| w[0].outputs == w[1].inputs);
        if layers.is_empty() || !chained || layers[0].inputs != INPUTS {
            return Err(ModelError::Malformed("layers do not chain"));
        }
        Ok(Mlp { layers })
    }

    pub fn classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// Class probabilities of one input.
    pub fn probabilities(&self, input: &[f32]) -> Vec<f32> {
        let mut x = input.to_vec();
        for (i, layer) in self.layers.iter().enumerate() {
            let last = i + 1 == self.layers.len();
            x = (0..layer.outputs)
                .map(|o| {
                    let row = &layer.weights[o * layer.inputs..(o + 1) * layer.inputs];
                    let v = super::glyphs::dot(row, &x) + layer.biases[o];
                    if last {
                        v
                    } else {
                        v.max(0.0)
                    }
                })
                .collect();
        }
        let max = x.iter().copied().fold(f32::MIN, f32::max);
        let mut sum = 0.0;
        for v in x.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        x.iter_mut().for_each(|v| *v /= sum);
        x
    }
}
