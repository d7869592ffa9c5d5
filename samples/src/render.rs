//! Drawing on a page measured in millimetres: text in OCR-B and DejaVu, the
//! MRZ on its 2.54 mm grid, a photo, a guilloche background and QR codes.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use image::{GrayImage, Luma};
use imageproc::drawing::{draw_filled_ellipse_mut, draw_filled_rect_mut, draw_text_mut};
use imageproc::rect::Rect;
use rand::rngs::StdRng;
use rand::Rng;
use std::path::Path;

/// ICAO 9303 Part 3 §4.4: ten characters per inch.
pub const MRZ_PITCH_MM: f32 = 2.54;

const OCR_B: &str = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";
const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const DEJAVU_BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// Why the fonts could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("cannot read font {path} ({cause}); install fonts-ocr-b and fonts-dejavu-core (`make setup`)")]
    Read {
        path: &'static str,
        cause: std::io::Error,
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
            let bytes = std::fs::read(Path::new(path)).map_err(|source| FontError::Read {
                path,
                cause: source,
            })?;
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
        self.mrz_styled(
            fonts,
            x_mm,
            y_mm,
            line_pitch_mm,
            lines,
            &MrzStyle::default(),
        );
    }

    /// [`Page::mrz`] as another printer prints it: `style` sets the cap
    /// height, the glyph width and the rasteriser; the pitch stays 2.54 mm.
    /// Returns the zone's ink box in pixels: left, cap top, right, baseline.
    pub fn mrz_styled(
        &mut self,
        fonts: &Fonts,
        x_mm: f32,
        y_mm: f32,
        line_pitch_mm: f32,
        lines: &[String],
        style: &MrzStyle,
    ) -> [f32; 4] {
        let font = &fonts.ocr_b;
        let pitch = self.px(MRZ_PITCH_MM);
        let nominal = mrz_scale(font, pitch);
        let nominal_cap = cap_height_px(font, nominal);
        let ascent = font.as_scaled(nominal).ascent();
        let cap_factor = style
            .cap_height_mm
            .map_or(1.0, |mm| self.px(mm) / nominal_cap.max(0.01));
        let scale = PxScale {
            x: nominal.x * style.width_factor,
            y: nominal.y * cap_factor,
        };
        let styled_ascent = font.as_scaled(scale).ascent();
        // A narrower or wider glyph stays centred in its cell.
        let inset = pitch * (1.0 - style.width_factor) / 2.0;
        let columns = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let rows = lines.len().max(1);
        // Baselines stay where the nominal glyphs have theirs.
        let baseline = |row: usize| self.px(y_mm + row as f32 * line_pitch_mm) + ascent;
        let ink_box = [
            self.px(x_mm),
            baseline(0) - nominal_cap * cap_factor,
            self.px(x_mm) + columns as f32 * pitch,
            baseline(rows - 1),
        ];
        match style.rasteriser {
            Rasteriser::AbGlyph => {
                // Exactly the nominal layout box when the scale is the font's own.
                let lift = ascent - styled_ascent;
                for (row, line) in lines.iter().enumerate() {
                    let y = self.px(y_mm + row as f32 * line_pitch_mm) + lift;
                    for (i, c) in line.chars().enumerate() {
                        let x = self.px(x_mm) + i as f32 * pitch + inset;
                        self.ink(x, y, scale, font, &c.to_string());
                    }
                }
            }
            Rasteriser::Laser {
                printer_dpi,
                threshold,
                optics_sigma_px,
            } => {
                let mut glyphs = Vec::new();
                for (row, line) in lines.iter().enumerate() {
                    for (i, c) in line.chars().enumerate() {
                        let x = self.px(x_mm) + i as f32 * pitch + inset;
                        glyphs.push((c, x, baseline(row)));
                    }
                }
                self.laser(
                    font,
                    scale,
                    &glyphs,
                    ink_box,
                    printer_dpi,
                    threshold,
                    optics_sigma_px,
                );
            }
        }
        ink_box
    }

    /// Glyphs (character, left edge, baseline, in page pixels) printed as a
    /// laser printer prints them and a scanner sees them: the outlines are
    /// rasterised at the printer's resolution on its own grid (origins
    /// snapped to whole printer dots), every dot is on or off (`threshold`
    /// of coverage: below 0.5 the toner spreads, above it starves), the
    /// dots are averaged over each scanner pixel (a box filter) and the
    /// scanner's optics blur the result (Gaussian, `optics_sigma_px`).
    #[allow(clippy::too_many_arguments)]
    fn laser(
        &mut self,
        font: &FontVec,
        scale: PxScale,
        glyphs: &[(char, f32, f32)],
        ink_box: [f32; 4],
        printer_dpi: f32,
        threshold: f32,
        optics_sigma_px: f32,
    ) {
        use ab_glyph::point;
        let ratio = printer_dpi / (self.px_per_mm * 25.4);
        let margin = self.px(2.0);
        let (w, h) = self.image.dimensions();
        let x0 = (ink_box[0] - margin).floor().max(0.0);
        let y0 = (ink_box[1] - margin).floor().max(0.0);
        let x1 = (ink_box[2] + margin).ceil().min(w as f32);
        let y1 = (ink_box[3] + margin).ceil().min(h as f32);
        if x1 <= x0 || y1 <= y0 {
            return;
        }
        // The printer's dots over the zone and its margin.
        let (pw, ph) = (
            ((x1 - x0) * ratio).ceil() as usize,
            ((y1 - y0) * ratio).ceil() as usize,
        );
        let mut coverage = vec![0.0f32; pw * ph];
        let printer_scale = PxScale {
            x: scale.x * ratio,
            y: scale.y * ratio,
        };
        for &(c, x, baseline) in glyphs {
            let origin = point(
                ((x - x0) * ratio).round(),
                ((baseline - y0) * ratio).round(),
            );
            let glyph = font
                .glyph_id(c)
                .with_scale_and_position(printer_scale, origin);
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, v| {
                let (px, py) = (
                    bounds.min.x as i64 + i64::from(gx),
                    bounds.min.y as i64 + i64::from(gy),
                );
                if (0..pw as i64).contains(&px) && (0..ph as i64).contains(&py) {
                    let at = py as usize * pw + px as usize;
                    coverage[at] = (coverage[at] + v).min(1.0);
                }
            });
        }
        let dots: Vec<bool> = coverage.iter().map(|&v| v >= threshold).collect();
        // Each scanner pixel: the share of its area the dots cover (4 x 4 samples).
        let (sw, sh) = ((x1 - x0) as u32, (y1 - y0) as u32);
        const SAMPLES: u32 = 4;
        let ink = GrayImage::from_fn(sw, sh, |sx, sy| {
            let mut on = 0u32;
            for j in 0..SAMPLES {
                for i in 0..SAMPLES {
                    let fx = (sx as f32 + (i as f32 + 0.5) / SAMPLES as f32) * ratio;
                    let fy = (sy as f32 + (j as f32 + 0.5) / SAMPLES as f32) * ratio;
                    let (dx, dy) = (fx as usize, fy as usize);
                    if dx < pw && dy < ph && dots[dy * pw + dx] {
                        on += 1;
                    }
                }
            }
            Luma([(255 * on / (SAMPLES * SAMPLES)) as u8])
        });
        let ink = if optics_sigma_px > 0.0 {
            imageproc::filter::gaussian_blur_f32(&ink, optics_sigma_px)
        } else {
            ink
        };
        for (sx, sy, a) in ink.enumerate_pixels() {
            let a = f32::from(a.0[0]) / 255.0;
            if a <= 0.0 {
                continue;
            }
            let p = self.image.get_pixel_mut(x0 as u32 + sx, y0 as u32 + sy);
            let v = f32::from(p.0[0]) * (1.0 - a) + f32::from(INK.0[0]) * a;
            p.0[0] = v.round().clamp(0.0, 255.0) as u8;
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

    /// Security print through and beside the MRZ, whose box (left, top,
    /// right, bottom, in mm) is `mrz_mm`: a tint that varies across the page
    /// (colour print, scanned in grey), families of fine sinusoidal lines
    /// across the whole zone and rosettes of curved lines over the ends of
    /// the lines, each in a mid-grey of its own that varies along it. Drawn
    /// before the MRZ, which is printed over it.
    pub fn security_print(&mut self, mrz_mm: [f32; 4], rng: &mut StdRng) {
        use std::f32::consts::TAU;
        struct Waves {
            angle: f32,
            amplitude: f32,
            wavelength: f32,
            phase: f32,
            spacing: f32,
            half_width: f32,
            shade: f32,
            fade_period: f32,
        }
        struct Rosette {
            cx: f32,
            cy: f32,
            lobes: f32,
            lobe_depth: f32,
            phase: f32,
            spacing: f32,
            r_min: f32,
            r_max: f32,
            half_width: f32,
            shade: f32,
        }
        let [left, top, right, bottom] = mrz_mm;
        let tint_depth = rng.gen_range(0.04..0.16f32);
        let tint_period = rng.gen_range(30.0..90.0f32);
        let tint_phase = rng.gen_range(0.0..TAU);
        let waves: Vec<Waves> = (0..rng.gen_range(1..=3))
            .map(|_| Waves {
                angle: rng.gen_range(-0.12..0.12f32),
                amplitude: rng.gen_range(0.4..2.5f32),
                wavelength: rng.gen_range(3.0..12.0f32),
                phase: rng.gen_range(0.0..TAU),
                spacing: rng.gen_range(1.0..2.6f32),
                half_width: rng.gen_range(0.03..0.08f32),
                shade: rng.gen_range(120.0..215.0f32),
                fade_period: rng.gen_range(10.0..40.0f32),
            })
            .collect();
        let middle = (top + bottom) / 2.0;
        let rosettes: Vec<Rosette> = (0..rng.gen_range(1..=2))
            .map(|k| {
                let r_max = rng.gen_range(4.0..9.0f32);
                Rosette {
                    cx: if k == 0 {
                        left - rng.gen_range(-1.0..4.0f32)
                    } else {
                        right + rng.gen_range(-1.0..4.0f32)
                    },
                    cy: middle + rng.gen_range(-2.5..2.5f32),
                    lobes: f32::from(rng.gen_range(6u8..15)),
                    lobe_depth: rng.gen_range(0.3..1.2f32),
                    phase: rng.gen_range(0.0..TAU),
                    spacing: rng.gen_range(0.6..1.5f32),
                    r_min: rng.gen_range(0.5..2.0f32),
                    r_max,
                    half_width: rng.gen_range(0.035..0.1f32),
                    shade: rng.gen_range(110.0..205.0f32),
                }
            })
            .collect();
        let (w, h) = self.image.dimensions();
        // The print fades in above the zone over 4 mm.
        let (start, ramp) = (top - 10.0, 4.0);
        let y0 = self.px(start).max(0.0) as u32;
        let px_mm = 1.0 / self.px_per_mm;
        // Anti-aliased coverage of a line `half_width` mm wide at `distance` mm.
        let pixel = px_mm;
        let cover = |distance: f32, half_width: f32| {
            ((half_width + pixel / 2.0 - distance) / pixel).clamp(0.0, 1.0)
        };
        // Distance to the nearest of lines `spacing` apart, `offset` along their normal.
        let nearest = |offset: f32, spacing: f32| {
            let t = offset / spacing;
            (t - t.round()).abs() * spacing
        };
        for y in y0..h {
            for x in 0..w {
                let (mx, my) = ((x as f32 + 0.5) * px_mm, (y as f32 + 0.5) * px_mm);
                let weight = ((my - start) / ramp).clamp(0.0, 1.0);
                let mut keep =
                    1.0 - tint_depth * (0.5 + 0.5 * (TAU * mx / tint_period + tint_phase).sin());
                for wave in &waves {
                    let (sin, cos) = wave.angle.sin_cos();
                    let (u, v) = (mx * cos + my * sin, my * cos - mx * sin);
                    let arg = TAU * u / wave.wavelength + wave.phase;
                    let slope = wave.amplitude * TAU / wave.wavelength * arg.cos();
                    let off = v - wave.amplitude * arg.sin();
                    let d = nearest(off, wave.spacing) / (1.0 + slope * slope).sqrt();
                    let a = cover(d, wave.half_width);
                    if a > 0.0 {
                        let fade = 0.75 + 0.25 * (TAU * u / wave.fade_period).sin();
                        let shade = 255.0 - (255.0 - wave.shade) * fade;
                        keep *= 1.0 - a * (1.0 - shade / 255.0);
                    }
                }
                for r in &rosettes {
                    let (dx, dy) = (mx - r.cx, my - r.cy);
                    let radius = (dx * dx + dy * dy).sqrt();
                    if radius < r.r_min || radius > r.r_max {
                        continue;
                    }
                    let theta = dy.atan2(dx);
                    let f = radius - r.lobe_depth * (r.lobes * theta + r.phase).sin();
                    let a = cover(nearest(f, r.spacing), r.half_width);
                    if a > 0.0 {
                        keep *= 1.0 - a * (1.0 - r.shade / 255.0);
                    }
                }
                let keep = 1.0 - weight * (1.0 - keep);
                if keep < 1.0 {
                    let p = self.image.get_pixel_mut(x, y);
                    p.0[0] = (f32::from(p.0[0]) * keep).round() as u8;
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

/// How the MRZ is printed: the cap height, the glyph width and the
/// rasteriser vary between printers; the 2.54 mm pitch does not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MrzStyle {
    /// Cap height in millimetres; `None` is the font's own at the pitch
    /// (2.54 mm with fonts-ocr-b's OCRB.otf; printed MRZs are often lower).
    pub cap_height_mm: Option<f32>,
    /// Glyph width relative to the font's own at the pitch, centred in the cell.
    pub width_factor: f32,
    pub rasteriser: Rasteriser,
}

impl Default for MrzStyle {
    fn default() -> MrzStyle {
        MrzStyle {
            cap_height_mm: None,
            width_factor: 1.0,
            rasteriser: Rasteriser::AbGlyph,
        }
    }
}

/// Who turns the glyph outlines into pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rasteriser {
    /// ab_glyph's exact-coverage anti-aliasing at the scan's resolution,
    /// glyph origins on whole scan pixels (every other document).
    AbGlyph,
    /// A laser printer and a scanner: binary dots at `printer_dpi` (on or off
    /// at `threshold` of coverage), box-filtered to the scan's pixels and
    /// blurred by its optics. See `Page::laser`.
    Laser {
        printer_dpi: f32,
        threshold: f32,
        optics_sigma_px: f32,
    },
}

/// OCR-B size I: the scale at which the advance is `pitch` pixels (ten
/// characters per inch at the scan's resolution).
fn mrz_scale(font: &FontVec, pitch: f32) -> PxScale {
    let unscaled = font
        .as_scaled(PxScale::from(1.0))
        .h_advance(font.glyph_id('0'));
    PxScale::from(pitch / unscaled.max(0.01))
}

/// The height of `H` at `scale`, in pixels (its outline's, not rounded to
/// whole pixels).
fn cap_height_px(font: &FontVec, scale: PxScale) -> f32 {
    let per_unit = font.as_scaled(scale).v_scale_factor();
    font.outline(font.glyph_id('H')).map_or(scale.y * 0.7, |o| {
        (o.bounds.max.y - o.bounds.min.y).abs() * per_unit
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// OCR-B at the MRZ's pitch has caps 2.54 mm high (the font's own
    /// proportions; printers print them lower), and a styled MRZ's ink box
    /// and ink are as high as the style asks.
    #[test]
    fn the_cap_height_is_what_the_style_says() {
        let fonts = Fonts::load().unwrap();
        let dpi = 1200.0;
        let px_per_mm = dpi / 25.4;
        let nominal = mrz_scale(&fonts.ocr_b, MRZ_PITCH_MM * px_per_mm);
        let cap_mm = cap_height_px(&fonts.ocr_b, nominal) / px_per_mm;
        // fonts-ocr-b's OCRB.otf at ten characters per inch: 2.54 mm caps.
        assert!((2.45..2.6).contains(&cap_mm), "{cap_mm} mm");
        for want in [2.0, 2.6] {
            let mut page = Page::new(40.0, 12.0, dpi);
            let style = MrzStyle {
                cap_height_mm: Some(want),
                width_factor: 0.9,
                ..MrzStyle::default()
            };
            let lines = ["HHHH".to_string()];
            let [_, top, _, baseline] = page.mrz_styled(&fonts, 2.0, 2.0, 4.2, &lines, &style);
            assert!(((baseline - top) / px_per_mm - want).abs() < 0.01);
            // The ink agrees with the box: dark rows span the cap height.
            let rows: Vec<u32> = (0..page.image.height())
                .filter(|&y| (0..page.image.width()).any(|x| page.image.get_pixel(x, y).0[0] < 128))
                .collect();
            let inked = (rows[rows.len() - 1] - rows[0] + 1) as f32 / px_per_mm;
            assert!(
                (inked - want).abs() < 0.05,
                "{inked} mm inked for {want} mm"
            );
        }
    }
}
