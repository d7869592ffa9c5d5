//! Arbitrary decoded QR text through the payload parser and the comparison
//! of the payload with the document's fields.
#![no_main]

use intake_stages::qr;
use libfuzzer_sys::fuzz_target;

#[path = "sample.rs"]
mod sample;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let payload = qr::parse_payload(&text);
    assert!(payload.text.chars().count() <= 2048);
    assert!(!payload.text.chars().any(char::is_control));
    let document = sample::passport();
    for truncated in [false, true] {
        let _ = qr::check_against(&payload, &document, truncated);
        // The payload against itself read as the document.
        let _ = qr::check_against(&payload, &payload.fields, truncated);
    }
});
