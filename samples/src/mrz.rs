//! A small ICAO 9303 MRZ *builder* for the generator: TD1, TD2, TD3 and
//! MRV-A lines with their check digits (Part 3 §4.9: weights 7, 3, 1;
//! `<` = 0, A–Z = 10–35), name truncation (Part 4 §4.2.3) and the TD1
//! long-document-number overflow (Part 5, note j).
//!
//! Deliberately independent of the parser on the other side: the tests of
//! both rest on the ICAO specimens, not on each other.

use crate::date::Date;
use intake_models::{DocumentFields, MrzFormat};

/// Why an MRZ could not be built from the given data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MrzError {
    #[error("MRZ field {field}: {value:?} has characters outside A-Z, 0-9 and '<'")]
    InvalidCharacter { field: &'static str, value: String },
    #[error("MRZ field {field}: {value:?} is longer than {max} characters")]
    TooLong {
        field: &'static str,
        value: String,
        max: usize,
    },
    #[error("MRZ field {field} is empty")]
    Empty { field: &'static str },
    #[error("the generator does not build {0:?} MRZs")]
    Unsupported(MrzFormat),
}

/// The data an MRZ encodes. Names are in Latin (spaces and hyphens become
/// `<`, apostrophes are dropped); everything else is already MRZ text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrzInput {
    pub format: MrzFormat,
    /// Two characters, e.g. `P<`, `ID`, `V<`; padded with `<` if shorter.
    pub document_code: String,
    pub issuing_state: String,
    pub surname: String,
    pub given_names: String,
    /// Up to 9 characters; TD1 allows longer numbers (overflow into optional data).
    pub document_number: String,
    pub nationality: String,
    pub birth_date: Date,
    /// `M`, `F` or `<`.
    pub sex: String,
    pub expiry_date: Date,
    /// TD3: personal number (14); TD1: line 1 optional data (15);
    /// TD2: optional data (7); MRV-A: optional data (16).
    pub optional_data: String,
}

/// The ICAO 9303 check digit of `field` (characters other than `0-9A-Z<`
/// count as `<`).
pub fn check_digit(field: &str) -> char {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let sum: u32 = field
        .chars()
        .zip(WEIGHTS.iter().cycle())
        .map(|(c, w)| {
            let value = match c {
                '0'..='9' => c as u32 - '0' as u32,
                'A'..='Z' => c as u32 - 'A' as u32 + 10,
                _ => 0,
            };
            value * w
        })
        .sum();
    char::from_digit(sum % 10, 10).unwrap_or('0')
}

/// Builds the MRZ lines of `input`.
pub fn build(input: &MrzInput) -> Result<Vec<String>, MrzError> {
    let code = fixed("document_code", &input.document_code, 2)?;
    let issuer = fixed("issuing_state", &input.issuing_state, 3)?;
    let nationality = fixed("nationality", &input.nationality, 3)?;
    let sex = fixed("sex", &input.sex, 1)?;
    let birth = input.birth_date.yymmdd();
    let expiry = input.expiry_date.yymmdd();
    let (_, width) = input.format.shape();

    match input.format {
        MrzFormat::TD3 | MrzFormat::TD2 | MrzFormat::MrvA => {
            let name = name_field(&input.surname, &input.given_names, width - 5)?;
            let line1 = format!("{code}{issuer}{name}");
            let number = fixed("document_number", &input.document_number, 9)?;
            let head = format!(
                "{number}{}{nationality}{birth}{}{sex}{expiry}{}",
                check_digit(&number),
                check_digit(&birth),
                check_digit(&expiry)
            );
            let line2 = match input.format {
                MrzFormat::TD3 => {
                    let personal = fixed("personal_number", &input.optional_data, 14)?;
                    let personal_check = if personal.chars().all(|c| c == '<') {
                        '<'
                    } else {
                        check_digit(&personal)
                    };
                    let body = format!("{head}{personal}{personal_check}");
                    format!("{body}{}", composite(&body))
                }
                MrzFormat::TD2 => {
                    let optional = fixed("optional_data", &input.optional_data, 7)?;
                    let body = format!("{head}{optional}");
                    format!("{body}{}", composite(&body))
                }
                _ => {
                    let optional = fixed("optional_data", &input.optional_data, 16)?;
                    format!("{head}{optional}")
                }
            };
            Ok(vec![line1, line2])
        }
        MrzFormat::TD1 => {
            let number = mrz_text("document_number", &input.document_number)?;
            let optional = mrz_text("optional_data", &input.optional_data)?;
            let (number_field, optional_field) = if number.len() <= 9 {
                let number = pad(&number, 9);
                let check = check_digit(&number);
                (format!("{number}{check}"), optional)
            } else {
                // Part 5 note j: 9 principal characters, `<` instead of the
                // check digit, the rest + check digit + `<` in optional data.
                let (head, rest) = number.split_at(9);
                (
                    format!("{head}<"),
                    format!("{rest}{}<{optional}", check_digit(&number)),
                )
            };
            if optional_field.len() > 15 {
                return Err(MrzError::TooLong {
                    field: "document_number",
                    value: input.document_number.clone(),
                    max: 22,
                });
            }
            let line1 = format!("{code}{issuer}{number_field}{}", pad(&optional_field, 15));
            let head = format!(
                "{birth}{}{sex}{expiry}{}{nationality}{}",
                check_digit(&birth),
                check_digit(&expiry),
                "<".repeat(11)
            );
            let covered = format!(
                "{}{}{}{}",
                &line1[5..30],
                &head[0..7],
                &head[8..15],
                &head[18..29]
            );
            let line2 = format!("{head}{}", check_digit(&covered));
            let line3 = name_field(&input.surname, &input.given_names, 30)?;
            Ok(vec![line1, line2, line3])
        }
        MrzFormat::MrvB => Err(MrzError::Unsupported(input.format)),
    }
}

/// The composite check digit of a TD2/TD3 second line body: positions 1–10,
/// 14–20 and 22–(end) (the nationality and sex are not covered).
fn composite(body: &str) -> char {
    let covered = format!("{}{}{}", &body[0..10], &body[13..20], &body[21..]);
    check_digit(&covered)
}

/// The name field of `width` characters: `PRIMARY<<SECONDARY`, filled with
/// `<`, or truncated so that it ends with a letter (Part 4 §4.2.3).
pub fn name_field(surname: &str, given_names: &str, width: usize) -> Result<String, MrzError> {
    let primary = mrz_words("surname", surname)?;
    let secondary = mrz_words("given_names", given_names)?;
    if primary.is_empty() {
        return Err(MrzError::Empty { field: "surname" });
    }
    let field = if secondary.is_empty() {
        end_with_letter(&primary, width)
    } else if primary.len() + 3 > width {
        // Keep `<<` and the first letter of the secondary identifier.
        let initial = &secondary[..1];
        format!("{}<<{initial}", end_with_letter(&primary, width - 3))
    } else {
        end_with_letter(&format!("{primary}<<{secondary}"), width)
    };
    Ok(pad(&field, width))
}

/// `s` if it fits in `width`, else cut to exactly `width` characters ending
/// with a letter: when the cut falls on fillers, the component before them
/// gives up its last letter to the initial of the next one (`…DEJTHAMRON<K`).
fn end_with_letter(s: &str, width: usize) -> String {
    if s.len() <= width {
        return s.to_string();
    }
    let cut = &s[..width];
    let fillers = cut.len() - cut.trim_end_matches('<').len();
    if fillers == 0 || fillers >= width {
        return cut.to_string();
    }
    let next = s[width..].trim_start_matches('<').chars().next();
    match next {
        Some(letter) => format!(
            "{}{}{letter}",
            &s[..width - fillers - 1],
            &s[width - fillers..width]
        ),
        None => cut.trim_end_matches('<').to_string(),
    }
}

/// Name words as MRZ text: upper case, spaces and hyphens as single `<`,
/// apostrophes and full stops dropped.
fn mrz_words(field: &'static str, name: &str) -> Result<String, MrzError> {
    let mut out = String::new();
    for c in name.trim().chars().flat_map(char::to_uppercase) {
        match c {
            'A'..='Z' => out.push(c),
            ' ' | '-' | '<' => {
                if !out.is_empty() && !out.ends_with('<') {
                    out.push('<');
                }
            }
            '\'' | '.' | '’' => {}
            _ => {
                return Err(MrzError::InvalidCharacter {
                    field,
                    value: name.to_string(),
                })
            }
        }
    }
    Ok(out.trim_end_matches('<').to_string())
}

/// MRZ text (A–Z, 0–9, `<`) from upper-case input; spaces become `<`.
fn mrz_text(field: &'static str, value: &str) -> Result<String, MrzError> {
    let text: String = value
        .chars()
        .map(|c| if c == ' ' { '<' } else { c })
        .collect();
    if text
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<')
    {
        Ok(text)
    } else {
        Err(MrzError::InvalidCharacter {
            field,
            value: value.to_string(),
        })
    }
}

/// MRZ text padded with `<` to exactly `width` characters.
fn fixed(field: &'static str, value: &str, width: usize) -> Result<String, MrzError> {
    let text = mrz_text(field, value)?;
    if text.len() > width {
        return Err(MrzError::TooLong {
            field,
            value: value.to_string(),
            max: width,
        });
    }
    Ok(pad(&text, width))
}

fn pad(text: &str, width: usize) -> String {
    format!("{text:<<width$}")
}

/// Splits a name field back into (surname, given names) as intake reports
/// them: words separated by single spaces, truncated as in the MRZ.
pub fn names_from_field(field: &str) -> (String, String) {
    let (primary, secondary) = field.split_once("<<").unwrap_or((field, ""));
    let words = |s: &str| {
        s.split('<')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    (words(primary), words(secondary))
}

/// The document fields exactly as intake reports them for this MRZ: names as
/// printed in the (possibly truncated) name field, dates ISO, no fillers.
pub fn fields(input: &MrzInput, lines: &[String]) -> DocumentFields {
    let name_field = match input.format {
        MrzFormat::TD1 => lines.get(2).map(String::as_str).unwrap_or(""),
        _ => lines.first().and_then(|l| l.get(5..)).unwrap_or(""),
    };
    let (surname, given_names) = names_from_field(name_field);
    let trimmed = |s: &str| {
        let t = s.trim_end_matches('<').replace('<', " ");
        (!t.is_empty()).then_some(t)
    };
    DocumentFields {
        document_type: trimmed(&input.document_code),
        issuing_state: trimmed(&input.issuing_state),
        surname: (!surname.is_empty()).then_some(surname),
        given_names: (!given_names.is_empty()).then_some(given_names),
        document_number: trimmed(&input.document_number),
        nationality: trimmed(&input.nationality),
        birth_date: Some(input.birth_date.iso()),
        sex: trimmed(&input.sex),
        expiry_date: Some(input.expiry_date.iso()),
        personal_number: match input.format {
            MrzFormat::TD3 => trimmed(&input.optional_data),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_worked_example() {
        assert_eq!(check_digit("L898902C3"), '6');
        assert_eq!(check_digit("740812"), '2');
        assert_eq!(check_digit("<<<<<<"), '0');
    }

    #[test]
    fn icao_truncation_examples() {
        // Part 4 §4.2.3.2 (a) and (b).
        assert_eq!(
            name_field("NILAVADHANANANDA", "CHAYAPA DEJTHAMRONG KRASUANG", 39).unwrap(),
            "NILAVADHANANANDA<<CHAYAPA<DEJTHAMRONG<K"
        );
        assert_eq!(
            name_field("NILAVADHANANANDA", "ARNPOL PETCH CHARONGUANG", 39).unwrap(),
            "NILAVADHANANANDA<<ARNPOL<PETCH<CHARONGU"
        );
        // Part 5 §4.2.3.3: fits exactly, not truncated.
        assert_eq!(
            name_field("PAPANDROPOULOUS", "JONATHON ALEC", 30).unwrap(),
            "PAPANDROPOULOUS<<JONATHON<ALEC"
        );
        assert_eq!(
            name_field("AL-BASRI", "HUDA MUHAMMAD JAWAD", 30).unwrap(),
            "AL<BASRI<<HUDA<MUHAMMAD<JAWAD<"
        );
        assert_eq!(
            name_field("O'CONNOR", "ENYA SIOBHAN", 39).unwrap(),
            "OCONNOR<<ENYA<SIOBHAN<<<<<<<<<<<<<<<<<<"
        );
    }

    #[test]
    fn a_cut_on_a_filler_moves_the_next_initial_in() {
        // The cut would end "...ALISHER<": ALISHER gives a letter to B.
        let f = name_field("KHUDOIBERDIEV", "ALISHER BAKHTIEROVICH", 23).unwrap();
        assert_eq!(f, "KHUDOIBERDIEV<<ALISHE<B");
        // Primary too long for `<<` and an initial.
        let f = name_field("ABCDEFGHIJKLMNOPQRSTUVWXYZABCD", "ANNA", 30).unwrap();
        assert_eq!(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZA<<A");
        assert_eq!(names_from_field(&f).1, "A");
    }

    #[test]
    fn rejects_non_mrz_characters() {
        assert!(matches!(
            name_field("ТУРСУНОВ", "A", 39),
            Err(MrzError::InvalidCharacter { .. })
        ));
    }
}
