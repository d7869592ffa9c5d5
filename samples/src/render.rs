//! Drawing on a page measured in millimetres: text in OCR-B and DejaVu, the
//! MRZ on its 2.54 mm grid, a photo, a guilloche background and QR codes.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use image::{GrayImage, Luma};
use imageproc::drawing::{draw_filled_ellipse_mut, draw_filled_rect_mut, draw_text_mut};
use imageproc::rect::Rect;
use std::path::Path;

/// ICAO 9303 Part 3 §4.4: ten characters per inch.
pub const MRZ_PITCH_MM: f32 = 2.54;

const OCR_B: &str = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";
const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const DEJAVU_BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// Why the fonts could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("cannot read font {path} ({source}); install fonts-ocr-b and fonts-dejavu-core (`make setup`)")]
    Read {
        path: &'static str,
        source: std::io::Error,
    },
    #[error("{0} is not a font file ab_glyph can read")]
    Invalid(&'static str),
}

/// The three faces the documents use.
pub struct Fonts {
    pub ocr_b: FontVec,
    pub sans: FontVec,
    pub bold: FontVec,
}

impl Fonts {
    pub fn load() -> Result<Fonts, FontError> {
        let load = |path: &'static str| -> Result<FontVec, FontError> {
            let bytes = std::fs::read(Path::new(path))
                .map_err(|source| FontError::Read { path, source })?;
            FontVec::try_from_vec(bytes).map_err(|_| FontError::Invalid(path))
        };
        Ok(Fonts {
            ocr_b: load(OCR_B)?,
            sans: load(DEJAVU)?,
            bold: load(DEJAVU_BOLD)?,
        })
    }
}

/// A white page of `width_mm` x `height_mm` rendered at `dpi`.
pub struct Page {
    pub image: GrayImage,
    px_per_mm: f32,
}

pub const INK: Luma<u8> = Luma([25]);
pub const PAPER: Luma<u8> = Luma([246]);

impl Page {
    pub fn new(width_mm: f32, height_mm: f32, dpi: f32) -> Page {
        let px_per_mm = dpi / 25.4;
        let w = (width_mm * px_per_mm).round().max(1.0) as u32;
        let h = (height_mm * px_per_mm).round().max(1.0) as u32;
        Page {
            image: GrayImage::from_pixel(w, h, PAPER),
            px_per_mm,
        }
    }

    fn px(&self, mm: f32) -> f32 {
        mm * self.px_per_mm
    }

    /// Text with its cap tops at `y_mm`, `cap_mm` high.
    pub fn text(&mut self, font: &FontVec, x_mm: f32, y_mm: f32, cap_mm: f32, text: &str) {
        let scale = scale_for_cap_height(font, self.px(cap_mm));
        let ascent = font.as_scaled(scale).ascent();
        let cap = self.px(cap_mm);
        let y = self.px(y_mm) - (ascent - cap);
        self.ink(self.px(x_mm), y, scale, font, text);
    }

    /// `text` in ink with its layout box's top left at pixel (`x`, `y`).
    fn ink(&mut self, x: f32, y: f32, scale: PxScale, font: &FontVec, text: &str) {
        let (x, y) = (x.round() as i32, y.round() as i32);
        draw_text_mut(&mut self.image, INK, x, y, scale, font, text);
    }

    /// MRZ lines in OCR-B, one character per 2.54 mm cell; the first line's
    /// cells start at (`x_mm`, `y_mm`), lines `line_pitch_mm` apart.
    pub fn mrz(
        &mut self,
        fonts: &Fonts,
        x_mm: f32,
        y_mm: f32,
        line_pitch_mm: f32,
        lines: &[String],
    ) {
        let font = &fonts.ocr_b;
        let pitch = self.px(MRZ_PITCH_MM);
        // OCR-B size I: the advance is the pitch (ten characters per inch).
        let unscaled = font
            .as_scaled(PxScale::from(1.0))
            .h_advance(font.glyph_id('0'));
        let scale = PxScale::from(pitch / unscaled.max(0.01));
        for (row, line) in lines.iter().enumerate() {
            let y = self.px(y_mm + row as f32 * line_pitch_mm);
            for (i, c) in line.chars().enumerate() {
                let x = self.px(x_mm) + i as f32 * pitch;
                self.ink(x, y, scale, font, &c.to_string());
            }
        }
    }

    /// A filled rectangle, e.g. the photo's background or the page border.
    pub fn rect(&mut self, x_mm: f32, y_mm: f32, w_mm: f32, h_mm: f32, shade: u8) {
        let rect = Rect::at(self.px(x_mm) as i32, self.px(y_mm) as i32)
            .of_size(self.px(w_mm).max(1.0) as u32, self.px(h_mm).max(1.0) as u32);
        draw_filled_rect_mut(&mut self.image, rect, Luma([shade]));
    }

    /// A holder photo: a backdrop with head and shoulders.
    pub fn photo(&mut self, x_mm: f32, y_mm: f32, w_mm: f32, h_mm: f32) {
        let (w, h) = (self.px(w_mm).max(1.0), self.px(h_mm).max(1.0));
        let mut photo = GrayImage::from_pixel(w as u32, h as u32, Luma([200]));
        let cx = (w / 2.0) as i32;
        let shoulders = ((w * 0.45) as i32, (h * 0.28) as i32);
        let face = ((w * 0.24) as i32, (h * 0.26) as i32);
        draw_filled_ellipse_mut(
            &mut photo,
            (cx, h as i32),
            shoulders.0,
            shoulders.1,
            Luma([90]),
        );
        draw_filled_ellipse_mut(
            &mut photo,
            (cx, (h * 0.42) as i32),
            face.0,
            face.1,
            Luma([150]),
        );
        let (x, y) = (self.px(x_mm) as i64, self.px(y_mm) as i64);
        image::imageops::overlay(&mut self.image, &photo, x, y);
    }

    /// A light security background (guilloche lines) over a region.
    pub fn guilloche(&mut self, x_mm: f32, y_mm: f32, w_mm: f32, h_mm: f32) {
        let (x0, y0) = (self.px(x_mm) as u32, self.px(y_mm) as u32);
        let (x1, y1) = (self.px(x_mm + w_mm) as u32, self.px(y_mm + h_mm) as u32);
        let (w, h) = self.image.dimensions();
        let period = self.px(6.0);
        for y in y0..y1.min(h) {
            for x in x0..x1.min(w) {
                let (fx, fy) = (x as f32 / period, y as f32 / period);
                let wave = (fy * 2.0 + (fx * 1.3).sin() * 1.5).sin() * (fx * 0.7 + fy * 0.4).cos();
                if wave.abs() < 0.06 {
                    self.image.put_pixel(x, y, Luma([222]));
                }
            }
        }
    }

    /// A QR code of `text`, `size_mm` square, quiet zone included.
    pub fn qr(&mut self, x_mm: f32, y_mm: f32, size_mm: f32, text: &str) -> bool {
        let Ok(code) = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M) else {
            return false;
        };
        let modules = code.width();
        let colors = code.to_colors();
        let quiet = 4;
        let module_mm = size_mm / (modules + 2 * quiet) as f32;
        self.rect(x_mm, y_mm, size_mm, size_mm, 255);
        for (i, color) in colors.iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let (mx, my) = ((i % modules + quiet) as f32, (i / modules + quiet) as f32);
                let (px0, py0) = (
                    self.px(x_mm + mx * module_mm),
                    self.px(y_mm + my * module_mm),
                );
                let (px1, py1) = (
                    self.px(x_mm + (mx + 1.0) * module_mm),
                    self.px(y_mm + (my + 1.0) * module_mm),
                );
                let rect = Rect::at(px0.round() as i32, py0.round() as i32).of_size(
                    ((px1.round() - px0.round()) as u32).max(1),
                    ((py1.round() - py0.round()) as u32).max(1),
                );
                draw_filled_rect_mut(&mut self.image, rect, INK);
            }
        }
        true
    }
}

/// The scale at which capital letters of `font` are `cap_px` high.
fn scale_for_cap_height(font: &FontVec, cap_px: f32) -> PxScale {
    let probe = PxScale::from(100.0);
    let glyph = font.glyph_id('H').with_scale(probe);
    let cap = font
        .outline_glyph(glyph)
        .map(|g| g.px_bounds().height())
        .unwrap_or(70.0)
        .max(1.0);
    PxScale::from(100.0 * cap_px / cap)
}

/// The MRZ characters of `alphabet` in OCR-B, side by side in cells of
/// `pitch` x `height` pixels, black on white: one character per cell at
/// the MRZ's own scale (the advance is the pitch), its cap middle on the
/// cell's middle row. This is the template set of the MRZ glyph classifier
/// (`intake samples --ocrb-atlas`, committed under `stages/src/ocr/`).
pub fn ocrb_atlas(fonts: &Fonts, alphabet: &str, pitch: u32, height: u32) -> GrayImage {
    use ab_glyph::point;
    let font = &fonts.ocr_b;
    let unscaled = font
        .as_scaled(PxScale::from(1.0))
        .h_advance(font.glyph_id('0'));
    let scale = PxScale::from(pitch as f32 / unscaled.max(0.01));
    let cap = font
        .outline_glyph(font.glyph_id('H').with_scale(scale))
        .map_or(pitch as f32, |g| g.px_bounds().height());
    let baseline = height as f32 / 2.0 + cap / 2.0;
    let cells = alphabet.chars().count() as u32;
    let mut coverage = vec![0.0f32; (cells * pitch * height) as usize];
    let width = cells * pitch;
    for (i, c) in alphabet.chars().enumerate() {
        let x0 = (i as u32 * pitch) as f32;
        let glyph = font
            .glyph_id(c)
            .with_scale_and_position(scale, point(x0, baseline));
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|x, y, v| {
            let (x, y) = (
                bounds.min.x as i64 + x as i64,
                bounds.min.y as i64 + y as i64,
            );
            // Ink stays in its own cell: a template never shows a neighbour.
            let cell = (x0 as i64)..(x0 as i64 + pitch as i64);
            if cell.contains(&x) && (0..height as i64).contains(&y) {
                let at = (y as u32 * width + x as u32) as usize;
                coverage[at] = (coverage[at] + v).min(1.0);
            }
        });
    }
    GrayImage::from_fn(width, height, |x, y| {
        let v = coverage[(y * width + x) as usize];
        Luma([(255.0 * (1.0 - v)).round() as u8])
    })
}
