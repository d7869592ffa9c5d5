//! Arbitrary bytes as the declared profile JSON, then the cross-match of
//! the profile against a document (and against itself), date parsing and
//! the validity rules on it.
#![no_main]

use intake_models::config::Validity;
use intake_models::{DocumentKind, Profile};
use intake_stages::dates::Date;
use intake_stages::{cross_match, validity};
use libfuzzer_sys::fuzz_target;

#[path = "sample.rs"]
mod sample;

fuzz_target!(|data: &[u8]| {
    let Ok(profile) = serde_json::from_slice::<Profile>(data) else {
        return;
    };
    let document = sample::passport();
    let declared = profile.document_fields();
    for truncated in [false, true] {
        let (matches, _) = cross_match::compare(&profile, &document, truncated);
        for m in &matches {
            assert!(m.declared.chars().count() <= 200);
        }
        let _ = cross_match::compare(&profile, &declared, truncated);
        let _ = cross_match::compare(&Profile::from(&document), &declared, truncated);
    }
    let _ = cross_match::check_numbers(&profile);
    for value in [&profile.birth_date, &profile.expiry_date]
        .into_iter()
        .flatten()
    {
        let _ = Date::parse(value);
    }
    let today = Date::new(2026, 6, 1).expect("a date");
    for kind in [
        DocumentKind::Passport,
        DocumentKind::Visa,
        DocumentKind::MigrationCard,
    ] {
        let _ = validity::check(kind, &declared, today, &Validity::default());
    }
    // A profile that parsed serialises again.
    let _ = serde_json::to_vec(&profile).expect("serialises");
});
