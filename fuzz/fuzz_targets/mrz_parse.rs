//! Arbitrary text as OCR'd MRZ lines through the ICAO 9303 parser and its
//! check-digit-gated corrector, and the helpers the read stage calls on the result.
#![no_main]

use intake_models::DocumentKind;
use intake_stages::dates::Date;
use intake_stages::mrz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<String> = text.lines().take(8).map(str::to_string).collect();
    for line in &lines {
        let _ = mrz::check_digit(line);
    }
    let today = Date::new(2026, 6, 1).expect("a date");
    let Ok(parsed) = mrz::parse(&lines, today) else {
        return;
    };
    let _ = mrz::document_kind(&parsed);
    for kind in DocumentKind::ALL {
        let _ = mrz::kind_compatible(kind, &parsed);
    }
    let reading = &parsed.reading;
    for (line, text) in reading.lines.iter().enumerate() {
        for column in 0..text.chars().count() + 2 {
            let _ = mrz::unchecked_field(&reading.lines, reading.format, line, column);
        }
    }
});
