//! Cross-match stage: the declared profile against the document.
//!
//! Equal up to case, spaces, hyphens and `<` fillers is a `match`; a
//! standard transliteration, an MRZ-truncated name or a date in DD.MM.YYYY
//! is `equivalent` (with an informational finding where SPEC names one);
//! anything else is a `mismatch`, which always carries a `field_mismatch`
//! finding and so can never be accepted. A declared field the document did
//! not yield is `low_confidence`: a person confirms it.
//!
//! The form's names in Cyrillic (`surname_cyrillic`, `given_names_cyrillic`)
//! are compared with a Cyrillic spelling where the document shows one
//! (after normalisation: case, `Ё`/`Е`, separators), else with its Latin
//! spelling by transliteration. SNILS and INN are checked by their check
//! digits: a bad one is `snils_invalid` / `inn_invalid`. The patronymic,
//! place of birth and issue date are not shown by the documents read today
//! and are not compared.

use crate::dates::{Date, DateStyle};
use crate::messages::finding;
use crate::tax_ids::{inn_valid, snils_valid};
use crate::transliteration::{is_cyrillic, latin_candidates, normalize_latin, skeleton};
use intake_models::{DocumentFields, Field, FieldMatch, Finding, MatchResult, Profile, ReasonCode};

/// Compares every field the profile declares with what the document gave.
/// `names_truncated`: the MRZ name field was full, so names may be cut.
pub fn compare(
    declared: &Profile,
    extracted: &DocumentFields,
    names_truncated: bool,
) -> (Vec<FieldMatch>, Vec<Finding>) {
    let mut matches = Vec::new();
    let mut findings = Vec::new();
    for field in Field::ALL {
        let Some(declared_value) = declared.get(field).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let Some(extracted_value) = extracted.get(field) else {
            findings.push(finding(ReasonCode::LowConfidence, Some(field)));
            continue;
        };
        let (result, note) = compare_field(field, declared_value, extracted_value, names_truncated);
        match result {
            MatchResult::Mismatch => findings.push(finding(ReasonCode::FieldMismatch, Some(field))),
            _ => findings.extend(note.map(|code| finding(code, Some(field)))),
        }
        matches.push(FieldMatch {
            field,
            declared: declared_value.chars().take(200).collect(),
            extracted: Some(extracted_value.to_string()),
            result,
        });
    }
    for (field, shown_as) in [
        (Field::SurnameCyrillic, Field::Surname),
        (Field::GivenNamesCyrillic, Field::GivenNames),
    ] {
        let Some(declared_value) = declared.get(field).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let Some(extracted_value) = extracted.get(shown_as) else {
            findings.push(finding(ReasonCode::LowConfidence, Some(field)));
            continue;
        };
        let (result, note) = if is_cyrillic(extracted_value) {
            let same = cyrillic_form(declared_value) == cyrillic_form(extracted_value);
            let result = if same {
                MatchResult::Match
            } else {
                MatchResult::Mismatch
            };
            (result, None)
        } else {
            compare_names(declared_value, extracted_value, names_truncated)
        };
        match result {
            MatchResult::Mismatch => findings.push(finding(ReasonCode::FieldMismatch, Some(field))),
            _ => findings.extend(note.map(|code| finding(code, Some(field)))),
        }
        matches.push(FieldMatch {
            field,
            declared: declared_value.chars().take(200).collect(),
            extracted: Some(extracted_value.to_string()),
            result,
        });
    }
    findings.extend(check_numbers(declared));
    (matches, findings)
}

/// The form's SNILS and INN judged by their check digits.
pub fn check_numbers(declared: &Profile) -> Vec<Finding> {
    let mut findings = Vec::new();
    let given = |field| declared.get(field).filter(|v: &&str| !v.trim().is_empty());
    if given(Field::Snils).is_some_and(|v| !snils_valid(v)) {
        findings.push(finding(ReasonCode::SnilsInvalid, Some(Field::Snils)));
    }
    if given(Field::Inn).is_some_and(|v| !inn_valid(v)) {
        findings.push(finding(ReasonCode::InnInvalid, Some(Field::Inn)));
    }
    findings
}

/// A Cyrillic name as compared with another: upper case, `Ё` as `Е`, words
/// separated by one space.
pub(crate) fn cyrillic_form(name: &str) -> String {
    normalize_latin(name).replace('Ё', "Е")
}

/// One field's result and the informational code an equivalence carries.
pub fn compare_field(
    field: Field,
    declared: &str,
    extracted: &str,
    names_truncated: bool,
) -> (MatchResult, Option<ReasonCode>) {
    match field {
        Field::Surname
        | Field::GivenNames
        | Field::SurnameCyrillic
        | Field::GivenNamesCyrillic
        | Field::Patronymic
        | Field::PatronymicCyrillic
        | Field::PlaceOfBirth => compare_names(declared, extracted, names_truncated),
        Field::BirthDate | Field::ExpiryDate | Field::IssueDate => {
            compare_dates(declared, extracted)
        }
        Field::Snils | Field::Inn => plain(code(declared), code(extracted)),
        Field::Sex => plain(sex(declared), sex(extracted)),
        Field::Nationality | Field::IssuingState => plain(country(declared), country(extracted)),
        Field::DocumentNumber | Field::PersonalNumber | Field::DocumentType => {
            plain(code(declared), code(extracted))
        }
    }
}

fn plain(a: String, b: String) -> (MatchResult, Option<ReasonCode>) {
    if !a.is_empty() && a == b {
        (MatchResult::Match, None)
    } else {
        (MatchResult::Mismatch, None)
    }
}

fn compare_names(
    declared: &str,
    extracted: &str,
    truncated: bool,
) -> (MatchResult, Option<ReasonCode>) {
    let extracted = normalize_latin(extracted);
    let candidates = latin_candidates(declared);
    let cyrillic = is_cyrillic(declared);
    if !cyrillic && candidates.first() == Some(&extracted) {
        return (MatchResult::Match, None);
    }
    let equivalent = Some(ReasonCode::TransliterationEquivalent);
    if candidates.contains(&extracted) {
        return (MatchResult::Equivalent, equivalent);
    }
    let extracted_skeleton = skeleton(&extracted);
    if candidates.iter().any(|c| skeleton(c) == extracted_skeleton) {
        return (MatchResult::Equivalent, equivalent);
    }
    // The MRZ keeps the first characters of a long name, and may leave the
    // given names out altogether: a truncation of some spelling is the same name.
    if truncated
        && candidates
            .iter()
            .any(|c| extracted.is_empty() || truncation_of(c, &extracted))
    {
        return (MatchResult::Equivalent, None);
    }
    (MatchResult::Mismatch, None)
}

/// Whether `cut` is `full` shortened as ICAO 9303 Part 4 §4.2.3 truncates a
/// name that does not fit: its words in order, each whole or cut short, the
/// last ones perhaps left out. A word cut where fillers would end the field
/// gives a letter to the next word's initial (`DEJTHAMRONG KRASUANG` →
/// `DEJTHAMRON K`), so the words are compared one by one, not the whole.
fn truncation_of(full: &str, cut: &str) -> bool {
    let (full_words, cut_words): (Vec<&str>, Vec<&str>) = (
        full.split_whitespace().collect(),
        cut.split_whitespace().collect(),
    );
    full.len() > cut.len()
        && cut_words.len() <= full_words.len()
        && cut_words
            .iter()
            .zip(&full_words)
            .all(|(cut, full)| full.starts_with(cut))
}

fn compare_dates(declared: &str, extracted: &str) -> (MatchResult, Option<ReasonCode>) {
    match (Date::parse(declared), Date::parse_iso(extracted)) {
        (Some((d, DateStyle::Iso)), Some(e)) if d == e => (MatchResult::Match, None),
        (Some((d, DateStyle::Dotted)), Some(e)) if d == e => (
            MatchResult::Equivalent,
            Some(ReasonCode::DateFormatEquivalent),
        ),
        _ => (MatchResult::Mismatch, None),
    }
}

/// Letters and digits only, upper-case: `AB 123-456<` → `AB123456`.
fn code(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn sex(s: &str) -> String {
    let s = s.trim().to_lowercase();
    let first = s.chars().next();
    match first {
        Some('m') | Some('м') => "M",
        Some('f') | Some('ж') | Some('w') => "F",
        Some('x') | Some('<') => "X",
        _ => "",
    }
    .to_string()
}

/// A three-letter code, or a country name (English or Russian) turned into one.
fn country(s: &str) -> String {
    let t = s.trim();
    let lower = t.to_lowercase();
    const NAMES: &[(&str, &str)] = &[
        ("узбекистан", "UZB"),
        ("таджикистан", "TJK"),
        ("киргизия", "KGZ"),
        ("кыргызстан", "KGZ"),
        ("казахстан", "KAZ"),
        ("армения", "ARM"),
        ("азербайджан", "AZE"),
        ("украина", "UKR"),
        ("молдова", "MDA"),
        ("беларусь", "BLR"),
        ("туркменистан", "TKM"),
        ("грузия", "GEO"),
        ("китай", "CHN"),
        ("вьетнам", "VNM"),
        ("индия", "IND"),
        ("турция", "TUR"),
        ("россия", "RUS"),
    ];
    if let Some((_, c)) = NAMES.iter().find(|(name, _)| lower.starts_with(name)) {
        return c.to_string();
    }
    if t.len() > 3 {
        if let Some(c) = mrz::code_for_name(t) {
            return c.to_string();
        }
    }
    code(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn extracted() -> DocumentFields {
        DocumentFields {
            surname: Some("TURSUNOV".into()),
            given_names: Some("ALISHER".into()),
            document_number: Some("FA1234567".into()),
            nationality: Some("UZB".into()),
            birth_date: Some("1990-01-31".into()),
            sex: Some("M".into()),
            expiry_date: Some("2031-05-02".into()),
            ..Default::default()
        }
    }

    fn results(declared: &Profile, truncated: bool) -> Vec<(Field, MatchResult)> {
        compare(declared, &extracted(), truncated)
            .0
            .into_iter()
            .map(|m| (m.field, m.result))
            .collect()
    }

    #[test]
    fn equal_and_equivalent_profiles() {
        let same = Profile {
            surname: Some("Tursunov".into()),
            given_names: Some("alisher".into()),
            document_number: Some("FA 1234567".into()),
            birth_date: Some("1990-01-31".into()),
            sex: Some("male".into()),
            nationality: Some("Узбекистан".into()),
            ..Default::default()
        };
        let (matches, findings) = compare(&same, &extracted(), false);
        assert!(
            matches.iter().all(|m| m.result == MatchResult::Match),
            "{matches:?}"
        );
        assert!(findings.is_empty());

        let cyrillic = Profile {
            surname: Some("ТУРСУНОВ".into()),
            given_names: Some("Алишер".into()),
            birth_date: Some("31.01.1990".into()),
            sex: Some("М".into()),
            ..Default::default()
        };
        let (matches, findings) = compare(&cyrillic, &extracted(), false);
        assert!(matches.iter().all(|m| m.result != MatchResult::Mismatch));
        let codes: Vec<_> = findings.iter().map(|f| f.code).collect();
        assert!(codes.contains(&ReasonCode::TransliterationEquivalent));
        assert!(codes.contains(&ReasonCode::DateFormatEquivalent));
        assert!(codes.iter().all(|c| c.verdict().is_none()));
    }

    #[test]
    fn one_changed_field_is_a_mismatch_with_a_finding() {
        for (field, value) in [
            (Field::Surname, "TURSUNOVA"),
            (Field::BirthDate, "01.02.1990"),
            (Field::DocumentNumber, "FA1234568"),
            (Field::ExpiryDate, "2031-05-03"),
            (Field::Sex, "F"),
        ] {
            let mut declared = Profile::default();
            declared.set(field, Some(value.into()));
            let (matches, findings) = compare(&declared, &extracted(), false);
            assert_eq!(matches[0].result, MatchResult::Mismatch, "{field:?}");
            assert_eq!(findings[0].code, ReasonCode::FieldMismatch);
            assert_eq!(findings[0].field, Some(field));
        }
    }

    #[test]
    fn truncated_mrz_names() {
        let mut doc = extracted();
        doc.surname = Some("ABDURAKHMANOVA".into());
        doc.given_names = Some("GULNORAKHON KHURSHIDOVN".into());
        let declared = Profile {
            surname: Some("Abdurakhmanova".into()),
            given_names: Some("Gulnorakhon Khurshidovna".into()),
            ..Default::default()
        };
        let (m, f) = compare(&declared, &doc, true);
        assert_eq!(m[1].result, MatchResult::Equivalent);
        assert!(f.is_empty());
        // Without truncation the same shortening is a mismatch.
        assert_eq!(
            compare(&declared, &doc, false).0[1].result,
            MatchResult::Mismatch
        );
        // ICAO's truncation of a name cut where fillers would end the field:
        // the word before the initial gives up a letter (Part 4 §4.2.3).
        doc.given_names = Some("CHAYAPA DEJTHAMRON K".into());
        let long = Profile {
            given_names: Some("Chayapa Dejthamrong Krasuang".into()),
            ..Default::default()
        };
        assert_eq!(
            compare(&long, &doc, true).0[0].result,
            MatchResult::Equivalent
        );
        assert_eq!(
            compare(&long, &doc, false).0[0].result,
            MatchResult::Mismatch
        );
        doc.given_names = Some("CHAYAPA DEJTHAMRON X".into());
        assert_eq!(
            compare(&long, &doc, true).0[0].result,
            MatchResult::Mismatch
        );
        doc.given_names = Some("GULNORAKHON KHURSHIDOVN".into());
        // And truncation never lets a different name through.
        let other = Profile {
            given_names: Some("Gulnora Khurshidovna".into()),
            ..Default::default()
        };
        assert_eq!(
            compare(&other, &doc, true).0[0].result,
            MatchResult::Mismatch
        );
    }

    #[test]
    fn undeclared_fields_are_skipped_and_unread_ones_need_a_person() {
        let declared = Profile {
            personal_number: Some("12345".into()),
            ..Default::default()
        };
        let (m, f) = compare(&declared, &extracted(), false);
        assert!(m.is_empty());
        assert_eq!(f[0].code, ReasonCode::LowConfidence);
        assert!(results(&Profile::default(), false).is_empty());
    }

    #[test]
    fn names_in_both_scripts_are_each_compared() {
        let both = Profile {
            surname: Some("TURSUNOV".into()),
            given_names: Some("ALISHER".into()),
            surname_cyrillic: Some("Турсунов".into()),
            given_names_cyrillic: Some("АЛИШЕР".into()),
            patronymic_cyrillic: Some("Бахтиёрович".into()),
            ..Default::default()
        };
        let (matches, findings) = compare(&both, &extracted(), false);
        let got: Vec<(Field, MatchResult)> = matches.iter().map(|m| (m.field, m.result)).collect();
        assert_eq!(
            got,
            vec![
                (Field::Surname, MatchResult::Match),
                (Field::GivenNames, MatchResult::Match),
                (Field::SurnameCyrillic, MatchResult::Equivalent),
                (Field::GivenNamesCyrillic, MatchResult::Equivalent),
            ]
        );
        assert!(findings
            .iter()
            .all(|f| f.code == ReasonCode::TransliterationEquivalent));

        // A Cyrillic name that is another person's is a mismatch on that field.
        let other = Profile {
            surname_cyrillic: Some("Турсунбаев".into()),
            ..Default::default()
        };
        let (_, findings) = compare(&other, &extracted(), false);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, ReasonCode::FieldMismatch);
        assert_eq!(findings[0].field, Some(Field::SurnameCyrillic));

        // Where the document shows the name in Cyrillic, Cyrillic is compared with it.
        let shown = DocumentFields {
            surname: Some("ТУРСУНОВ".into()),
            ..Default::default()
        };
        let yo = Profile {
            surname_cyrillic: Some("турсунов".into()),
            ..Default::default()
        };
        let (matches, _) = compare(&yo, &shown, false);
        assert_eq!(matches[0].result, MatchResult::Match);
        let wrong = Profile {
            surname_cyrillic: Some("Турсунова".into()),
            ..Default::default()
        };
        assert_eq!(
            compare(&wrong, &shown, false).0[0].result,
            MatchResult::Mismatch
        );
    }

    #[test]
    fn a_bad_snils_or_inn_asks_for_a_correction_of_that_field() {
        let good = Profile {
            snils: Some("112-233-445 95".into()),
            inn: Some("500100732259".into()),
            ..Default::default()
        };
        assert!(compare(&good, &extracted(), false).1.is_empty());
        let bad = Profile {
            snils: Some("112-233-445 96".into()),
            inn: Some("500100732258".into()),
            ..Default::default()
        };
        let (_, findings) = compare(&bad, &extracted(), false);
        let got: Vec<_> = findings.iter().map(|f| (f.code, f.field)).collect();
        assert_eq!(
            got,
            vec![
                (ReasonCode::SnilsInvalid, Some(Field::Snils)),
                (ReasonCode::InnInvalid, Some(Field::Inn)),
            ]
        );
        assert!(findings
            .iter()
            .all(|f| f.code.verdict() == Some(intake_models::Verdict::NeedsCorrection)));
        assert!(findings[0].message_ru.contains("СНИЛС") && findings[0].message.contains("SNILS"));
        assert!(findings[1].message_ru.contains("ИНН") && findings[1].message.contains("INN"));
    }

    proptest! {
        #[test]
        fn changing_one_letter_of_a_name_is_never_accepted(at in 0usize..8, letter in "[A-Z]") {
            let original = "TURSUNOV";
            let mut changed: Vec<char> = original.chars().collect();
            let replacement = letter.chars().next().unwrap();
            prop_assume!(changed[at] != replacement);
            changed[at] = replacement;
            let changed: String = changed.into_iter().collect();
            // Y and I are one letter in two schemes (Й); that swap is allowed after a vowel.
            prop_assume!(skeleton(&changed) != skeleton(original));
            let (result, _) = compare_field(Field::Surname, &changed, original, false);
            prop_assert_eq!(result, MatchResult::Mismatch);
        }
    }
}
