//! What happens between the document and the upload: the scanner bed or an
//! A4 page around it, and the defects of real scans.

use image::{imageops, GrayImage, Luma};
use imageproc::geometric_transformations::{rotate_about_center, Border, Interpolation};
use rand::rngs::StdRng;
use rand::Rng;

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
}

impl Degradation {
    pub const ALL: [Degradation; 13] = [
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
        }
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

const SCANNER_WHITE: Luma<u8> = Luma([252]);

/// The document as uploaded: framed, then degraded. `dpi` is the true
/// resolution the document was rendered at.
pub fn apply(document: GrayImage, how: Degradation, dpi: f32, rng: &mut StdRng) -> GrayImage {
    let mm = |v: f32| (v * dpi / 25.4).round() as u32;
    let mut image = match how {
        Degradation::A4Page => place(&document, mm(210.0), mm(297.0), mm(18.0), mm(24.0)),
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
