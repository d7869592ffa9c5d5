//! Arbitrary decoded QR text through the payload parser and the comparison
//! of the payload with the document's fields.
#![no_main]

use intake_models::DocumentFields;
use intake_stages::qr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let payload = qr::parse_payload(&text);
    assert!(payload.text.chars().count() <= 2048);
    assert!(!payload.text.chars().any(char::is_control));
    let document = DocumentFields {
        document_type: Some("P".into()),
        issuing_state: Some("UZB".into()),
        surname: Some("KHODZHAEV".into()),
        given_names: Some("ZHAKHONGIR".into()),
        document_number: Some("OL4676496".into()),
        nationality: Some("UZB".into()),
        birth_date: Some("2001-08-07".into()),
        sex: Some("M".into()),
        expiry_date: Some("2027-06-01".into()),
        personal_number: Some("64602613162799".into()),
    };
    for truncated in [false, true] {
        let _ = qr::check_against(&payload, &document, truncated);
        // The payload against itself read as the document.
        let _ = qr::check_against(&payload, &payload.fields, truncated);
    }
});
