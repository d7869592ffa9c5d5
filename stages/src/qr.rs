//! QR stage: a structured payload printed on the document, and whether it
//! agrees with what the document says elsewhere.
//!
//! rqrr (a quirc port) is slow on large images and on many candidate grids,
//! so detection runs on a reduced copy first and on a sharper one only when
//! that finds nothing; a handful of grids at most are decoded, each behind
//! `catch_unwind` (rqrr has panicked on odd codes).

use crate::cross_match::compare_field;
use crate::messages::finding;
use image::imageops;
use image::GrayImage;
use intake_models::{DocumentFields, Field, Finding, MatchResult, QrPayload, ReasonCode};

/// Long sides tried, smallest first.
const SCALES: [u32; 2] = [1200, 2400];
/// Grids decoded per scale at most.
const MAX_GRIDS: usize = 6;
/// Longest payload kept.
const MAX_TEXT: usize = 2048;

/// The first QR code that decodes, if any. A second, sharper look is taken
/// only when the first saw a code it could not read.
pub fn decode(image: &GrayImage) -> Option<QrPayload> {
    let long = image.width().max(image.height());
    for side in SCALES {
        let scaled = if long > side {
            let f = side as f32 / long as f32;
            let (w, h) = (
                ((image.width() as f32 * f) as u32).max(1),
                ((image.height() as f32 * f) as u32).max(1),
            );
            imageops::thumbnail(image, w, h)
        } else {
            image.clone()
        };
        match decode_at(scaled) {
            Look::Decoded(text) => return Some(parse_payload(&text)),
            Look::Unreadable if long > side => continue,
            _ => return None,
        }
    }
    None
}

enum Look {
    Nothing,
    Unreadable,
    Decoded(String),
}

fn decode_at(image: GrayImage) -> Look {
    std::panic::catch_unwind(move || {
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        if grids.is_empty() {
            return Look::Nothing;
        }
        grids
            .into_iter()
            .take(MAX_GRIDS)
            .find_map(|grid| grid.decode().ok().map(|(_, text)| Look::Decoded(text)))
            .unwrap_or(Look::Unreadable)
    })
    .unwrap_or(Look::Nothing)
}

/// Reads `INTAKE1|kind=…|number=…|surname=…|given_names=…|birth_date=…|
/// expiry_date=…|nationality=…|sex=…`. Unknown keys are ignored; the text is
/// length-limited and stripped of control characters before it goes anywhere.
pub fn parse_payload(text: &str) -> QrPayload {
    let text: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect();
    let mut fields = DocumentFields::default();
    let mut parts = text.split('|');
    if parts.next() == Some("INTAKE1") {
        for part in parts {
            let Some((key, value)) = part.split_once('=') else {
                continue;
            };
            let field = match key.trim() {
                "number" => Field::DocumentNumber,
                "surname" => Field::Surname,
                "given_names" => Field::GivenNames,
                "birth_date" => Field::BirthDate,
                "expiry_date" => Field::ExpiryDate,
                "nationality" => Field::Nationality,
                "sex" => Field::Sex,
                _ => continue,
            };
            let value = value.trim();
            if !value.is_empty() {
                fields.set(field, Some(value.chars().take(128).collect()));
            }
        }
    }
    QrPayload { text, fields }
}

/// `qr_mismatch` when the QR and the document disagree on a field both
/// carry, by the cross-match rules (so spellings and formats that are
/// equivalent agree). `names_truncated`: the document's names may be cut.
pub fn check_against(
    qr: &QrPayload,
    document: &DocumentFields,
    names_truncated: bool,
) -> Option<Finding> {
    Field::ALL.into_iter().find_map(|field| {
        let (q, d) = (qr.fields.get(field)?, document.get(field)?);
        let (result, _) = compare_field(field, q, d, names_truncated);
        (result == MatchResult::Mismatch).then(|| finding(ReasonCode::QrMismatch, Some(field)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    const PAYLOAD: &str = "INTAKE1|kind=migration_card|number=46191234567|surname=TURSUNOV|\
                           given_names=ALISHER|birth_date=1990-01-31|expiry_date=2026-09-01|nationality=UZB|sex=M";

    /// A 300-dpi page (148 x 105 mm) with a 25 mm QR code, some noise.
    fn page_with_code(text: &str) -> GrayImage {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let modules = code.to_colors();
        let width = code.width();
        let module_px = (25.0 / 25.4 * 300.0 / width as f32) as u32;
        let mut page = GrayImage::from_fn(1748, 1240, |x, y| {
            Luma([235 - ((x * 7 + y * 13) % 17) as u8])
        });
        let (x0, y0) = (1300, 700);
        for (i, color) in modules.iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let (mx, my) = ((i % width) as u32, (i / width) as u32);
                for dy in 0..module_px {
                    for dx in 0..module_px {
                        page.put_pixel(
                            x0 + mx * module_px + dx,
                            y0 + my * module_px + dy,
                            Luma([25]),
                        );
                    }
                }
            }
        }
        page
    }

    #[test]
    fn decodes_and_parses_a_printed_code() {
        let page = page_with_code(PAYLOAD);
        let qr = decode(&page).expect("decoded");
        assert_eq!(qr.fields.surname.as_deref(), Some("TURSUNOV"));
        assert_eq!(qr.fields.document_number.as_deref(), Some("46191234567"));
        // Turned a quarter: still found.
        assert!(decode(&imageops::rotate90(&page)).is_some());
        assert!(decode(&GrayImage::from_pixel(400, 300, Luma([255]))).is_none());
    }

    #[test]
    fn disagreement_is_a_finding() {
        let qr = parse_payload(PAYLOAD);
        let mut doc = qr.fields.clone();
        assert!(check_against(&qr, &doc, false).is_none());
        doc.birth_date = Some("1990-01-30".into());
        let f = check_against(&qr, &doc, false).unwrap();
        assert_eq!(
            (f.code, f.field),
            (ReasonCode::QrMismatch, Some(Field::BirthDate))
        );
    }

    #[test]
    fn payloads_are_bounded_and_foreign_ones_ignored() {
        let long = format!("INTAKE1|surname={}\u{7}", "A".repeat(10_000));
        let qr = parse_payload(&long);
        assert!(qr.text.len() <= MAX_TEXT);
        assert_eq!(qr.fields.surname.map(|s| s.len()), Some(128));
        assert_eq!(
            parse_payload("ST00012|Name=x").fields,
            DocumentFields::default()
        );
    }
}
