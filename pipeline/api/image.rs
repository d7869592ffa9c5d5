//! The scan images of the console: the page with the MRZ outlined, or the
//! MRZ alone, as PNG, turned the way the pipeline read it.

use super::error::ApiError;
use crate::service::{Intake, PageError};
use image::{imageops, DynamicImage, GrayImage, Rgb, RgbImage};
use imageproc::drawing::draw_hollow_rect_mut;
use imageproc::rect::Rect;
use intake_models::Job;
use intake_stages::locate::{self, MrzLocation};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRegion {
    Page,
    Mrz,
}

/// Widest page image sent to the browser: a 300-dpi A4 scan (2480 px) goes
/// at its own resolution, for the reviewer to zoom into its MRZ.
const PAGE_WIDTH: u32 = 4000;

/// The MRZ rectangle (x, y, width, height) with a margin of two pitches.
fn mrz_rect(location: &MrzLocation, image: &GrayImage) -> Option<(u32, u32, u32, u32)> {
    let (first, last) = (location.lines.first()?, location.lines.last()?);
    let pitch = location.pitch();
    let (x0, y0) = first.origin;
    let (x1, y1) = last.cell_center(last.cells.saturating_sub(1));
    let clamp = |v: f32, max: u32| v.max(0.0).min(max as f32) as u32;
    let left = clamp(x0 - 2.0 * pitch, image.width());
    let top = clamp(y0 - 2.0 * pitch, image.height());
    let right = clamp(x1 + 2.0 * pitch, image.width());
    let bottom = clamp(y1 + 2.0 * pitch, image.height());
    (right > left && bottom > top).then(|| (left, top, right - left, bottom - top))
}

/// Renders the job's scan as PNG.
pub fn render(intake: &Intake, job: &Job, region: ImageRegion) -> Result<Vec<u8>, ApiError> {
    let upright = intake.page_image(job).map_err(|e| match e {
        PageError::Store(e) => ApiError::from(e),
        e => ApiError::NotFound(e.to_string()),
    })?;
    let rect = locate::locate(&upright)
        .filter(|l| l.rotation == 0)
        .and_then(|l| mrz_rect(&l, &upright));
    let picture = match (region, rect) {
        (ImageRegion::Mrz, Some((x, y, w, h))) => {
            DynamicImage::ImageLuma8(imageops::crop_imm(&upright, x, y, w, h).to_image())
        }
        (ImageRegion::Mrz, None) => {
            return Err(ApiError::NotFound(
                "no machine-readable zone was found on this scan".into(),
            ))
        }
        (ImageRegion::Page, rect) => {
            let mut page: RgbImage = DynamicImage::ImageLuma8(upright).to_rgb8();
            if let Some((x, y, w, h)) = rect {
                // Three pixels wide, so it survives the downscaling.
                for inset in 0..3u32 {
                    let outline = Rect::at((x + inset) as i32, (y + inset) as i32).of_size(
                        w.saturating_sub(2 * inset).max(1),
                        h.saturating_sub(2 * inset).max(1),
                    );
                    draw_hollow_rect_mut(&mut page, outline, Rgb([220, 30, 30]));
                }
            }
            let picture = DynamicImage::ImageRgb8(page);
            if picture.width() > PAGE_WIDTH {
                let height = picture.height() * PAGE_WIDTH / picture.width();
                picture.resize(PAGE_WIDTH, height.max(1), imageops::FilterType::Triangle)
            } else {
                picture
            }
        }
    };
    let mut png = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| ApiError::Internal(format!("cannot encode the image: {e}")))?;
    Ok(png)
}
