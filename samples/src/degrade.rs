//! What happens between the document and the upload: the scanner bed or an
//! A4 page around it, and the defects of real scans; and how the document
//! was printed (security print, another printer) for the print classes.

use crate::documents::RenderStyle;
use crate::render::{MrzStyle, Rasteriser};
use image::{imageops, GrayImage, Luma};
use imageproc::geometric_transformations::{
    rotate_about_center, warp, Border, Interpolation, Projection,
};
use rand::rngs::StdRng;
use rand::Rng;
use serde::Serialize;

/// A defect applied to a rendered document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Degradation {
    Clean,
    Blur,
    Noise,
    /// JPEG at quality 35 (applied when encoding).
    JpegLow,
    /// Turned by one to four degrees.
    Skew,
    Rot90,
    Rot180,
    Rot270,
    UnevenLight,
    LowContrast,
    /// The document on a flatbed-scanned A4 page.
    A4Page,
    /// Scanned below 300 dpi.
    LowDpi,
    /// Out of focus beyond reading.
    HeavyBlur,
    /// Guilloche and (colour, scanned in grey) security print through and
    /// beside the MRZ, printed before it.
    Guilloche,
    /// The card cut about 3 mm below the MRZ (and sometimes beside it), on
    /// a darker or lighter scanner lid, with its rounded edge and drop
    /// shadow close to the lines.
    CardEdge,
    /// The MRZ printed with a cap height of 2.0–2.6 mm (the font's own is
    /// 2.54 mm: 0.79–1.02 of it) and a glyph width of 0.9–1.1 of the
    /// font's, drawn independently, at the same 2.54 mm pitch.
    CapHeight,
    /// The MRZ printed by a laser printer (binary dots at 600 or 1200 dpi,
    /// toner spread or starved) and scanned (box filter, optical blur)
    /// instead of ab_glyph's anti-aliased coverage at the scan's resolution.
    OtherRasteriser,
    /// A phone photo: the page on a table, a 2–5 % keystone, a slight turn,
    /// vignetting and mild blur (rendered at 400 dpi, so every part of the
    /// zone stays above 300).
    Perspective,
}

impl Degradation {
    pub const ALL: [Degradation; 18] = [
        Degradation::Clean,
        Degradation::Blur,
        Degradation::Noise,
        Degradation::JpegLow,
        Degradation::Skew,
        Degradation::Rot90,
        Degradation::Rot180,
        Degradation::Rot270,
        Degradation::UnevenLight,
        Degradation::LowContrast,
        Degradation::A4Page,
        Degradation::LowDpi,
        Degradation::HeavyBlur,
        Degradation::Guilloche,
        Degradation::CardEdge,
        Degradation::CapHeight,
        Degradation::OtherRasteriser,
        Degradation::Perspective,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Degradation::Clean => "clean",
            Degradation::Blur => "blur",
            Degradation::Noise => "noise",
            Degradation::JpegLow => "jpeg_q35",
            Degradation::Skew => "skew",
            Degradation::Rot90 => "rot90",
            Degradation::Rot180 => "rot180",
            Degradation::Rot270 => "rot270",
            Degradation::UnevenLight => "uneven_light",
            Degradation::LowContrast => "low_contrast",
            Degradation::A4Page => "a4_page",
            Degradation::LowDpi => "low_dpi",
            Degradation::HeavyBlur => "heavy_blur",
            Degradation::Guilloche => "guilloche",
            Degradation::CardEdge => "card_edge",
            Degradation::CapHeight => "cap_height",
            Degradation::OtherRasteriser => "other_rasteriser",
            Degradation::Perspective => "perspective",
        }
    }

    /// How the document is printed for this class, drawn from `rng` only by
    /// the print classes (the others leave `rng` untouched).
    pub fn render_style(self, rng: &mut StdRng, variation: &mut Variation) -> RenderStyle {
        let mut style = RenderStyle::default();
        match self {
            Degradation::Guilloche => {
                let seed: u64 = rng.gen();
                style.security_print = Some(seed);
                variation.security_print_seed = Some(seed);
            }
            Degradation::CapHeight => {
                let cap = rng.gen_range(2.0..=2.6f32);
                let width = rng.gen_range(0.9..=1.1f32);
                style.mrz = MrzStyle {
                    cap_height_mm: Some(cap),
                    width_factor: width,
                    ..MrzStyle::default()
                };
                variation.cap_height_mm = Some(round3(cap));
                variation.width_factor = Some(round3(width));
            }
            Degradation::OtherRasteriser => {
                let printer_dpi = if rng.gen_bool(0.5) { 600.0 } else { 1200.0 };
                let threshold = rng.gen_range(0.3..0.65f32);
                let optics_sigma_px = rng.gen_range(0.45..0.9f32);
                style.mrz.rasteriser = Rasteriser::Laser {
                    printer_dpi,
                    threshold,
                    optics_sigma_px,
                };
                variation.rasteriser = Some(format!(
                    "laser {printer_dpi} dpi, dot threshold {:.2}, optics sigma {:.2} px",
                    threshold, optics_sigma_px
                ));
            }
            _ => {}
        }
        style
    }

    /// The true resolution a scan of this class is rendered at, if the
    /// class sets it (the phone photo's keystone shrinks its far edge).
    pub fn dpi(self) -> Option<f32> {
        (self == Degradation::Perspective).then_some(400.0)
    }

    /// The finding a correct reader must add, if the defect is disqualifying.
    pub fn expected_code(self) -> Option<&'static str> {
        match self {
            Degradation::LowDpi => Some("resolution_too_low"),
            Degradation::HeavyBlur => Some("image_unreadable"),
            _ => None,
        }
    }

    /// An informational code a correct reader adds.
    pub fn info_code(self) -> Option<&'static str> {
        matches!(
            self,
            Degradation::Rot90 | Degradation::Rot180 | Degradation::Rot270
        )
        .then_some("auto_rotated")
    }
}

/// What a print or scan class drew, for the manifest (absent fields are
/// not written).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Variation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_print_seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap_height_mm: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width_factor: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rasteriser: Option<String>,
    /// Card edge: distance from the MRZ's last baseline to the card's edge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrz_to_edge_mm: Option<f32>,
    /// Card edge: the lid's grey; perspective: the table's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<u8>,
    /// Perspective: how much narrower the far edge is than the near one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keystone: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_degrees: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blur_sigma_px: Option<f32>,
}

impl Variation {
    pub fn is_empty(&self) -> bool {
        *self == Variation::default()
    }
}

fn round3(v: f32) -> f32 {
    (v * 1000.0).round() / 1000.0
}

const SCANNER_WHITE: Luma<u8> = Luma([252]);

/// The document as uploaded: framed, then degraded. `dpi` is the true
/// resolution the document was rendered at.
pub fn apply(document: GrayImage, how: Degradation, dpi: f32, rng: &mut StdRng) -> GrayImage {
    apply_at(document, None, how, dpi, rng, &mut Variation::default())
}

/// [`apply`], knowing where the MRZ's ink is (`mrz_box`: left, cap top,
/// right, baseline, in pixels), which the card-edge class cuts close to;
/// what it drew goes into `variation`.
pub fn apply_at(
    document: GrayImage,
    mrz_box: Option<[f32; 4]>,
    how: Degradation,
    dpi: f32,
    rng: &mut StdRng,
    variation: &mut Variation,
) -> GrayImage {
    let mm = |v: f32| (v * dpi / 25.4).round() as u32;
    let mut image = match how {
        Degradation::A4Page => place(&document, mm(210.0), mm(297.0), mm(18.0), mm(24.0)),
        Degradation::CardEdge => card_on_lid(&document, mrz_box, dpi, rng, variation),
        Degradation::Perspective => phone_photo(&document, dpi, rng, variation),
        _ => {
            let margin = mm(3.0);
            place(
                &document,
                document.width() + 2 * margin,
                document.height() + 2 * margin,
                margin,
                margin,
            )
        }
    };
    let px = dpi / 300.0;
    match how {
        Degradation::Blur => image = imageproc::filter::gaussian_blur_f32(&image, 1.1 * px),
        Degradation::HeavyBlur => image = imageproc::filter::gaussian_blur_f32(&image, 4.5 * px),
        Degradation::Noise => add_noise(&mut image, 14.0, rng),
        Degradation::Skew => {
            let degrees = rng.gen_range(1.0..4.0) * if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
            image = rotate_about_center(
                &image,
                f32::to_radians(degrees),
                Interpolation::Bilinear,
                Border::Constant(SCANNER_WHITE),
            );
        }
        Degradation::Rot90 => image = imageops::rotate90(&image),
        Degradation::Rot180 => image = imageops::rotate180(&image),
        Degradation::Rot270 => image = imageops::rotate270(&image),
        Degradation::UnevenLight => {
            let (w, h) = image.dimensions();
            for (x, y, p) in image.enumerate_pixels_mut() {
                let t = 0.7 * x as f32 / w as f32 + 0.3 * y as f32 / h as f32;
                p.0[0] = (p.0[0] as f32 * (1.0 - 0.5 * t)) as u8;
            }
        }
        Degradation::LowContrast => {
            for p in image.pixels_mut() {
                p.0[0] = (105.0 + p.0[0] as f32 * 0.42) as u8;
            }
        }
        _ => {}
    }
    // A faint sensor noise on everything keeps clean scans realistic.
    if how != Degradation::Noise {
        add_noise(&mut image, 2.0, rng);
    }
    image
}

/// Signed distance (pixels) from (`x`, `y`) to a `w` x `h` box at the
/// origin with corners rounded to `r`: negative inside.
fn rounded_box_distance(x: f32, y: f32, w: f32, h: f32, r: f32) -> f32 {
    let qx = (x - w / 2.0).abs() - (w / 2.0 - r);
    let qy = (y - h / 2.0).abs() - (h / 2.0 - r);
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0) - r
}

/// The card cut close below its MRZ (2.5–3.5 mm) and, one time in two on
/// each side, beside it (2.5–4 mm), with ID-1 rounded corners, lying on a
/// dark (30–110) or white (248–255) lid, its edge rim and drop shadow a few
/// millimetres from the lines.
fn card_on_lid(
    document: &GrayImage,
    mrz_box: Option<[f32; 4]>,
    dpi: f32,
    rng: &mut StdRng,
    variation: &mut Variation,
) -> GrayImage {
    let mm = |v: f32| v * dpi / 25.4;
    let (w, h) = (document.width() as f32, document.height() as f32);
    let (mut left, mut right, mut bottom) = (0.0f32, w, h);
    if let Some([l, _, r, b]) = mrz_box {
        let to_edge = rng.gen_range(2.5..3.5f32);
        bottom = (b + mm(to_edge)).min(h);
        variation.mrz_to_edge_mm = Some(round3(to_edge));
        if rng.gen_bool(0.5) {
            left = (l - mm(rng.gen_range(2.5..4.0f32))).max(0.0);
        }
        if rng.gen_bool(0.5) {
            right = (r + mm(rng.gen_range(2.5..4.0f32))).min(w);
        }
    }
    let (left, right, bottom) = (left.round(), right.round(), bottom.round());
    let card = imageops::crop_imm(
        document,
        left as u32,
        0,
        (right - left) as u32,
        bottom as u32,
    )
    .to_image();
    let dark = rng.gen_bool(0.5);
    let background: u8 = if dark {
        rng.gen_range(30..110)
    } else {
        rng.gen_range(248..=255)
    };
    variation.background = Some(background);
    let margin = mm(rng.gen_range(5.0..12.0f32)).round();
    let (cw, ch) = (card.width() as f32, card.height() as f32);
    let (width, height) = ((cw + 2.0 * margin) as u32, (ch + 2.0 * margin) as u32);
    let radius = mm(3.18);
    let (sx, sy) = (
        mm(rng.gen_range(-1.5..1.5f32)),
        mm(rng.gen_range(0.5..1.5f32)),
    );
    let strength = rng.gen_range(0.25..0.5f32);
    let soft = mm(rng.gen_range(0.3..1.0f32));
    let rim = rng.gen_range(0.75..0.92f32);
    let shadow = GrayImage::from_fn(width, height, |x, y| {
        let d = rounded_box_distance(
            x as f32 + 0.5 - margin - sx,
            y as f32 + 0.5 - margin - sy,
            cw,
            ch,
            radius,
        );
        Luma([if d < 0.0 { 255 } else { 0 }])
    });
    let shadow = imageproc::filter::gaussian_blur_f32(&shadow, soft.max(0.5));
    GrayImage::from_fn(width, height, |x, y| {
        let lid = f32::from(background)
            * (1.0 - strength * f32::from(shadow.get_pixel(x, y).0[0]) / 255.0);
        let (cx, cy) = (x as f32 + 0.5 - margin, y as f32 + 0.5 - margin);
        let d = rounded_box_distance(cx, cy, cw, ch, radius);
        let inside = (0.5 - d).clamp(0.0, 1.0);
        if inside <= 0.0 {
            return Luma([lid.round() as u8]);
        }
        let (px, py) = (
            (cx.max(0.0) as u32).min(card.width() - 1),
            (cy.max(0.0) as u32).min(card.height() - 1),
        );
        let mut paper = f32::from(card.get_pixel(px, py).0[0]);
        // The card's cut edge catches less light than its face.
        if d > -1.5 {
            paper *= rim;
        }
        Luma([(paper * inside + lid * (1.0 - inside)).round() as u8])
    })
}

/// The page photographed by a phone: on a table (grey 60–200) with a
/// margin, the far edge 2–5 % narrower (keystone) and slightly nearer,
/// turned by up to 1.5 degrees, darker towards the corners, mildly blurred.
fn phone_photo(
    document: &GrayImage,
    dpi: f32,
    rng: &mut StdRng,
    variation: &mut Variation,
) -> GrayImage {
    let mm = |v: f32| (v * dpi / 25.4).round() as u32;
    let table: u8 = rng.gen_range(60..200);
    variation.background = Some(table);
    let margin = mm(rng.gen_range(8.0..14.0f32));
    let canvas = place(
        document,
        document.width() + 2 * margin,
        document.height() + 2 * margin,
        margin,
        margin,
    );
    let mut canvas = canvas;
    // `place` frames in scanner white; a table instead.
    let (w, h) = canvas.dimensions();
    for (x, y, p) in canvas.enumerate_pixels_mut() {
        let on_document = x >= margin
            && y >= margin
            && x < margin + document.width()
            && y < margin + document.height();
        if !on_document {
            p.0[0] = table;
        }
    }
    let (wf, hf) = (w as f32, h as f32);
    let keystone = rng.gen_range(0.02..0.05f32);
    let turn = rng.gen_range(-1.5..1.5f32);
    variation.keystone = Some(round3(keystone));
    variation.turn_degrees = Some(round3(turn));
    // Corners: top left, top right, bottom right, bottom left.
    let from = [(0.0, 0.0), (wf, 0.0), (wf, hf), (0.0, hf)];
    let mut to = from;
    let far = rng.gen_range(0..4usize);
    let (a, b) = (far, (far + 1) % 4);
    let along = if far % 2 == 0 { wf } else { hf };
    let across = if far % 2 == 0 { hf } else { wf };
    let (ux, uy) = ((to[b].0 - to[a].0) / along, (to[b].1 - to[a].1) / along);
    // The inward normal of the far edge.
    let (nx, ny) = (-uy, ux);
    let squeeze = keystone / 2.0 * along;
    let nearer = keystone / 2.0 * across;
    to[a] = (
        to[a].0 + ux * squeeze + nx * nearer,
        to[a].1 + uy * squeeze + ny * nearer,
    );
    to[b] = (
        to[b].0 - ux * squeeze + nx * nearer,
        to[b].1 - uy * squeeze + ny * nearer,
    );
    let (sin, cos) = turn.to_radians().sin_cos();
    let (cx, cy) = (wf / 2.0, hf / 2.0);
    for corner in &mut to {
        let (dx, dy) = (corner.0 - cx, corner.1 - cy);
        let jitter = (
            rng.gen_range(-0.004..0.004f32) * wf,
            rng.gen_range(-0.004..0.004f32) * hf,
        );
        *corner = (
            cx + dx * cos - dy * sin + jitter.0,
            cy + dx * sin + dy * cos + jitter.1,
        );
    }
    let mut image = match Projection::from_control_points(from, to) {
        Some(projection) => warp(
            &canvas,
            projection,
            Interpolation::Bilinear,
            Border::Constant(Luma([table])),
        ),
        None => canvas,
    };
    let vignette = rng.gen_range(0.05..0.15f32);
    for (x, y, p) in image.enumerate_pixels_mut() {
        let (dx, dy) = ((x as f32 - cx) / cx, (y as f32 - cy) / cy);
        let keep = 1.0 - vignette * (dx * dx + dy * dy) / 2.0;
        p.0[0] = (f32::from(p.0[0]) * keep).round() as u8;
    }
    let sigma = rng.gen_range(0.5..0.9f32) * dpi / 300.0;
    variation.blur_sigma_px = Some(round3(sigma));
    imageproc::filter::gaussian_blur_f32(&image, sigma)
}

/// `document` on a `width` x `height` scanner-white canvas at (`x`, `y`),
/// with the thin shadow a card casts on the bed.
fn place(document: &GrayImage, width: u32, height: u32, x: u32, y: u32) -> GrayImage {
    let mut canvas = GrayImage::from_pixel(width, height, SCANNER_WHITE);
    let (w, h) = document.dimensions();
    for dy in 0..h + 2 {
        for dx in 0..w + 2 {
            let (cx, cy) = (x + dx, y + dy);
            if cx < width && cy < height && (dx >= w || dy >= h) {
                canvas.put_pixel(cx, cy, Luma([205]));
            }
        }
    }
    imageops::overlay(&mut canvas, document, i64::from(x), i64::from(y));
    canvas
}

/// Gaussian noise of standard deviation `sigma` (Box–Muller).
fn add_noise(image: &mut GrayImage, sigma: f32, rng: &mut StdRng) {
    for p in image.pixels_mut() {
        let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
        let u2: f32 = rng.gen();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
        p.0[0] = (p.0[0] as f32 + sigma * z).clamp(0.0, 255.0) as u8;
    }
}
