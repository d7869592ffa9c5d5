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
use intake_models::{DocumentFields, DocumentKind, Field, MatchResult};

/// What the visual zone gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VizReading {
    pub fields: DocumentFields,
    /// The kind the document's title names.
    pub title_kind: Option<DocumentKind>,
    /// Fields whose value passed validation.
    pub confident: Vec<Field>,
    /// Each field's text as printed (after its label), for comparisons
    /// that need more than the one value read from it.
    pub printed: Vec<(Field, String)>,
    /// The passport number the document names (`Номер паспорта / Passport
    /// No.`), where it validated.
    pub passport_number: Option<String>,
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
            "окончания",
            "пребывания",
            "valid",
            "until",
            "expiry",
        ],
    ),
    (Field::DocumentNumber, &["номер", "number", "no"]),
];

/// Label words of lines that are not read (and whose words would pass for
/// another field's label: the place of birth for the date of birth).
const UNREAD_LABELS: &[&str] = &["место", "place"];

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
        if let Some(number) = passport_number(&lines[i..]) {
            reading.passport_number.get_or_insert(number);
            continue;
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
        reading.printed.push((field, value.to_string()));
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

/// The fields of an MRZ document whose visual zone, read with confidence,
/// disagrees with its MRZ: `viz_mismatch`. What OCR commonly gets wrong is
/// not a disagreement:
/// - names are held against the Latin spelling the visual zone prints
///   (ICAO 9303 requires one): a part read in Cyrillic letters, which may be
///   Latin misread, is not compared; any Latin part that agrees (by
///   transliteration, one letter off, or with stray marks beside it) will do;
/// - numbers by their digits, one digit off or the series letters misread
///   as digits allowed (so a forger's single changed character is not caught
///   here);
/// - dates, sex and nationality codes exactly: a date that validates is read whole.
pub fn disagreements(viz: &VizReading, mrz: &DocumentFields, names_truncated: bool) -> Vec<Field> {
    viz.confident
        .iter()
        .copied()
        .filter(|&field| {
            let (Some(read), Some(encoded)) = (viz.fields.get(field), mrz.get(field)) else {
                return false;
            };
            match field {
                Field::Surname | Field::GivenNames => {
                    let printed = viz.printed.iter().find(|(f, _)| *f == field);
                    let latin: Vec<String> = printed
                        .map_or("", |(_, text)| text.as_str())
                        .split('/')
                        .filter(|part| !is_cyrillic(part))
                        .map(normalize_latin)
                        .filter(|p| !p.is_empty())
                        .collect();
                    !latin.is_empty()
                        && !latin
                            .iter()
                            .any(|part| same_name(field, part, encoded, names_truncated))
                }
                Field::DocumentNumber => !same_number(read, encoded),
                Field::BirthDate | Field::ExpiryDate | Field::Sex | Field::Nationality => {
                    read != encoded
                }
                _ => false,
            }
        })
        .collect()
}

/// Whether a printed Latin name is the MRZ's, up to what OCR gets wrong.
fn same_name(field: Field, printed: &str, encoded: &str, names_truncated: bool) -> bool {
    let (result, _) = crate::cross_match::compare_field(field, printed, encoded, names_truncated);
    result != MatchResult::Mismatch
        || edit_distance(&skeleton(printed), &skeleton(encoded)) <= 1
        || holds_words(printed, &normalize_latin(encoded))
}

/// Whether two readings of a document number are the same number up to what
/// OCR gets wrong in a printed one: its series letters misread or lost, or
/// one digit (so a single changed digit is not told apart).
pub fn same_number(a: &str, b: &str) -> bool {
    let (a, b) = (digits(a), digits(b));
    edit_distance(&a, &b) <= 1 || a.ends_with(&b) || b.ends_with(&a)
}

fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// Whether the words of `part` occur, whole and in order, in `whole`: a name
/// with OCR's stray marks beside it still holds it.
fn holds_words(whole: &str, part: &str) -> bool {
    let whole: Vec<&str> = whole.split_whitespace().collect();
    let part: Vec<&str> = part.split_whitespace().collect();
    !part.is_empty() && whole.windows(part.len()).any(|w| w == part.as_slice())
}

/// The passport number that `lines[0]` labels (`Номер паспорта / Passport
/// No.: …`, the value on the line or the next), where it validates. A title
/// (`ПАСПОРТ / PASSPORT`) names no number.
fn passport_number(lines: &[String]) -> Option<String> {
    let line = lines.first()?;
    let (label, value) = line.split_once([':', ';']).unwrap_or((line, ""));
    let label_words = words(label);
    let has = |keys: &[&str]| keys.iter().any(|k| label_words.iter().any(|w| close(w, k)));
    let number_word = has(&["номер", "number", "no"]) || label.contains('№');
    if !(has(&["паспорта", "паспорт", "passport"]) && number_word) {
        return None;
    }
    let value = match value.trim() {
        "" if label.chars().any(|c| c.is_ascii_digit()) => return None,
        "" => lines[1..].iter().find(|l| !l.trim().is_empty())?.trim(),
        value => value,
    };
    match read_value(Field::DocumentNumber, value) {
        (Some(number), true) => Some(number),
        _ => None,
    }
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
    if UNREAD_LABELS
        .iter()
        .any(|k| label_words.iter().any(|w| close(w, k)))
    {
        return None;
    }
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
        // `Ж / F`, `M`, `М / M`: every part that names a sex must name the
        // same one (OCR reads `Ж` as `M` often enough).
        Field::Sex => {
            let named: Vec<&str> = text
                .split('/')
                .filter_map(|part| match part.trim().chars().next() {
                    Some('M' | 'М') => Some("M"),
                    Some('F' | 'Ж') => Some("F"),
                    _ => None,
                })
                .collect();
            let sex = named
                .first()
                .filter(|first| named.iter().all(|s| s == *first));
            (sex.map(|s| s.to_string()), sex.is_some())
        }
        Field::Nationality => {
            let code: String = text
                .chars()
                .filter(char::is_ascii_alphabetic)
                .collect::<String>()
                .to_uppercase();
            // A code is three letters and nothing else.
            let ok = code.len() == 3 && text.trim().len() == 3;
            ((!code.is_empty()).then_some(code), ok)
        }
        _ => {
            // Document numbers: digits and capitals (`8264 1112008`). The
            // number is the tokens the value starts with: what follows on
            // the line (a QR code or photo read as text) is no part of it,
            // and a first token with another symbol (`]` read for `J`, a
            // Cyrillic letter) was misread somewhere unknown.
            let number: String = text
                .split_whitespace()
                .take_while(|token| {
                    token
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
                })
                .flat_map(|token| token.chars().filter(char::is_ascii_alphanumeric))
                .collect();
            // O read for 0 among digits is fixed.
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
            // OCR reads `МАР` as `MAP` and `ОКТ` as `OKT`: letters both
            // scripts share are taken in either.
            let (latin, cyrillic) = (in_script(&head, false), in_script(&head, true));
            MONTHS
                .iter()
                .position(|(en, ru)| {
                    latin == *en || cyrillic == *ru || (cyrillic == "МАЯ" && *ru == "МАЙ")
                })
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

/// A name printed `КИРИЛЛИЦА / LATIN` or `LATIN / КИРИЛЛИЦА`: the Latin
/// part, else the Cyrillic one in ICAO transliteration. Confident when it is
/// letters only and, if both parts are there, they agree under
/// transliteration. OCR may read a Cyrillic name as Latin letters (`АСАНОВА`
/// as `ACAHOBA`, `ШУХРАТ` as `LUYXPAT`): a part spelt only in letters both
/// scripts share is passed over, such a name alone is not confident, and
/// neither are two Latin spellings that disagree.
fn read_name(text: &str) -> (Option<String>, bool) {
    let parts: Vec<&str> = text
        .split('/')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let cyrillic = parts.iter().find(|p| is_cyrillic(p));
    // Cyrillic read in Latin letters (`BOPOBbEB`) looks like a second Latin
    // spelling; one in letters both scripts share is passed over.
    let latins: Vec<String> = parts
        .iter()
        .filter(|p| !is_cyrillic(p))
        .map(|p| normalize_latin(p))
        .collect();
    let unshared: Vec<&String> = latins.iter().filter(|p| !both_scripts(p)).collect();
    let latin = match unshared.as_slice() {
        [one] => Some((*one).clone()),
        _ => latins.last().cloned(),
    };
    // Two Latin spellings that disagree: which one is the name is unknown.
    let ambiguous = unshared
        .windows(2)
        .any(|pair| skeleton(pair[0]) != skeleton(pair[1]));
    let letters_only =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphabetic() || c == ' ' || c == '-');
    match (cyrillic, latin) {
        (Some(cyr), Some(lat)) => {
            let agree = latin_candidates(cyr)
                .iter()
                .any(|c| skeleton(c) == skeleton(&lat));
            let ok = agree && !ambiguous && letters_only(&lat);
            (Some(lat), ok)
        }
        (None, Some(lat)) => {
            let ok = letters_only(&lat) && !ambiguous && (parts.len() > 1 || !both_scripts(&lat));
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

/// Capitals that look the same in Latin and Cyrillic.
const SHARED_CAPITALS: [(char, char); 12] = [
    ('A', 'А'),
    ('B', 'В'),
    ('C', 'С'),
    ('E', 'Е'),
    ('H', 'Н'),
    ('K', 'К'),
    ('M', 'М'),
    ('O', 'О'),
    ('P', 'Р'),
    ('T', 'Т'),
    ('X', 'Х'),
    ('Y', 'У'),
];

/// `text` with each shared capital in one script: Cyrillic or Latin.
fn in_script(text: &str, cyrillic: bool) -> String {
    text.chars()
        .map(|c| {
            SHARED_CAPITALS
                .iter()
                .find(|(l, k)| c == *l || c == *k)
                .map_or(c, |&(l, k)| if cyrillic { k } else { l })
        })
        .collect()
}

/// Whether every letter of `name` looks the same in Latin and Cyrillic capitals.
fn both_scripts(name: &str) -> bool {
    name.chars()
        .filter(|c| c.is_alphabetic())
        .all(|c| SHARED_CAPITALS.iter().any(|(latin, _)| *latin == c))
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
    fn a_cyrillic_part_misread_as_latin_makes_the_name_unsure() {
        assert_eq!(
            read_name("VOROBEV / BOPOBbEB"),
            (Some("VOROBEV".into()), true)
        );
        assert!(!read_name("SHUKHRAT / LUYXPAT").1);
        assert!(!read_name("SEITKALIEVA / CEATKAJINEBA").1);
        assert_eq!(
            read_name("SEITKALIEVA / СЕЙТКАЛИЕВА"),
            (Some("SEITKALIEVA".into()), true)
        );
    }

    fn passport_zone(surname: &str, number: &str, birth: &str) -> String {
        format!(
            "PASSPORT / ПАСПОРТ\n\
             Фамилия / Surname\n{surname}\n\
             Имя / Given names\nVAN MINH ae\n\
             Дата рождения / Date of birth\n{birth}\n\
             Homep / No.\n{number}\n"
        )
    }

    fn mrz_fields() -> DocumentFields {
        DocumentFields {
            surname: Some("TRAN".into()),
            given_names: Some("VAN MINH".into()),
            document_number: Some("LU7938895".into()),
            birth_date: Some("1964-02-14".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_visual_zone_that_agrees_with_the_mrz_up_to_ocr_is_no_mismatch() {
        for zone in [
            passport_zone("TRAN / ЧАН", "LU7938895", "14.02.1964"),
            // O for 0, a stray mark, a name one letter off, an unsure number.
            passport_zone("TRAM", "LU793889S", "14 FEB 1964"),
            passport_zone("TRAN", "]U7938895", "14.02.1964"),
            passport_zone("TRAN", "U7938895", "14.02.1964"),
            // Latin read as Cyrillic letters; the series read as digits.
            passport_zone("ТВАМ", "027938895", "14.02.1964"),
        ] {
            let printed = read_fields(&zone);
            assert_eq!(
                disagreements(&printed, &mrz_fields(), false),
                vec![],
                "{zone}"
            );
        }
    }

    #[test]
    fn a_visual_zone_that_names_someone_else_is_a_mismatch() {
        let zone = passport_zone("NGUYEN", "LU7938876", "15.02.1964");
        let printed = read_fields(&zone);
        assert_eq!(
            disagreements(&printed, &mrz_fields(), false),
            vec![Field::Surname, Field::BirthDate, Field::DocumentNumber]
        );
    }

    #[test]
    fn a_russian_month_read_in_latin_letters_is_still_its_month() {
        assert_eq!(printed_date("07 OKT 1983"), Date::new(1983, 10, 7));
        assert_eq!(printed_date("06 MAP 2029"), Date::new(2029, 3, 6));
        assert_eq!(printed_date("06 MAR 2029"), Date::new(2029, 3, 6));
        assert_eq!(printed_date("01 CEH 2001"), Date::new(2001, 9, 1));
        assert_eq!(printed_date("01 МАY 2001"), Date::new(2001, 5, 1));
    }

    #[test]
    fn the_place_of_birth_is_not_taken_for_the_date() {
        let r = read_fields(
            "Место рождения / Place of birth\nOSH\nДата рождения / Date of birth\n07.10.1983\n",
        );
        assert_eq!(r.fields.birth_date.as_deref(), Some("1983-10-07"));
        assert_eq!(
            r.printed,
            vec![(Field::BirthDate, "07.10.1983".to_string())]
        );
    }

    #[test]
    fn a_stay_document_names_its_passport() {
        let card = "МИГРАЦИОННАЯ КАРТА / MIGRATION CARD\n\
            Номер / Number: 4619 1234567\n\
            Номер паспорта / Passport No.: FA 1234567\n\
            Фамилия / Surname: ТУРСУНОВ / TURSUNOV\n";
        let r = read_fields(card);
        assert_eq!(r.passport_number.as_deref(), Some("FA1234567"));
        assert_eq!(r.fields.document_number.as_deref(), Some("46191234567"));
        let below = "Passport No.\n\nFA1234567 Sr: poe\n";
        assert_eq!(
            read_fields(below).passport_number.as_deref(),
            Some("FA1234567")
        );
        // A passport's title names none.
        let title = "PASSPORT / ПАСПОРТ\nREPUBLIC OF UZBEKISTAN\n";
        assert_eq!(read_fields(title).passport_number, None);
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
