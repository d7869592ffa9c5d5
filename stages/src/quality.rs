//! Quality stage: sharpness, brightness and contrast of the document region.
//!
//! Measured at a 300-dpi scale, so that a 600-dpi scan (whose edges are
//! naturally twice as wide in pixels) is not taken for a blurred one.
//! Orientation is found by the locate stage (the MRZ at 0/90/180/270).

use crate::messages::finding;
use image::imageops::{self, FilterType};
use image::GrayImage;
use intake_models::config::QualityThresholds;
use intake_models::{Finding, Quality, ReasonCode};

/// A rectangle in image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Region {
    pub fn whole(image: &GrayImage) -> Region {
        Region {
            x: 0,
            y: 0,
            width: image.width(),
            height: image.height(),
        }
    }

    /// The rectangle spanning two corners, clipped to `image`.
    pub fn clipped(image: &GrayImage, (x0, y0): (f32, f32), (x1, y1): (f32, f32)) -> Region {
        let clamp = |v: f32, max: u32| v.max(0.0).min(max as f32) as u32;
        let (x0, x1) = (clamp(x0.min(x1), image.width()), clamp(x0.max(x1), image.width()));
        let (y0, y1) = (clamp(y0.min(y1), image.height()), clamp(y0.max(y1), image.height()));
        Region {
            x: x0,
            y: y0,
            width: x1 - x0,
            height: y1 - y0,
        }
    }
}

/// Measures `region` of `image`; `dpi` (when known) scales it to 300 dpi first.
/// Rotation is left 0 for the caller to fill in.
pub fn measure(image: &GrayImage, region: Region, dpi: Option<f32>) -> Quality {
    if region.width < 8 || region.height < 8 {
        return Quality::default();
    }
    let crop = imageops::crop_imm(image, region.x, region.y, region.width, region.height);
    let factor = dpi.map_or(1.0, |d| (300.0 / d).min(1.0));
    let (w, h) = (
        ((region.width as f32 * factor) as u32).max(8),
        ((region.height as f32 * factor) as u32).max(8),
    );
    let view = if factor < 0.95 {
        imageops::resize(&*crop, w, h, FilterType::Triangle)
    } else {
        crop.to_image()
    };

    let mut histogram = [0u64; 256];
    for p in view.pixels() {
        histogram[p[0] as usize] += 1;
    }
    let total = view.pixels().len() as u64;
    let mean = histogram
        .iter()
        .enumerate()
        .map(|(v, n)| v as u64 * n)
        .sum::<u64>() as f32
        / total as f32;
    let p5 = percentile(&histogram, total, 0.05);
    let p95 = percentile(&histogram, total, 0.95);
    let range = (p95 - p5).max(1.0);

    // Strongest edges (Sobel, 99th percentile) against the ideal step of the
    // same height: 1.0 for a crisp edge, about 0.4/sigma for a blur of sigma px.
    let gx = imageproc::gradients::horizontal_sobel(&view);
    let gy = imageproc::gradients::vertical_sobel(&view);
    let mut magnitudes = [0u64; 1024];
    for (a, b) in gx.pixels().zip(gy.pixels()) {
        let m = ((a[0] as f32).powi(2) + (b[0] as f32).powi(2)).sqrt() as usize;
        magnitudes[m.min(1023)] += 1;
    }
    let edge = percentile(&magnitudes, total, 0.99);
    Quality {
        sharpness: (edge / (4.0 * range)).min(1.0),
        brightness: mean / 255.0,
        contrast: range / 255.0,
        rotation: 0,
    }
}

/// The value below which `fraction` of the counted values lie.
fn percentile(histogram: &[u64], total: u64, fraction: f64) -> f32 {
    let target = (total as f64 * fraction) as u64;
    let mut seen = 0;
    for (value, n) in histogram.iter().enumerate() {
        seen += n;
        if seen > target {
            return value as f32;
        }
    }
    (histogram.len() - 1) as f32
}

/// `image_unreadable` when the scan is blurred, too dark or too bright, or flat.
pub fn judge(quality: &Quality, limits: &QualityThresholds) -> Option<Finding> {
    let unreadable = quality.sharpness < limits.min_sharpness
        || quality.brightness < limits.min_brightness
        || quality.brightness > limits.max_brightness
        || quality.contrast < limits.min_contrast;
    unreadable.then(|| finding(ReasonCode::ImageUnreadable, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn stripes(blur: f32) -> GrayImage {
        let img = GrayImage::from_fn(200, 200, |x, _| {
            Luma([if (x / 10) % 2 == 0 { 30 } else { 220 }])
        });
        if blur > 0.0 {
            imageproc::filter::gaussian_blur_f32(&img, blur)
        } else {
            img
        }
    }

    #[test]
    fn blur_lowers_sharpness() {
        let crisp = measure(&stripes(0.0), Region::whole(&stripes(0.0)), None);
        let soft = stripes(4.0);
        let blurred = measure(&soft, Region::whole(&soft), None);
        assert!(crisp.sharpness > 0.8, "{crisp:?}");
        assert!(blurred.sharpness < crisp.sharpness / 3.0, "{blurred:?}");
    }

    #[test]
    fn dark_and_flat_pages_are_unreadable() {
        let limits = QualityThresholds::default();
        let dark = GrayImage::from_pixel(100, 100, Luma([10]));
        let q = measure(&dark, Region::whole(&dark), None);
        assert_eq!(
            judge(&q, &limits).map(|f| f.code),
            Some(ReasonCode::ImageUnreadable)
        );
        let good = stripes(0.0);
        assert!(judge(&measure(&good, Region::whole(&good), None), &limits).is_none());
    }

    #[test]
    fn tiny_regions_do_not_panic() {
        let img = GrayImage::new(4, 4);
        let _ = measure(&img, Region::whole(&img), Some(600.0));
    }
}
