//! Visual-zone stage: fields from the OCR text of a document without an MRZ
//! (migration card, residence-permit page, registration, proof of address).
//!
//! Such documents print labelled fields, the label in Russian, English or
//! both (`Фамилия / Surname: ТУРСУНОВ / TURSUNOV`), the value after it on
//! the line or on the line below; dates as `20.03.1995`, `1995-03-20`,
//! `20/03/1995`, `20 MAR 1995` or `20 МАР 1995`. Labels are matched loosely
//! (OCR misspells them); values are validated strictly, and only validated
//! values are `confident` — the rest go to a person.

use crate::dates::Date;
use crate::transliteration::{is_cyrillic, latin_candidates, normalize_latin, skeleton};
use intake_models::{DocumentFields, DocumentKind, Field};

/// What the visual zone gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VizReading {
    pub fields: DocumentFields,
    /// The kind the document's title names.
    pub title_kind: Option<DocumentKind>,
    /// Fields whose value passed validation.
    pub confident: Vec<Field>,
}

/// Label words per field, Russian and English; earlier entries win
/// (`surname` before the `name` of given names).
const LABELS: &[(Field, &[&str])] = &[
    (Field::Surname, &["фамилия", "surname"]),
    (Field::BirthDate, &["рождения", "birth"]),
    (Field::GivenNames, &["имя", "given", "names"]),
    (Field::Sex, &["пол", "sex"]),
    (
        Field::Nationality,
        &["гражданство", "nationality", "citizenship"],
    ),
    (
        Field::ExpiryDate,
        &[
            "действителен",
            "действительна",
            "действия",
            "valid",
            "until",
            "expiry",
        ],
    ),
    (Field::DocumentNumber, &["номер", "number"]),
];

/// Title words per kind, Russian and English: a phrase matches its words in
/// a row. Earlier entries win, so a phrase comes before the words it holds
/// (a temporary residence permit before a residence permit, a registration
/// at the place of stay before the address words any document has).
const TITLES: &[(DocumentKind, &[&str])] = &[
    (
        DocumentKind::TemporaryResidencePermit,
        &[
            "временное проживание",
            "временного проживания",
            "temporary residence",
        ],
    ),
    (DocumentKind::ResidencePermit, &["жительство", "residence"]),
    (
        DocumentKind::WorkPermit,
        &["разрешение на работу", "work permit"],
    ),
    (DocumentKind::WorkPatent, &["патент", "patent"]),
    (
        DocumentKind::RefugeeCertificate,
        &["беженца", "убежища", "refugee", "asylum"],
    ),
    (
        DocumentKind::TemporaryTravelDocument,
        &["проездной", "travel document"],
    ),
    (DocumentKind::MigrationCard, &["миграционная", "migration"]),
    (
        DocumentKind::StayRegistration,
        &[
            "прибытии",
            "arrival",
            "по месту пребывания",
            "place of stay",
        ],
    ),
    // Without an MRZ (a foreign passport always has one), a passport is
    // the national one.
    (DocumentKind::NationalPassport, &["паспорт", "passport"]),
    (
        DocumentKind::AddressProof,
        &["регистрации", "registration", "address"],
    ),
];

/// Reads the labelled fields out of OCR text.
pub fn read_fields(ocr_text: &str) -> VizReading {
    let mut reading = VizReading::default();
    let lines: Vec<String> = ocr_text
        .lines()
        .take(200)
        .map(|line| line.chars().take(200).collect())
        .collect();
    for (i, line) in lines.iter().enumerate() {
        let words = words(line);
        if reading.title_kind.is_none() {
            reading.title_kind = TITLES
                .iter()
                .find(|(_, phrases)| phrases.iter().any(|p| has_phrase(&words, p)))
                .map(|(kind, _)| *kind);
        }
        let Some((field, value)) = labelled(line) else {
            continue;
        };
        if reading.fields.get(field).is_some() {
            continue;
        }
        // A label alone on its line: the value is the next line that is not
        // itself a label.
        let value = match value.trim() {
            "" => match lines[i + 1..].iter().find(|l| !l.trim().is_empty()) {
                Some(next) if labelled(next).is_none() => next.trim(),
                _ => continue,
            },
            value => value,
        };
        let (value, confident) = read_value(field, value);
        if let Some(value) = value {
            reading.fields.set(field, Some(value));
            if confident {
                reading.confident.push(field);
            }
        }
    }
    reading
}

/// The field a line labels and the text after the label: `Label: value`,
/// or a label alone (no digits, a few words) with an empty value.
fn labelled(line: &str) -> Option<(Field, &str)> {
    let (label, value) = match line.split_once([':', ';']) {
        Some(split) => split,
        None if !line.chars().any(|c| c.is_ascii_digit()) && words(line).len() <= 6 => (line, ""),
        None => return None,
    };
    let label_words = words(label);
    LABELS
        .iter()
        .find(|(_, keys)| keys.iter().any(|k| label_words.iter().any(|w| close(w, k))))
        .map(|(field, _)| (*field, value))
}

/// A field's value from its printed text, and whether it validated.
fn read_value(field: Field, text: &str) -> (Option<String>, bool) {
    match field {
        Field::BirthDate | Field::ExpiryDate => match printed_date(text) {
            Some(date) => (Some(date.to_iso()), true),
            None => (None, false),
        },
        Field::Surname | Field::GivenNames => read_name(text),
        Field::Sex => {
            let latin = text
                .split('/')
                .map(str::trim)
                .find(|p| p.is_ascii() && !p.is_empty());
            let sex = match (latin, text.trim().chars().next()) {
                (Some("M"), _) | (_, Some('М')) => Some("M"),
                (Some("F"), _) | (_, Some('Ж')) => Some("F"),
                _ => None,
            };
            (sex.map(str::to_string), sex.is_some())
        }
        Field::Nationality => {
            let code: String = text
                .chars()
                .filter(char::is_ascii_alphabetic)
                .collect::<String>()
                .to_uppercase();
            let ok = code.len() == 3;
            ((!code.is_empty()).then_some(code), ok)
        }
        _ => {
            // Document numbers: digits and capitals; O read for 0 among digits is fixed.
            let number: String = text
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_uppercase())
                .collect();
            let digits = number.chars().filter(char::is_ascii_digit).count();
            let number = if digits * 2 > number.len() {
                number.replace('O', "0")
            } else {
                number
            };
            let ok = (6..=15).contains(&number.len());
            ((!number.is_empty()).then_some(number), ok)
        }
    }
}

/// Month abbreviations as documents print them, English and Russian.
const MONTHS: [(&str, &str); 12] = [
    ("JAN", "ЯНВ"),
    ("FEB", "ФЕВ"),
    ("MAR", "МАР"),
    ("APR", "АПР"),
    ("MAY", "МАЙ"),
    ("JUN", "ИЮН"),
    ("JUL", "ИЮЛ"),
    ("AUG", "АВГ"),
    ("SEP", "СЕН"),
    ("OCT", "ОКТ"),
    ("NOV", "НОЯ"),
    ("DEC", "ДЕК"),
];

/// A printed date: `20.03.1995`, `1995-03-20`, `20/03/1995`, `20 MAR 1995`,
/// `20 МАР 1995` or `20 МАР/MAR 1995` (every month name given must agree).
fn printed_date(text: &str) -> Option<Date> {
    // Digits only: O read for 0 is undone, separators unified.
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            'O' | 'o' | 'О' | 'о' => '0',
            '/' => '.',
            c => c,
        })
        .collect();
    if let Some((date, _)) = Date::parse(&compact) {
        return Some(date);
    }
    let tokens: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, '/' | '.' | ',' | '-'))
        .filter(|t| !t.is_empty())
        .map(|t| t.to_uppercase())
        .collect();
    let numbers: Vec<&String> = tokens
        .iter()
        .filter(|t| t.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let months: Vec<u8> = tokens
        .iter()
        .filter(|t| t.chars().all(char::is_alphabetic))
        .map(|t| {
            let head: String = t.chars().take(3).collect();
            MONTHS
                .iter()
                .position(|(en, ru)| head == *en || head == *ru || (head == "МАЯ" && *ru == "МАЙ"))
                .map(|i| i as u8 + 1)
        })
        .collect::<Option<Vec<u8>>>()?;
    let (&[day, year], Some(&month)) = (numbers.as_slice(), months.first()) else {
        return None;
    };
    if months.iter().any(|&m| m != month) || day.len() > 2 || year.len() != 4 {
        return None;
    }
    Date::new(year.parse().ok()?, month, day.parse().ok()?)
}

/// A name printed `КИРИЛЛИЦА / LATIN`: the Latin part, else the Cyrillic one
/// in ICAO transliteration. Confident when it is letters only and, if both
/// parts are there, they agree under transliteration. OCR may read a
/// Cyrillic name spelt in letters both scripts share as Latin (`АСАНОВА` as
/// `ACAHOBA`): the Latin part is the last one, and such a name alone is not
/// confident.
fn read_name(text: &str) -> (Option<String>, bool) {
    let parts: Vec<&str> = text
        .split('/')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let cyrillic = parts.iter().find(|p| is_cyrillic(p));
    let latin = parts
        .iter()
        .rev()
        .find(|p| !is_cyrillic(p))
        .map(|p| normalize_latin(p));
    let letters_only =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphabetic() || c == ' ' || c == '-');
    match (cyrillic, latin) {
        (Some(cyr), Some(lat)) => {
            let agree = latin_candidates(cyr)
                .iter()
                .any(|c| skeleton(c) == skeleton(&lat));
            let ok = agree && letters_only(&lat);
            (Some(lat), ok)
        }
        (None, Some(lat)) => {
            let ok = letters_only(&lat) && (parts.len() > 1 || !both_scripts(&lat));
            (Some(lat), ok)
        }
        (Some(cyr), None) => {
            let lat = latin_candidates(cyr).into_iter().next().unwrap_or_default();
            let ok = letters_only(cyr);
            ((!lat.is_empty()).then_some(lat), ok)
        }
        (None, None) => (None, false),
    }
}

/// Whether every letter of `name` looks the same in Latin and Cyrillic capitals.
fn both_scripts(name: &str) -> bool {
    name.chars()
        .filter(|c| c.is_alphabetic())
        .all(|c| "ABCEHKMOPTXY".contains(c))
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect()
}

/// Whether the words of `phrase` occur in `words` in a row (each [`close`]).
fn has_phrase(words: &[String], phrase: &str) -> bool {
    let wanted: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(wanted.len())
        .any(|run| run.iter().zip(&wanted).all(|(w, k)| close(w, k)))
}

/// Equal, or one edit apart for words of five letters or more.
fn close(word: &str, key: &str) -> bool {
    word == key || (key.chars().count() >= 5 && edit_distance(word, key) <= 1)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return 2;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row.push((prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "МИГРАЦИОННАЯ КАРТА / MIGRATION CARD\n\
        Номер / Number: 4619 1234567\n\
        Фамилия / Surname: ТУРСУНОВ / TURSUNOV\n\
        Имя / Given names: АЛИШЕР / ALISHER\n\
        Дата рождения / Date of birth: 31.01.1990\n\
        Пол / Sex: М / M\n\
        Гражданство / Nationality: UZB\n\
        Действителен до / Valid until: 02.05.2027\n";

    #[test]
    fn a_clean_card() {
        let r = read_fields(CARD);
        assert_eq!(r.title_kind, Some(DocumentKind::MigrationCard));
        let f = &r.fields;
        assert_eq!(f.document_number.as_deref(), Some("46191234567"));
        assert_eq!(f.surname.as_deref(), Some("TURSUNOV"));
        assert_eq!(f.given_names.as_deref(), Some("ALISHER"));
        assert_eq!(f.birth_date.as_deref(), Some("1990-01-31"));
        assert_eq!(f.sex.as_deref(), Some("M"));
        assert_eq!(f.nationality.as_deref(), Some("UZB"));
        assert_eq!(f.expiry_date.as_deref(), Some("2027-05-02"));
        assert_eq!(r.confident.len(), 7);
    }

    #[test]
    fn ocr_noise_is_tolerated_but_not_trusted_blindly() {
        let noisy = "\n\nМИГРАЦИОННАЯ КАРТА / MIGRATI0N CARD\n\
            Номер / Numbcr: 4619 12345O7\n\
            Фамилня / Surname: ТУРСУНОВ / TURSUNQV\n\
            Дата рождения / Date of birth: 31.0l.1990\n\
            Действителен до / Valid untl: 02.05.2027\n";
        let r = read_fields(noisy);
        assert_eq!(r.title_kind, Some(DocumentKind::MigrationCard));
        assert_eq!(r.fields.document_number.as_deref(), Some("46191234507"));
        // The Latin surname disagrees with the Cyrillic one: read, not confident.
        assert_eq!(r.fields.surname.as_deref(), Some("TURSUNQV"));
        assert!(!r.confident.contains(&Field::Surname));
        // An unparseable date is not read at all.
        assert_eq!(r.fields.birth_date, None);
        assert_eq!(r.fields.expiry_date.as_deref(), Some("2027-05-02"));
    }

    #[test]
    fn a_cyrillic_name_read_in_latin_letters_is_not_trusted() {
        let (name, confident) = read_name("ACAHOBA");
        assert_eq!(name.as_deref(), Some("ACAHOBA"));
        assert!(!confident);
        assert_eq!(
            read_name("ACAHOBA / ASANOVA"),
            (Some("ASANOVA".into()), true)
        );
        assert_eq!(read_name("ASEL"), (Some("ASEL".into()), true));
        assert_eq!(read_name("АСАНОВА"), (Some("ASANOVA".into()), true));
    }

    #[test]
    fn titles_name_their_kind() {
        let cases = [
            ("ПАТЕНТ / PATENT", DocumentKind::WorkPatent),
            (
                "РАЗРЕШЕНИЕ НА РАБОТУ / WORK PERMIT",
                DocumentKind::WorkPermit,
            ),
            (
                "РАЗРЕШЕНИЕ НА ВРЕМЕННОЕ ПРОЖИВАНИЕ / TEMPORARY RESIDENCE PERMIT",
                DocumentKind::TemporaryResidencePermit,
            ),
            (
                "ВИД НА ЖИТЕЛЬСТВО / RESIDENCE PERMIT",
                DocumentKind::ResidencePermit,
            ),
            (
                "СВИДЕТЕЛЬСТВО О ПРЕДОСТАВЛЕНИИ ВРЕМЕННОГО УБЕЖИЩА",
                DocumentKind::RefugeeCertificate,
            ),
            ("REFUGEE CERTIFICATE", DocumentKind::RefugeeCertificate),
            (
                "ВРЕМЕННЫЙ ПРОЕЗДНОЙ ДОКУМЕНТ / TEMPORARY TRAVEL DOCUMENT",
                DocumentKind::TemporaryTravelDocument,
            ),
            (
                "УВЕДОМЛЕНИЕ О ПРИБЫТИИ / NOTIFICATION OF ARRIVAL",
                DocumentKind::StayRegistration,
            ),
            (
                "РЕГИСТРАЦИЯ ПО МЕСТУ ПРЕБЫВАНИЯ",
                DocumentKind::StayRegistration,
            ),
            ("МИГРАЦИОННАЯ КАРТА", DocumentKind::MigrationCard),
            (
                "ПАСПОРТ ГРАЖДАНИНА РЕСПУБЛИКИ ТАДЖИКИСТАН",
                DocumentKind::NationalPassport,
            ),
            ("Справка о регистрации", DocumentKind::AddressProof),
        ];
        for (title, kind) in cases {
            assert_eq!(read_fields(title).title_kind, Some(kind), "{title}");
        }
        // The words of a phrase apart name nothing.
        assert_eq!(read_fields("WORK ... TEMPORARY PERMIT").title_kind, None);
    }

    #[test]
    fn labels_in_one_language_values_below_them_and_dates_as_printed() {
        let english = "RESIDENCE PERMIT\n\
            Surname\n\
            TURSUNOV\n\
            Given names\n\
            ALISHER\n\
            Date of birth\n\
            31 JAN 1990\n\
            Nationality: UZB\n\
            Date of expiry: 02/05/2027\n";
        let r = read_fields(english);
        assert_eq!(r.title_kind, Some(DocumentKind::ResidencePermit));
        assert_eq!(r.fields.surname.as_deref(), Some("TURSUNOV"));
        assert_eq!(r.fields.given_names.as_deref(), Some("ALISHER"));
        assert_eq!(r.fields.birth_date.as_deref(), Some("1990-01-31"));
        assert_eq!(r.fields.nationality.as_deref(), Some("UZB"));
        assert_eq!(r.fields.expiry_date.as_deref(), Some("2027-05-02"));
        let russian = "ПАТЕНТ\n\
            Фамилия\n\
            ТУРСУНОВ\n\
            Дата рождения: 31 ЯНВ 1990\n\
            Срок действия\n\
            1 МАЯ 2027\n";
        let r = read_fields(russian);
        assert_eq!(r.fields.surname.as_deref(), Some("TURSUNOV"));
        assert!(r.confident.contains(&Field::Surname));
        assert_eq!(r.fields.birth_date.as_deref(), Some("1990-01-31"));
        assert_eq!(r.fields.expiry_date.as_deref(), Some("2027-05-01"));
        // A label followed by another label has no value.
        let r = read_fields("Surname\nGiven names: ALISHER\n");
        assert_eq!(r.fields.surname, None);
        assert_eq!(r.fields.given_names.as_deref(), Some("ALISHER"));
    }

    #[test]
    fn printed_dates_in_every_form_and_nothing_else() {
        for printed in [
            "20.03.1995",
            "1995-03-20",
            "20/03/1995",
            "2O.O3.1995",
            "20 MAR 1995",
            "20 МАР 1995",
            "20 МАР/MAR 1995",
            "20 March 1995",
            "20 марта 1995",
        ] {
            assert_eq!(
                printed_date(printed).map(|d| d.to_iso()).as_deref(),
                Some("1995-03-20"),
                "{printed}"
            );
        }
        for bad in [
            "20 МАР/APR 1995",
            "MAR 1995",
            "20 XYZ 1995",
            "32.03.1995",
            "20 MAR 95",
            "",
        ] {
            assert_eq!(printed_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn unrelated_text_gives_nothing() {
        let r = read_fields("Lorem ipsum\n12345\n:::\n");
        assert_eq!(r, VizReading::default());
    }
}
