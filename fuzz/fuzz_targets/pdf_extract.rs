//! Arbitrary bytes behind a PDF header through the PDF image extraction
//! (lopdf, in process: what the sandbox child runs) and the conversion of
//! the extracted image to grey.
#![no_main]

use intake_models::config::Limits;
use intake_models::FileFormat;
use intake_stages::decode::{decode, extract_pdf, InProcessPdf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if data.len() as u64 > limits.max_bytes {
        return;
    }
    // Inputs that do not start with a header get one, so the fuzzer need not find it.
    let owned;
    let pdf = if data.starts_with(b"%PDF-") {
        data
    } else {
        owned = [b"%PDF-1.7\n".as_slice(), data].concat();
        &owned
    };
    if let Ok(pages) = extract_pdf(pdf, &limits) {
        // Every page's grey pixels, within the budget of all pages together.
        assert!(pages.consistent());
        assert!(pages.data.len() as u64 <= limits.max_pixels * 2);
    }
    let _ = decode(pdf, FileFormat::Pdf, &InProcessPdf, &limits);
});
