//! Quality stage: sharpness, brightness and contrast of the document region.
//!
//! Measured at a 300-dpi scale, so that a 600-dpi scan (whose edges are
//! naturally twice as wide in pixels) is not taken for a blurred one.
//! Orientation is found by the locate stage (the MRZ at 0/90/180/270).

use crate::messages::finding;
use crate::raster;
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
        let (x0, x1) = (
            clamp(x0.min(x1), image.width()),
            clamp(x0.max(x1), image.width()),
        );
        let (y0, y1) = (
            clamp(y0.min(y1), image.height()),
            clamp(y0.max(y1), image.height()),
        );
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
    let factor = dpi.map_or(1.0, |d| (300.0 / d).min(1.0));
    let (w, h) = (
        ((region.width as f32 * factor) as u32).max(8),
        ((region.height as f32 * factor) as u32).max(8),
    );
    let rect = (region.x, region.y, region.width, region.height);
    let view = match factor < 0.95 {
        true => raster::shrink(image, rect, w, h),
        false => raster::shrink(image, rect, region.width, region.height),
    };

    let mut histogram = [0u64; 256];
    for &v in view.as_raw() {
        histogram[v as usize] += 1;
    }
    let mean_of = |range: std::ops::Range<usize>| {
        let (sum, n) = histogram[range.clone()]
            .iter()
            .zip(range)
            .fold((0u64, 0u64), |(s, n), (count, v)| {
                (s + v as u64 * count, n + count)
            });
        (n > 0).then(|| sum as f32 / n as f32)
    };
    let mean = mean_of(0..256).unwrap_or(0.0);
    // Ink against paper: the means of the two classes Otsu's threshold
    // separates. Percentiles would miss the ink, a few percent of a page.
    let level = imageproc::contrast::otsu_level(&view) as usize;
    let range = match (mean_of(0..level + 1), mean_of(level + 1..256)) {
        (Some(ink), Some(paper)) => (paper - ink).max(1.0),
        _ => 1.0,
    };
    let sharpness = sharpness(&view);
    Quality {
        sharpness,
        brightness: mean / 255.0,
        contrast: range / 255.0,
        rotation: 0,
    }
}

/// At the strongest edges (top 1% of Sobel magnitudes, every other row and
/// column),
/// the gradient against the ideal step across the same local range (7 x 7):
/// 1.0 for a crisp edge, about 0.4/sigma for a blur of sigma pixels at 300
/// dpi, whatever the ink's contrast. Magnitudes are computed once and kept.
fn sharpness(view: &GrayImage) -> f32 {
    let (w, h) = (view.width() as usize, view.height() as usize);
    if w < 7 || h < 7 {
        return 0.0;
    }
    let raw = view.as_raw();
    let px = |x: usize, y: usize| i32::from(raw[y * w + x]);
    let mut magnitudes = Vec::with_capacity((w - 6) * (h - 6) / 4 + 1);
    let mut histogram = [0u64; 1024];
    for y in (3..h - 3).step_by(2) {
        let (up, row, down) = (
            &raw[(y - 1) * w..y * w],
            &raw[y * w..(y + 1) * w],
            &raw[(y + 1) * w..(y + 2) * w],
        );
        for x in (3..w - 3).step_by(2) {
            let [a, b, c] = [up[x - 1], up[x], up[x + 1]].map(i32::from);
            let [d, f] = [row[x - 1], row[x + 1]].map(i32::from);
            let [g, k, l] = [down[x - 1], down[x], down[x + 1]].map(i32::from);
            let gx = c + 2 * f + l - a - 2 * d - g;
            let gy = g + 2 * k + l - a - 2 * b - c;
            let magnitude = ((gx * gx + gy * gy) as f32).sqrt();
            histogram[(magnitude as usize).min(1023)] += 1;
            magnitudes.push(magnitude);
        }
    }
    let strong = percentile(&histogram, magnitudes.len() as u64, 0.99).max(8.0);
    let (mut ratio_sum, mut edges) = (0.0f32, 0u32);
    let per_row = (w - 6).div_ceil(2);
    for (i, &g) in magnitudes.iter().enumerate() {
        if g < strong {
            continue;
        }
        let (x, y) = (3 + 2 * (i % per_row), 3 + 2 * (i / per_row));
        let (mut lo, mut hi) = (255, 0);
        for v in (y - 3..=y + 3).flat_map(|yy| (x - 3..=x + 3).map(move |xx| px(xx, yy))) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        ratio_sum += (g / (4.0 * (hi - lo).max(1) as f32)).min(1.0);
        edges += 1;
    }
    match edges {
        0 => 0.0,
        n => ratio_sum / n as f32,
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
        assert!(crisp.sharpness > 0.8, "{crisp:?}");
        let mut last = crisp.sharpness;
        for sigma in [1.0, 2.0, 3.0] {
            let soft = stripes(sigma);
            let blurred = measure(&soft, Region::whole(&soft), None).sharpness;
            assert!(blurred < last, "sigma {sigma}: {blurred} !< {last}");
            last = blurred;
        }
        assert!(last < 0.6 * crisp.sharpness, "{last}");
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
