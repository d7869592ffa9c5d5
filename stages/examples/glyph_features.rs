//! The glyph classifier's training inputs, computed by the code inference
//! runs (`intake_stages::ocr::model`), from strips made by
//! `stages/glyph-model/gen.py`.
//!
//! `glyph_features STRIPS OUT [--jitter PX]`: for every cell of every strip,
//! one record `u8 class, f32 x INPUTS` (the cell taken at its true centre
//! moved by a seeded uniform shift of up to PX strip pixels either way); and
//! `OUT.lines`: per line `f32 baseline, first cap, refined cap, blur`.
//! `OUT.heights`: per cell its height above the baseline (f32, NaN: none).
//! `--cap-jitter F`: the refined cap height scaled by up to 1 ± F.

use image::GrayImage;
use intake_stages::ocr::model::{cell_inputs, measure_line, Ink, INPUTS};
use std::io::{BufWriter, Read, Write};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = (&args[1], &args[2]);
    let jitter: f32 = args
        .iter()
        .position(|a| a == "--jitter")
        .map_or(0.0, |i| args[i + 1].parse().expect("--jitter PX"));
    let mut bytes = Vec::new();
    std::fs::File::open(input)?.read_to_end(&mut bytes)?;
    let mut out = BufWriter::new(std::fs::File::create(output)?);
    let mut lines = BufWriter::new(std::fs::File::create(format!("{output}.lines"))?);
    let mut heights = BufWriter::new(std::fs::File::create(format!("{output}.heights"))?);
    let mut at = 0usize;
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    // xorshift: the same shifts on every run.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let cap_jitter: f32 = args
        .iter()
        .position(|a| a == "--cap-jitter")
        .map_or(0.0, |i| args[i + 1].parse().expect("--cap-jitter FRACTION"));
    let mut inputs = vec![0.0f32; INPUTS];
    // A file still being written ends in a partial line: stop before it.
    while at + 8 <= bytes.len() {
        let width = u32_at(&bytes, at);
        let cells = u32_at(&bytes, at + 4) as usize;
        let n = (width * 60) as usize;
        if at + 8 + n + 5 * cells > bytes.len() {
            break;
        }
        at += 8;
        let strip = GrayImage::from_raw(width, 60, bytes[at..at + n].to_vec()).expect("strip");
        at += n;
        let ink = Ink::new(&strip);
        let mut line = measure_line(&ink, cells);
        let truth: Vec<(u8, f32)> = (0..cells)
            .map(|j| {
                let b = &bytes[at + 5 * j..at + 5 * j + 5];
                (b[0], f32::from_le_bytes([b[1], b[2], b[3], b[4]]))
            })
            .collect();
        at += 5 * cells;
        // The cap height as the second pass sees it, once the first has read
        // the line (here: the truth), give or take what a misread leaves.
        let first = line.cap;
        let classes: Vec<Option<usize>> = truth.iter().map(|&(c, _)| Some(c as usize)).collect();
        if let Some(cap) = line.refined_cap(&classes) {
            line.cap = cap * (1.0 + cap_jitter * (2.0 * uniform() - 1.0));
        }
        for v in [line.baseline, first, line.cap, line.blur] {
            lines.write_all(&v.to_le_bytes())?;
        }
        for h in &line.heights {
            heights.write_all(&h.to_le_bytes())?;
        }
        for (j, (class, centre)) in truth.into_iter().enumerate() {
            let shift = jitter * (2.0 * uniform() - 1.0);
            cell_inputs(&ink, &line, j, centre + shift, &mut inputs);
            out.write_all(&[class])?;
            for v in &inputs {
                out.write_all(&v.to_le_bytes())?;
            }
        }
    }
    Ok(())
}
