//! Arbitrary pixels under an MRZ grid through the OCR-B glyph classifier
//! (strips, line placement, blur fit, every cell) and its stand-alone rule
//! through the parser: no panic, one character of the MRZ alphabet per cell.
#![no_main]

use intake_stages::dates::Date;
use intake_stages::locate::{GridLine, MrzLocation};
use intake_stages::mrz;
use intake_stages::ocr::glyphs::{Glyphs, ALPHABET};
use image::{GrayImage, Luma};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static GLYPHS: OnceLock<Glyphs> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((&pick, pixels)) = data.split_first() else {
        return;
    };
    if pixels.is_empty() {
        return;
    }
    let glyphs = GLYPHS.get_or_init(|| Glyphs::new().expect("the committed atlas loads"));
    let (lines, cells) = [(2, 44), (2, 36), (3, 30)][usize::from(pick % 3)];
    // The pixels tile a page; the grid's pitch and skew come from the first byte too.
    let pitch = 20.0 + f32::from(pick / 3 % 40);
    let slope = (f32::from(pick / 120) - 1.0) * 0.03;
    let (w, h) = ((pitch * (cells as f32 + 4.0)) as u32, (pitch * 8.0) as u32);
    let image = GrayImage::from_fn(w, h, |x, y| {
        Luma([pixels[(y as usize * 131 + x as usize) % pixels.len()]])
    });
    let norm = (1.0 + slope * slope).sqrt();
    let location = MrzLocation {
        rotation: 0,
        lines: (0..lines)
            .map(|i| GridLine {
                origin: (pitch * 2.0, pitch * (2.0 + 1.65 * i as f32)),
                direction: (1.0 / norm, slope / norm),
                pitch,
                bend: 0.0,
                char_height: pitch * 0.9,
                cells,
            })
            .collect(),
        shape: (lines, cells),
    };
    let reading = glyphs.read_grid(&image, &location);
    assert_eq!(reading.text.lines.len(), lines);
    for line in &reading.text.lines {
        assert_eq!(line.chars().count(), cells);
        assert!(line.chars().all(|c| ALPHABET.contains(c)));
    }
    let today = Date::new(2026, 6, 1).expect("a date");
    if let Ok(parsed) = mrz::parse(&reading.text.lines, today) {
        let _ = reading.stands_alone(&parsed);
    }
});
