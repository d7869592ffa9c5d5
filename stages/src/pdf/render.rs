//! Pages drawn by a real PDF renderer: poppler's `pdftoppm` (Debian
//! `poppler-utils`), for the images we do not decode ourselves (CCITT fax,
//! JBIG2, JPEG 2000, unusual colour spaces).
//!
//! The renderer reads the PDF on its standard input and writes one grey
//! PGM to its standard output, so it needs no file; it is started from the
//! sandbox child and inherits its limits (address space, CPU time, no
//! files written), and it is killed when the wall-clock budget runs out.
//! It draws only the rectangle where the image lies, at the image's own
//! resolution, so one rendered pixel is one image pixel and the effective
//! dpi is the image's.
//!
//! Why a spawned `pdftoppm` and not a binding crate: `pdfium-render` needs a
//! PDFium library Debian does not package (a downloaded binary); the `mupdf`
//! crate compiles MuPDF from vendored C (minutes on two cores, AGPL) and
//! `poppler-rs` pulls the glib/cairo stack, and either runs the C renderer
//! inside our process, where a crash on a hostile file is the process's.
//! The Debian tool costs nothing to build, needs no file (stdin, stdout), is
//! contained by the sandbox's limits like the parser, and a crash or hang
//! costs one finding. Its cost: a process start plus the drawing, about
//! 70-90 ms for a CCITT page and 170-210 ms for a JPEG 2000 page of a
//! 300-dpi passport or migration card, 15-30 MB resident. (`mutool draw`
//! would do as well but reads its input from a file only.)

use crate::messages::finding;
use image::GrayImage;
use intake_models::config::Limits;
use intake_models::{Finding, ReasonCode};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The renderer's program; `INTAKE_PDF_RENDERER` names another `pdftoppm`.
pub const RENDERER: &str = "pdftoppm";

/// The part of a shown page to draw, in pixels at `dpi`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Area {
    /// Where the unit square under `ctm` lies on the page `media` (points,
    /// `[llx lly urx ury]`) shown turned by `rotate`, in pixels at `dpi`.
    pub fn of_image(ctm: [f32; 6], media: [f32; 4], rotate: u16, dpi: f32) -> Area {
        let [llx, lly, urx, ury] = media;
        let shown = |x: f32, y: f32| -> (f32, f32) {
            match rotate {
                90 => (y - lly, x - llx),
                180 => (urx - x, y - lly),
                270 => (ury - y, urx - x),
                _ => (x - llx, ury - y),
            }
        };
        let (pw, ph) = match rotate {
            90 | 270 => (ury - lly, urx - llx),
            _ => (urx - llx, ury - lly),
        };
        let corners = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)].map(|(u, v)| {
            shown(
                ctm[0] * u + ctm[2] * v + ctm[4],
                ctm[1] * u + ctm[3] * v + ctm[5],
            )
        });
        // Clipped to the page: nothing is drawn outside it.
        let clip = |v: f32, max: f32| v.clamp(0.0, max);
        let x0 = clip(corners.iter().map(|c| c.0).fold(f32::MAX, f32::min), pw);
        let x1 = clip(corners.iter().map(|c| c.0).fold(f32::MIN, f32::max), pw);
        let y0 = clip(corners.iter().map(|c| c.1).fold(f32::MAX, f32::min), ph);
        let y1 = clip(corners.iter().map(|c| c.1).fold(f32::MIN, f32::max), ph);
        let px = |pt: f32| (pt * dpi / 72.0).round().max(0.0) as u32;
        Area {
            x: px(x0),
            y: px(y0),
            width: px(x1).saturating_sub(px(x0)),
            height: px(y1).saturating_sub(px(y0)),
        }
    }
}

/// Draws `area` of page `number` of `pdf` at `dpi` in grey.
pub fn render(
    pdf: &[u8],
    number: u32,
    dpi: f32,
    area: Area,
    limits: &Limits,
    deadline: Instant,
) -> Result<GrayImage, Finding> {
    let corrupt = || finding(ReasonCode::FileCorrupt, None);
    let program = std::env::var("INTAKE_PDF_RENDERER").unwrap_or_else(|_| RENDERER.to_string());
    let page = number.to_string();
    let child = Command::new(program)
        .args(["-f", &page, "-l", &page, "-gray", "-singlefile"])
        .args(["-r", &format!("{dpi:.3}")])
        .args(["-x", &area.x.to_string(), "-y", &area.y.to_string()])
        .args([
            "-W",
            &area.width.to_string(),
            "-H",
            &area.height.to_string(),
        ])
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        // Not installed: a broken installation, not the applicant's file.
        .map_err(|_| finding(ReasonCode::ProcessingFailed, None))?;
    let cap = u64::from(area.width) * u64::from(area.height) + 4096;
    let output = run_bounded(child, pdf.to_vec(), cap, deadline).ok_or_else(corrupt)?;
    let image = read_pgm(&output).ok_or_else(corrupt)?;
    crate::limits::check_pixels(image.width(), image.height(), limits)?;
    Ok(image)
}

/// Feeds `input` to a spawned `child` (stdin and stdout piped) and reads at
/// most `cap` bytes of its output, each on its own thread so that neither
/// pipe can block the other; the child is killed at `deadline`. The output,
/// only if the child exited successfully in time and its output fits `cap`.
pub fn run_bounded(
    mut child: Child,
    input: Vec<u8>,
    cap: u64,
    deadline: Instant,
) -> Option<Vec<u8>> {
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    };
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.take(cap + 1).read_to_end(&mut out);
        out
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let _ = writer.join();
    let output = reader.join().ok()?;
    (status?.success() && output.len() as u64 <= cap).then_some(output)
}

/// A binary PGM (`P5`, 8-bit).
pub fn read_pgm(bytes: &[u8]) -> Option<GrayImage> {
    let mut fields = Vec::with_capacity(4);
    let mut at = 0;
    while fields.len() < 4 {
        // Whitespace and comments between the header's fields.
        while let Some(&b) = bytes.get(at) {
            if b == b'#' {
                while bytes.get(at).is_some_and(|&b| b != b'\n') {
                    at += 1;
                }
            } else if b.is_ascii_whitespace() {
                at += 1;
            } else {
                break;
            }
        }
        let start = at;
        while bytes.get(at).is_some_and(|b| !b.is_ascii_whitespace()) {
            at += 1;
        }
        fields.push(std::str::from_utf8(bytes.get(start..at)?).ok()?);
    }
    if fields[0] != "P5" || fields[3] != "255" {
        return None;
    }
    let width: u32 = fields[1].parse().ok()?;
    let height: u32 = fields[2].parse().ok()?;
    let len = (width as usize).checked_mul(height as usize)?;
    let data = bytes.get(at + 1..at + 1 + len)?;
    GrayImage::from_raw(width, height, data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgm_header() {
        let mut pgm = b"P5\n# a comment\n3 2\n255\n".to_vec();
        pgm.extend([1, 2, 3, 4, 5, 6]);
        let g = read_pgm(&pgm).unwrap();
        assert_eq!(
            (g.dimensions(), g.as_raw().as_slice()),
            ((3, 2), &[1u8, 2, 3, 4, 5, 6][..])
        );
        assert!(read_pgm(&pgm[..pgm.len() - 1]).is_none());
        assert!(read_pgm(b"P6\n1 1\n255\n\0\0\0").is_none());
    }

    #[test]
    fn the_area_of_an_image_on_a_turned_page() {
        // A4 page, image 1 x 2 inches at (72, 144) points, shown upright at 300 dpi.
        let media = [0.0, 0.0, 595.0, 842.0];
        let ctm = [72.0, 0.0, 0.0, 144.0, 72.0, 144.0];
        let a = Area::of_image(ctm, media, 0, 300.0);
        assert_eq!((a.x, a.width, a.height), (300, 300, 600));
        assert_eq!(a.y, ((842.0 - 288.0) * 300.0 / 72.0f32).round() as u32);
        // /Rotate 90: the page's bottom-left corner is shown top-left.
        let a = Area::of_image(ctm, media, 90, 300.0);
        assert_eq!((a.x, a.y, a.width, a.height), (600, 300, 600, 300));
    }
}
