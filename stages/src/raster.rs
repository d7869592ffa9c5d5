//! Grey pixels as the stages want them: colour to grey ([`grey`], [`luma`]),
//! and shrinking by area averaging ([`shrink`]), the one resampling that the
//! locate, quality and QR stages share before they look at a page, and that
//! [`reduce`] applies to a scan far larger than the checks need.
//!
//! `image::imageops::thumbnail` averages the same areas with a floating-point
//! weight per source pixel; here each output pixel sums whole source pixels
//! over spans computed once, which is several times faster on page-sized scans
//! and differs from it by at most the fraction of one source pixel per edge.

use image::{DynamicImage, GrayImage};

/// sRGB luminance (Rec. 709 weights), as `image` computes it, in integers.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 2126 + u32::from(g) * 7152 + u32::from(b) * 722 + 5000) / 10000) as u8
}

/// A decoded image in grey. RGB, the common case, is converted here:
/// `into_luma8` goes through floats per pixel.
pub fn grey(image: DynamicImage) -> GrayImage {
    match image {
        DynamicImage::ImageRgb8(rgb) => {
            let (w, h) = rgb.dimensions();
            let grey = rgb.as_raw().chunks_exact(3).map(|p| luma(p[0], p[1], p[2]));
            GrayImage::from_raw(w, h, grey.collect()).unwrap_or_else(|| GrayImage::new(w, h))
        }
        other => other.into_luma8(),
    }
}

/// The rectangle `(x, y, width, height)` of `image` shrunk to `width` x
/// `height` (each at least 1). A rectangle reaching past the image is clipped;
/// a target no smaller than the source is a plain copy of the rectangle.
pub fn shrink(image: &GrayImage, from: (u32, u32, u32, u32), width: u32, height: u32) -> GrayImage {
    let (x, y) = (from.0.min(image.width()), from.1.min(image.height()));
    let (src_w, src_h) = (
        from.2.min(image.width() - x),
        from.3.min(image.height() - y),
    );
    let (width, height) = (width.clamp(1, src_w.max(1)), height.clamp(1, src_h.max(1)));
    if src_w == 0 || src_h == 0 {
        return GrayImage::new(width, height);
    }
    if (width, height) == (src_w, src_h) {
        return image::imageops::crop_imm(image, x, y, src_w, src_h).to_image();
    }
    let stride = image.width() as usize;
    let raw = image.as_raw();
    // Source span [start, end) of each output column and row; never empty.
    let spans = |out: u32, src: u32| -> Vec<(usize, usize)> {
        (0..u64::from(out))
            .map(|i| {
                let start = (i * u64::from(src) / u64::from(out)) as usize;
                let end = ((i + 1) * u64::from(src) / u64::from(out)) as usize;
                (start, end.max(start + 1))
            })
            .collect()
    };
    let (columns, rows) = (spans(width, src_w), spans(height, src_h));
    let mut out = Vec::with_capacity(width as usize * height as usize);
    // Columns summed down the row span first (a loop the compiler vectorises),
    // then across each column span.
    let mut column_sums = vec![0u32; src_w as usize];
    for &(row_start, row_end) in &rows {
        column_sums.fill(0);
        for sy in row_start..row_end {
            let offset = (y as usize + sy) * stride + x as usize;
            let line = &raw[offset..offset + src_w as usize];
            for (sum, &v) in column_sums.iter_mut().zip(line) {
                *sum += u32::from(v);
            }
        }
        let rows_in = (row_end - row_start) as u32;
        for &(start, end) in &columns {
            let n = rows_in * (end - start) as u32;
            let sum: u32 = column_sums[start..end].iter().sum();
            out.push(((sum + n / 2) / n) as u8);
        }
    }
    GrayImage::from_raw(width, height, out).unwrap_or_else(|| GrayImage::new(width, height))
}

/// `image` shrunk by area averaging to at most `max_pixels` pixels (kept
/// as it is when it has no more, or when `max_pixels` is 0), with the
/// scale: source pixels per pixel of the result along a side (1 when kept).
pub fn reduce(image: GrayImage, max_pixels: u64) -> (GrayImage, f32) {
    let (w, h) = image.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if max_pixels == 0 || pixels <= max_pixels {
        return (image, 1.0);
    }
    let factor = (pixels as f64 / max_pixels as f64).sqrt();
    let height = ((f64::from(h) / factor) as u32).max(1);
    // A side held at 1 pixel leaves the other fewer to stay within the count.
    let width = ((f64::from(w) / factor) as u32)
        .min(u32::try_from(max_pixels / u64::from(height)).unwrap_or(u32::MAX))
        .max(1);
    let small = shrink(&image, (0, 0, w, h), width, height);
    // The two sides' ratios differ by less than a pixel's worth: their mean.
    let scale =
        (f64::from(w) / f64::from(small.width()) + f64::from(h) / f64::from(small.height())) / 2.0;
    (small, scale as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn averages_whole_blocks() {
        let image = GrayImage::from_fn(4, 2, |x, _| Luma([if x < 2 { 0 } else { 200 }]));
        let small = shrink(&image, (0, 0, 4, 2), 2, 1);
        assert_eq!(small.as_raw(), &vec![0, 200]);
    }

    #[test]
    fn follows_thumbnail_on_a_page() {
        let page = GrayImage::from_fn(1237, 911, |x, y| {
            Luma([(120.0 + 100.0 * (x as f32 / 37.0).sin() * (y as f32 / 23.0).cos()) as u8])
        });
        let ours = shrink(&page, (0, 0, 1237, 911), 500, 368);
        let theirs = image::imageops::thumbnail(&page, 500, 368);
        let worst = ours
            .pixels()
            .zip(theirs.pixels())
            .map(|(a, b)| a[0].abs_diff(b[0]))
            .max();
        // Spans end on whole pixels: at most about one pixel of the slope per edge.
        assert!(worst.is_some_and(|d| d <= 6), "{worst:?}");
        let mean = |i: &GrayImage| i.pixels().map(|p| f64::from(p[0])).sum::<f64>() / 184_000.0;
        assert!((mean(&ours) - mean(&theirs)).abs() < 1.0);
    }

    #[test]
    fn reduces_to_the_pixel_count_and_says_by_how_much() {
        let page = GrayImage::from_fn(4000, 3000, |x, _| Luma([if x < 2000 { 0 } else { 255 }]));
        let (small, scale) = reduce(page.clone(), 3_000_000);
        assert!(u64::from(small.width()) * u64::from(small.height()) <= 3_000_000);
        assert_eq!(small.dimensions(), (2000, 1500));
        assert!((scale - 2.0).abs() < 1e-3, "{scale}");
        assert_eq!(small.get_pixel(10, 10)[0], 0);
        assert_eq!(small.get_pixel(1990, 10)[0], 255);
        let (kept, one) = reduce(page.clone(), 12_000_000);
        assert_eq!((kept.dimensions(), one), ((4000, 3000), 1.0));
        assert_eq!(reduce(page, 0).1, 1.0);
        // Any bound, however odd: at most that many pixels, never empty.
        let (tiny, _) = reduce(GrayImage::new(10_000, 3), 7);
        assert!(tiny.width() * tiny.height() <= 7 && tiny.width() >= 1);
    }

    #[test]
    fn clips_and_never_panics() {
        let image = GrayImage::new(10, 10);
        assert_eq!(shrink(&image, (8, 8, 50, 50), 1, 1).dimensions(), (1, 1));
        assert_eq!(shrink(&image, (20, 20, 5, 5), 3, 3).dimensions(), (1, 1));
        assert_eq!(
            shrink(&image, (0, 0, 10, 10), 40, 40).dimensions(),
            (10, 10)
        );
    }
}
