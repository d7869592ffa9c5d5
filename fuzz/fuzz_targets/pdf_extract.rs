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
    if let Ok(image) = extract_pdf(pdf, &limits) {
        // Inflated samples are capped; an embedded JPEG is a slice of the file.
        assert!(image.data.len() as u64 <= limits.max_pdf_stream_bytes + 4096);
    }
    let _ = decode(pdf, FileFormat::Pdf, &InProcessPdf, &limits);
});
