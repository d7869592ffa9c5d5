//! OCR engines, one set per worker thread, created once and reused.

use intake_stages::ocr::glyphs::Glyphs;
use intake_stages::ocr::OcrError;
use std::cell::RefCell;
use std::sync::OnceLock;

// Where the workers and benches have always found it.
pub use intake_stages::ocr::Engines;

/// The OCR-B glyph classifier: read-only once built, so one per process,
/// shared by every worker thread (its templates take a few tens of ms).
pub fn glyphs() -> Result<&'static Glyphs, OcrError> {
    static GLYPHS: OnceLock<Glyphs> = OnceLock::new();
    if let Some(glyphs) = GLYPHS.get() {
        return Ok(glyphs);
    }
    let built = Glyphs::new()?;
    Ok(GLYPHS.get_or_init(|| built))
}

thread_local! {
    static ENGINES: RefCell<Engines> = RefCell::new(Engines::default());
}

/// Runs `work` with this thread's engines.
pub fn with_thread_engines<T>(work: impl FnOnce(&mut Engines) -> T) -> T {
    ENGINES.with(|engines| work(&mut engines.borrow_mut()))
}

/// Shuts this thread's engines down now rather than at thread exit, which
/// may come after the process has begun to exit (Tesseract then reports
/// its shared models as leaked).
pub fn release_thread_engines() {
    ENGINES.with(|engines| *engines.borrow_mut() = Engines::default());
}
