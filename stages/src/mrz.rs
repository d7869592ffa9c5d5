//! Parse stage: the ICAO 9303 MRZ, every check digit, repairs only with proof.
//!
//! A thin adapter over the `mrz` crate (0.9), kept after evaluating it
//! against our tests rather than writing a parser of our own: it parses all
//! five layouts (TD1, TD2, TD3, MRV-A, MRV-B), reports each check digit as
//! verified, refuted or absent, reassembles TD1/TD2 document numbers that
//! overflow into the optional data (Part 5 note j), and repairs OCR
//! confusions (O/0, I/1, B/8, S/5, Z/2, G/6, …) by field type, accepting a
//! repair only when a check digit agrees with it. It never panics on
//! arbitrary input (property-tested upstream and here).
//!
//! What the adapter adds: the layout from the grid's shape, filler cleanup
//! in the name field (which no check digit covers), correction counting,
//! dates with centuries relative to the submission date, and our field names.

use crate::dates::{Date, MrzDateRole};
use intake_models::{DocumentFields, DocumentKind, Field, MrzFormat, MrzReading};
use thiserror::Error;

/// A parsed MRZ.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedMrz {
    pub reading: MrzReading,
    pub fields: DocumentFields,
    /// Fields whose check digit still fails after repair.
    pub failed_checks: Vec<Field>,
    /// `None` for MRV-A/MRV-B, which have no composite check digit.
    pub composite_valid: Option<bool>,
    /// The name field is full (no trailing filler): the names may be cut short.
    pub names_truncated: bool,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MrzError {
    #[error("{count} lines of {lengths:?} characters are no ICAO 9303 layout")]
    Layout { count: usize, lengths: Vec<usize> },
    #[error("the lines do not read as an MRZ: {0}")]
    Unreadable(String),
}

/// The layout of `lines`, from their count and length (and `V` for visas).
fn layout(lines: &[String]) -> Result<MrzFormat, MrzError> {
    let lengths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
    let visa = lines.first().is_some_and(|l| l.starts_with('V'));
    match (lengths.as_slice(), visa) {
        ([30, 30, 30], _) => Ok(MrzFormat::TD1),
        ([36, 36], false) => Ok(MrzFormat::TD2),
        ([36, 36], true) => Ok(MrzFormat::MrvB),
        ([44, 44], false) => Ok(MrzFormat::TD3),
        ([44, 44], true) => Ok(MrzFormat::MrvA),
        _ => Err(MrzError::Layout {
            count: lines.len(),
            lengths,
        }),
    }
}

/// Names use at most `<<` (between surname and given names), so everything
/// after the first run of three fillers is padding. Names hold no digits, so
/// a digit among the letters is its look-alike letter (`ZHA0` is `ZHAO`).
/// Returns the cleaned field and how many characters changed; no letter is
/// ever made up where the scan shows none.
fn clean_name_field(field: &str) -> (String, u32) {
    let (names, padding) = field.split_at(field.find("<<<").unwrap_or(field.len()));
    let mut changed = padding.chars().filter(|c| *c != '<').count() as u32;
    let names: String = names
        .chars()
        .map(
            |c| match (c, look_alikes(c).iter().find(|a| a.is_ascii_uppercase())) {
                (digit, Some(letter)) if digit.is_ascii_digit() => {
                    changed += 1;
                    *letter
                }
                _ => c,
            },
        )
        .collect();
    (format!("{names}{}", "<".repeat(padding.len())), changed)
}

/// Where the name field is: (line, first column).
fn name_field(format: MrzFormat) -> (usize, usize) {
    match format {
        MrzFormat::TD1 => (2, 0),
        _ => (0, 5),
    }
}

/// Whether the MRZ's name field is full to its last character: the names in
/// it may then be cut short (ICAO 9303 Part 4 §4.2.3).
pub fn names_truncated(reading: &MrzReading) -> bool {
    name_field_full(reading.format, &reading.lines)
}

fn name_field_full(format: MrzFormat, lines: &[String]) -> bool {
    let (name_line, _) = name_field(format);
    lines.get(name_line).is_some_and(|l| !l.ends_with('<'))
}

/// Parses OCR'd MRZ lines. `today` sets the century of two-digit years.
///
/// Beyond the crate's repairs, two that only proof may make: a document
/// number mixes letters and digits, so only its check digit (and the
/// composite) can tell `0` from `O`; and a country code has no check digit,
/// so a confusion is undone only when exactly one reading is a known code.
pub fn parse(lines: &[String], today: Date) -> Result<ParsedMrz, MrzError> {
    let mut parsed = parse_lines(lines, today)?;
    if parsed.failed_checks.contains(&Field::DocumentNumber) {
        if let Some(repaired) = repair_document_number(&parsed, today) {
            parsed = repaired;
        }
    }
    Ok(repair_country_codes(parsed, today))
}

/// OCR-B look-alikes across letters and digits.
fn look_alikes(c: char) -> &'static [char] {
    match c {
        '0' => &['O', 'D', 'Q'],
        'O' | 'D' | 'Q' => &['0'],
        '1' => &['I'],
        'I' => &['1', 'J'],
        'J' => &['I', 'U'],
        'U' => &['J', 'V'],
        'V' => &['U'],
        '8' => &['B'],
        'B' => &['8'],
        '5' => &['S'],
        'S' => &['5'],
        '2' => &['Z'],
        'Z' => &['2'],
        '6' => &['G'],
        'G' => &['6'],
        _ => &[],
    }
}

/// The document number's characters: (line, columns), with the TD1 overflow
/// into the optional data (Part 5 note j) when the check digit is `<`.
fn document_number_span(lines: &[String], format: MrzFormat) -> (usize, std::ops::Range<usize>) {
    match format {
        MrzFormat::TD1 => {
            let line = lines.first().map(String::as_bytes).unwrap_or_default();
            if line.get(14) == Some(&b'<') {
                let end = (15..30).find(|&i| line.get(i) == Some(&b'<')).unwrap_or(30);
                (0, 5..end)
            } else {
                (0, 5..14)
            }
        }
        _ => (1, 0..9),
    }
}

/// The cells of a check-digit-covered `field` and of its check digit, as
/// (line, column), for a second reading when the check digit fails; `None`
/// for fields no check digit covers. `digits` says whether only digits (and
/// `<`) may stand there.
pub fn checked_cells(
    lines: &[String],
    format: MrzFormat,
    field: Field,
) -> Option<(Vec<(usize, usize)>, bool)> {
    let td1 = format == MrzFormat::TD1;
    let (line, columns, digits) = match field {
        Field::DocumentNumber => {
            let (line, span) = document_number_span(lines, format);
            // The check digit follows the number, or ends the TD1 overflow.
            let end = if td1 && span.end > 15 {
                span.end
            } else {
                span.end + 1
            };
            (line, span.start..end, false)
        }
        Field::BirthDate if td1 => (1, 0..7, true),
        Field::ExpiryDate if td1 => (1, 8..15, true),
        Field::BirthDate => (1, 13..20, true),
        Field::ExpiryDate => (1, 21..28, true),
        Field::PersonalNumber if format == MrzFormat::TD3 => (1, 28..43, false),
        _ => return None,
    };
    Some((columns.map(|c| (line, c)).collect(), digits))
}

/// The field at (line, column) when no check digit covers it (names,
/// nationality, issuing state, sex, document code, and a `G`/`6` in the
/// document number): a misread there cannot be caught by the parser.
pub fn unchecked_field(
    lines: &[String],
    format: MrzFormat,
    line: usize,
    column: usize,
) -> Option<Field> {
    let (name_line, name_start) = name_field(format);
    if line == name_line && column >= name_start {
        let field = lines.get(line)?.get(name_start..)?;
        let split = field.find("<<").map_or(usize::MAX, |p| p + name_start);
        return Some(if column < split {
            Field::Surname
        } else {
            Field::GivenNames
        });
    }
    let td1 = format == MrzFormat::TD1;
    // `G` and `6` have check-digit values ten apart: no check digit sees the swap.
    let (number_line, number_span) = document_number_span(lines, format);
    if line == number_line && number_span.contains(&column) {
        let c = lines.get(line)?.chars().nth(column)?;
        return matches!(c, 'G' | '6').then_some(Field::DocumentNumber);
    }
    match (line, column) {
        (0, 0..=1) => Some(Field::DocumentType),
        (0, 2..=4) => Some(Field::IssuingState),
        (1, 15..=17) if td1 => Some(Field::Nationality),
        (1, 7) if td1 => Some(Field::Sex),
        (1, 10..=12) if !td1 => Some(Field::Nationality),
        (1, 20) if !td1 => Some(Field::Sex),
        _ => None,
    }
}

/// Swaps of one or two look-alikes in the document number that make every
/// check digit agree. Of the candidates (the crate may repair further), the
/// one closest to what was read is taken, and only if no other is as close
/// (or, as close, as usual in shape: letters before digits).
fn repair_document_number(parsed: &ParsedMrz, today: Date) -> Option<ParsedMrz> {
    let lines = &parsed.reading.lines;
    let (line, span) = document_number_span(lines, parsed.reading.format);
    let chars: Vec<char> = lines.get(line)?.chars().collect();
    let swaps: Vec<(usize, char)> = span
        .filter(|i| chars.get(*i) != Some(&'<'))
        .flat_map(|i| {
            chars
                .get(i)
                .map(|c| look_alikes(*c).iter().map(move |a| (i, *a)))
        })
        .flatten()
        .take(24)
        .collect();
    let mut candidates: Vec<(u32, ParsedMrz)> = Vec::new();
    let mut consider = |picked: &[(usize, char)]| {
        let mut fixed = chars.clone();
        for &(i, c) in picked {
            fixed[i] = c;
        }
        let mut candidate = lines.clone();
        candidate[line] = fixed.into_iter().collect();
        let Some(repaired) = parse_lines(&candidate, today).ok() else {
            return;
        };
        if !repaired.reading.check_digits_valid
            || candidates
                .iter()
                .any(|(_, c)| c.reading.lines == repaired.reading.lines)
        {
            return;
        }
        let distance = lines
            .iter()
            .zip(&repaired.reading.lines)
            .map(|(a, b)| a.chars().zip(b.chars()).filter(|(x, y)| x != y).count() as u32)
            .sum();
        candidates.push((distance, repaired));
    };
    for (n, a) in swaps.iter().enumerate() {
        consider(&[*a]);
        for b in swaps.iter().skip(n + 1).filter(|b| b.0 != a.0) {
            consider(&[*a, *b]);
        }
    }
    // Ties go to the usual shape of document numbers: letters, then digits.
    let rank = |(distance, c): &(u32, ParsedMrz)| {
        let number = c.fields.document_number.as_deref().unwrap_or("");
        let first_digit = number
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(number.len());
        let late_letters = number[first_digit..]
            .chars()
            .filter(char::is_ascii_alphabetic)
            .count() as u32;
        (*distance, late_letters)
    };
    let closest = candidates.iter().map(rank).min()?;
    let mut best = candidates.into_iter().filter(|c| rank(c) == closest);
    let (distance, mut repaired) = best.next()?;
    if best.next().is_some() {
        return None;
    }
    repaired.reading.corrections += parsed.reading.corrections + distance;
    Some(repaired)
}

/// Issuing state and nationality: an unknown code with exactly one known
/// look-alike (`TIK` → `TJK`) is read as that code.
fn repair_country_codes(mut parsed: ParsedMrz, today: Date) -> ParsedMrz {
    let spans = match parsed.reading.format {
        MrzFormat::TD1 => [(0, 2..5), (1, 15..18)],
        _ => [(0, 2..5), (1, 10..13)],
    };
    for (line, span) in spans {
        let Some(text) = parsed.reading.lines.get(line) else {
            continue;
        };
        let Some(code) = text.get(span.clone()) else {
            continue;
        };
        let known = |c: &str| mrz::country_name(c.trim_end_matches('<')).is_some();
        if known(code) {
            continue;
        }
        let mut found = Vec::new();
        for (i, c) in code.char_indices() {
            for alike in look_alikes(c).iter().filter(|a| a.is_ascii_uppercase()) {
                let mut candidate = code.to_string();
                candidate.replace_range(i..i + 1, &alike.to_string());
                if known(&candidate) {
                    found.push(candidate);
                }
            }
        }
        if let [only] = found.as_slice() {
            let mut lines = parsed.reading.lines.clone();
            lines[line].replace_range(span, only);
            if let Ok(mut repaired) = parse_lines(&lines, today) {
                repaired.reading.corrections += parsed.reading.corrections + 1;
                parsed = repaired;
            }
        }
    }
    parsed
}

fn parse_lines(lines: &[String], today: Date) -> Result<ParsedMrz, MrzError> {
    let lines: Vec<String> = lines
        .iter()
        .map(|l| l.trim().to_ascii_uppercase().replace(' ', ""))
        .collect();
    let format = layout(&lines)?;
    let (name_line, name_col) = name_field(format);
    let mut input = lines.clone();
    let mut corrections = 0;
    if let Some(line) = input.get_mut(name_line) {
        if let (Some(head), Some(field)) = (line.get(..name_col), line.get(name_col..)) {
            let (cleaned, changed) = clean_name_field(field);
            corrections += changed;
            *line = format!("{head}{cleaned}");
        }
    }

    let mut options = mrz::ParseOptions::default();
    options.pivot_yy = (today.year().rem_euclid(100)) as u32;
    let data = mrz::find_and_parse_with(&input.join("\n"), &options)
        .map_err(|e| MrzError::Unreadable(e.to_string()))?;
    let repaired: Vec<String> = data.mrz_lines.lines().map(str::to_string).collect();
    if layout(&repaired)? != format {
        return Err(MrzError::Unreadable(
            "a different layout than the grid".into(),
        ));
    }
    corrections += input
        .iter()
        .zip(&repaired)
        .map(|(a, b)| a.chars().zip(b.chars()).filter(|(x, y)| x != y).count() as u32)
        .sum::<u32>();

    let checks = &data.checks;
    let failed_checks: Vec<Field> = [
        (checks.document_number, Field::DocumentNumber),
        (checks.date_of_birth, Field::BirthDate),
        (checks.date_of_expiry, Field::ExpiryDate),
        (checks.personal_number, Field::PersonalNumber),
    ]
    .into_iter()
    .filter(|(check, _)| *check == Some(false))
    .map(|(_, field)| field)
    .collect();

    let date = |raw: Option<&str>, role| raw.and_then(|r| Date::from_mrz(r, role, today));
    let (birth, expiry) = dates_of(&repaired, format);
    let birth = date(birth, MrzDateRole::Birth).map(Date::to_iso);
    let expiry = date(expiry, MrzDateRole::Expiry).map(Date::to_iso);
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let sex = match data.sex {
        mrz::Sex::Male => "M",
        mrz::Sex::Female => "F",
        _ => "X",
    };
    let fields = DocumentFields {
        document_type: non_empty(&data.document_type),
        issuing_state: non_empty(&data.issuing_country),
        surname: non_empty(&data.surname),
        given_names: non_empty(&data.given_names),
        document_number: non_empty(data.full_document_number()),
        nationality: non_empty(&data.nationality),
        birth_date: birth,
        sex: Some(sex.to_string()),
        expiry_date: expiry,
        personal_number: match format {
            MrzFormat::TD3 => data.personal_number().map(str::to_string),
            _ => None,
        },
    };
    let names_truncated = name_field_full(format, &repaired);
    Ok(ParsedMrz {
        reading: MrzReading {
            format,
            lines: repaired,
            check_digits_valid: data.checksum_consistent(),
            corrections,
        },
        fields,
        failed_checks,
        composite_valid: checks.composite,
        names_truncated,
    })
}

/// The raw `YYMMDD` birth and expiry dates of a layout.
fn dates_of(lines: &[String], format: MrzFormat) -> (Option<&str>, Option<&str>) {
    let (line, birth, expiry) = match format {
        MrzFormat::TD1 => (1, 0..6, 8..14),
        _ => (1, 13..19, 21..27),
    };
    let line = lines.get(line).map(String::as_str);
    (
        line.and_then(|l| l.get(birth)),
        line.and_then(|l| l.get(expiry)),
    )
}

/// The kind of document an MRZ shows: `P…` passports, `V…` visas,
/// `I`/`A`/`C…` identity cards (TD1/TD2).
pub fn document_kind(parsed: &ParsedMrz) -> DocumentKind {
    let code = parsed.fields.document_type.as_deref().unwrap_or("");
    match code.chars().next() {
        Some('P') => DocumentKind::Passport,
        Some('V') => DocumentKind::Visa,
        _ => DocumentKind::IdCard,
    }
}

/// Whether an upload declared as `declared` may carry this MRZ
/// ([`crate::kinds::fits`] with the kind the zone shows).
pub fn kind_compatible(declared: DocumentKind, parsed: &ParsedMrz) -> bool {
    crate::kinds::fits(declared, document_kind(parsed))
}

/// The ICAO 9303 check digit (weights 7, 3, 1; `<` = 0, A–Z = 10–35);
/// `None` for characters outside the MRZ alphabet.
pub fn check_digit(s: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in s.chars().enumerate() {
        sum += check_value(c)? * [7, 3, 1][i % 3];
    }
    Some((sum % 10) as u8)
}

/// A character's value in check digits (ICAO 9303 Part 3 §4.9).
fn check_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
        '<' => Some(0),
        _ => None,
    }
}

/// Whether no check digit can tell `a` from `b`: their values differ by a
/// multiple of ten (`G`/`6`, `0`/`<`/`A`/`K`/`U`, …), and the weights 7, 3
/// and 1 keep that difference invisible modulo 10.
pub fn check_blind(a: char, b: char) -> bool {
    match (check_value(a), check_value(b)) {
        (Some(x), Some(y)) => x.abs_diff(y) % 10 == 0,
        _ => false,
    }
}

/// The fields a doubtful reading leaves open: those that some choice among
/// the `alternatives` (line, column, the character it may be instead), one
/// or two of them at once, would change while every check digit still
/// agrees. A check digit cannot see a single swap whose values differ by a
/// multiple of ten (`G`/`6`), nor two `O`/`0` swaps at weights 7 and 3
/// (`U360002881` and `U36OO02881` share it): such a field is settled by the
/// reading's own margins or by a person, never by the check digit.
pub fn unsettled_fields(
    parsed: &ParsedMrz,
    alternatives: &[(usize, usize, char)],
    today: Date,
) -> Vec<Field> {
    /// Pairs grow as the square: a reading this doubtful goes elsewhere anyway.
    const MOST: usize = 16;
    let mut open: Vec<Field> = Vec::new();
    if !parsed.reading.check_digits_valid || alternatives.is_empty() {
        return open;
    }
    let alternatives = &alternatives[..alternatives.len().min(MOST)];
    let mut try_swaps = |swaps: &[(usize, usize, char)]| {
        let mut lines: Vec<Vec<char>> = parsed
            .reading
            .lines
            .iter()
            .map(|l| l.chars().collect())
            .collect();
        for &(line, column, c) in swaps {
            match lines.get_mut(line).and_then(|l| l.get_mut(column)) {
                Some(cell) if *cell != c => *cell = c,
                _ => return,
            }
        }
        let lines: Vec<String> = lines.into_iter().map(String::from_iter).collect();
        let Ok(other) = parse_lines(&lines, today) else {
            return;
        };
        if !other.reading.check_digits_valid {
            return;
        }
        for field in Field::ALL {
            if parsed.fields.get(field) != other.fields.get(field) && !open.contains(&field) {
                open.push(field);
            }
        }
    };
    for (i, a) in alternatives.iter().enumerate() {
        try_swaps(&[*a]);
        for b in &alternatives[i + 1..] {
            try_swaps(&[*a, *b]);
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> Date {
        Date::new(2026, 6, 1).unwrap()
    }

    fn lines(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    /// A TD3 second line with correct check digits for `number`.
    fn td3_line2(number: &str, nationality: &str) -> String {
        let cd = |s: &str| char::from(b'0' + check_digit(s).unwrap());
        let body = format!(
            "{number}{}{nationality}740812{}F120415{}{}<",
            cd(number),
            cd("740812"),
            cd("120415"),
            "<".repeat(14)
        );
        let composite = format!("{}{}{}", &body[0..10], &body[13..20], &body[21..43]);
        format!("{body}{}", cd(&composite))
    }

    #[test]
    fn zero_and_letter_o_in_a_document_number_are_told_apart_by_its_check_digit() {
        let truth = td3_line2("AO1234567", "UTO");
        let read = truth.replacen("AO", "A0", 1);
        let line1 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<".to_string();
        let p = parse(&[line1, read], today()).unwrap();
        assert_eq!(field(&p, Field::DocumentNumber), "AO1234567");
        assert!(p.reading.check_digits_valid);
        assert!(p.reading.corrections >= 1);
    }

    #[test]
    fn a_tie_goes_to_letters_before_digits() {
        // `C1…` repairs to `CI…` or to `…D…`: both pass every check digit.
        let line1 = "P<MDALUPU<<MIHAI<<<<<<<<<<<<<<<<<<<<<<<<<<<<".to_string();
        let read = "C169970997MDA8603094M26082715819650208975234".to_string();
        let p = parse(&[line1, read], today()).unwrap();
        assert_eq!(field(&p, Field::DocumentNumber), "CI6997099");
    }

    #[test]
    fn an_unknown_country_code_is_repaired_only_to_the_one_known_look_alike() {
        let line1 = "P<TJKERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<".to_string();
        let read = td3_line2("L898902C3", "TIK");
        let p = parse(&[line1.clone(), read], today()).unwrap();
        assert_eq!(field(&p, Field::Nationality), "TJK");
        // A known code is never changed, even if a look-alike is known too.
        let p = parse(&[line1, td3_line2("L898902C3", "UTO")], today()).unwrap();
        assert_eq!(field(&p, Field::Nationality), "UTO");
    }

    #[test]
    fn two_swaps_no_check_digit_sees_leave_the_field_open() {
        // `U360002881` and `U36OO02881` share every check digit (O = 24 at
        // weights 7 and 3: 240 ≡ 0 mod 10).
        let line1 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<".to_string();
        assert_eq!(check_digit("U36000288"), check_digit("U36OO0288"));
        let read = parse(&[line1.clone(), td3_line2("U36OO0288", "UTO")], today()).unwrap();
        assert!(read.reading.check_digits_valid);
        let both = [(1, 3, '0'), (1, 4, '0')];
        assert_eq!(
            unsettled_fields(&read, &both, today()),
            [Field::DocumentNumber]
        );
        // One of them alone would break the check digit: it settles that.
        assert!(unsettled_fields(&read, &both[..1], today()).is_empty());
        // A `G`/`6` close call is open on its own.
        let read = parse(&[line1, td3_line2("L898902G3", "UTO")], today()).unwrap();
        assert_eq!(
            unsettled_fields(&read, &[(1, 7, '6')], today()),
            [Field::DocumentNumber]
        );
        assert!(unsettled_fields(&read, &[], today()).is_empty());
    }

    fn field(p: &ParsedMrz, f: Field) -> &str {
        p.fields.get(f).unwrap_or("")
    }

    #[test]
    fn icao_specimens_parse_to_their_published_fields() {
        // Doc 9303 Part 4 (TD3), Part 5 (TD1), Part 6 (TD2), Part 7 (MRV-A/B) specimens.
        let td3 = parse(
            &lines(&[
                "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
            ]),
            today(),
        )
        .unwrap();
        assert_eq!(td3.reading.format, MrzFormat::TD3);
        assert!(td3.reading.check_digits_valid);
        assert_eq!(td3.reading.corrections, 0);
        assert_eq!(field(&td3, Field::Surname), "ERIKSSON");
        assert_eq!(field(&td3, Field::GivenNames), "ANNA MARIA");
        assert_eq!(field(&td3, Field::DocumentNumber), "L898902C3");
        assert_eq!(field(&td3, Field::BirthDate), "1974-08-12");
        assert_eq!(field(&td3, Field::ExpiryDate), "2012-04-15");
        assert_eq!(field(&td3, Field::Sex), "F");
        assert_eq!(field(&td3, Field::PersonalNumber), "ZE184226B");
        assert_eq!(td3.composite_valid, Some(true));

        let td1 = parse(
            &lines(&[
                "I<UTOD231458907<<<<<<<<<<<<<<<",
                "7408122F1204159UTO<<<<<<<<<<<6",
                "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
            ]),
            today(),
        )
        .unwrap();
        assert_eq!(td1.reading.format, MrzFormat::TD1);
        assert!(td1.reading.check_digits_valid);
        assert_eq!(field(&td1, Field::DocumentNumber), "D23145890");
        assert_eq!(field(&td1, Field::Nationality), "UTO");
        assert_eq!(document_kind(&td1), DocumentKind::IdCard);

        let td2 = parse(
            &lines(&[
                "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
                "D231458907UTO7408122F1204159<<<<<<<6",
            ]),
            today(),
        )
        .unwrap();
        assert_eq!(td2.reading.format, MrzFormat::TD2);
        assert!(td2.reading.check_digits_valid);
        assert_eq!(field(&td2, Field::BirthDate), "1974-08-12");

        let mrva = parse(
            &lines(&[
                "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                "L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
            ]),
            today(),
        )
        .unwrap();
        assert_eq!(mrva.reading.format, MrzFormat::MrvA);
        assert!(mrva.reading.check_digits_valid);
        assert_eq!(mrva.composite_valid, None);
        assert_eq!(field(&mrva, Field::BirthDate), "1940-09-07");
        assert_eq!(field(&mrva, Field::ExpiryDate), "1996-12-10");
        assert_eq!(document_kind(&mrva), DocumentKind::Visa);

        let mrvb = parse(
            &lines(&[
                "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
                "L8988901C4XXX4009078F9612109<<<<<<<<",
            ]),
            today(),
        )
        .unwrap();
        assert_eq!(mrvb.reading.format, MrzFormat::MrvB);
        assert!(mrvb.reading.check_digits_valid);
    }

    #[test]
    fn ocr_confusions_are_repaired_under_check_digit_control() {
        // O for 0 in the birth date, S for 5 in the expiry date.
        let p = parse(
            &lines(&[
                "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                "L898902C36UTO74O8122F12O4159ZE184226B<<<<<10",
            ]),
            today(),
        )
        .unwrap();
        assert!(p.reading.check_digits_valid);
        assert!(p.reading.corrections >= 2);
        assert_eq!(field(&p, Field::BirthDate), "1974-08-12");
    }

    #[test]
    fn digits_in_names_are_their_look_alike_letters() {
        assert_eq!(
            clean_name_field("ZHA0<<QIANG<<<<"),
            ("ZHAO<<QIANG<<<<".into(), 1)
        );
        assert_eq!(clean_name_field("1VANOV<<<<<"), ("IVANOV<<<<<".into(), 1));
    }

    #[test]
    fn garbage_fillers_never_become_names() {
        let p = parse(
            &lines(&[
                "P<UTOERIKSSON<<ANNA<MARIA<<<K<<<<<KK<<<<<X<<",
                "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
            ]),
            today(),
        )
        .unwrap();
        assert_eq!(field(&p, Field::GivenNames), "ANNA MARIA");
        assert_eq!(p.reading.corrections, 4);
        assert!(!p.names_truncated);
    }

    #[test]
    fn a_composite_failure_keeps_the_fields() {
        let p = parse(
            &lines(&[
                "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                "L898902C36UTO7408122F1204159ZE184226B<<<<<15",
            ]),
            today(),
        )
        .unwrap();
        assert!(!p.reading.check_digits_valid);
        assert_eq!(field(&p, Field::Surname), "ERIKSSON");
    }

    #[test]
    fn long_td1_document_numbers_overflow_into_optional_data() {
        // Part 5 note j: 12-character number D23145890734, `<` in the check position.
        let number = "D23145890734";
        let cd = check_digit(number).unwrap();
        let l1 = format!("I<UTO{}<{}{}", &number[..9], &number[9..], cd);
        let l1 = format!("{l1:<<30}");
        let l2_head = "7408122F1204159UTO<<<<<<<<<<<";
        let composite = check_digit(&format!(
            "{}{}{}{}",
            &l1[5..30],
            &l2_head[0..7],
            &l2_head[8..15],
            &l2_head[18..29]
        ))
        .unwrap();
        let l2 = format!("{l2_head}{composite}");
        let p = parse(
            &lines(&[&l1, &l2, "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"]),
            today(),
        )
        .unwrap();
        assert!(p.reading.check_digits_valid, "{:?}", p.reading.lines);
        assert_eq!(field(&p, Field::DocumentNumber), number);
    }

    #[test]
    fn truncated_names_are_flagged() {
        let l1 = "P<UZBABDURAKHMANOVA<<GULNORAKHON<KHURSHIDOVN";
        assert_eq!(l1.len(), 44);
        // Line 2 is the specimen's (its composite covers line 2 only).
        let p = parse(
            &lines(&[l1, "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]),
            today(),
        )
        .unwrap();
        assert!(p.names_truncated);
        assert_eq!(field(&p, Field::Surname), "ABDURAKHMANOVA");
        assert_eq!(field(&p, Field::GivenNames), "GULNORAKHON KHURSHIDOVN");
    }

    #[test]
    fn specimen_check_digits() {
        assert_eq!(check_digit("L898902C3"), Some(6));
        assert_eq!(check_digit("740812"), Some(2));
        assert_eq!(check_digit("120415"), Some(9));
        assert_eq!(check_digit("ab"), None);
    }

    proptest! {
        #[test]
        fn check_digit_misses_exactly_the_check_blind_swaps(
            field in "[A-Z0-9<]{9}", at in 0usize..9, other in "[A-Z0-9<]"
        ) {
            let mut changed: Vec<char> = field.chars().collect();
            let was = changed[at];
            changed[at] = other.chars().next().unwrap();
            let changed: String = changed.into_iter().collect();
            let same = check_digit(&field) == check_digit(&changed);
            prop_assert_eq!(same, check_blind(was, changed.chars().nth(at).unwrap()));
        }

        #[test]
        fn check_digit_detects_any_single_digit_change(
            digits in proptest::collection::vec(0u8..10, 6..10), at in 0usize..6, delta in 1u8..10,
        ) {
            let s: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            let mut changed = digits.clone();
            changed[at] = (changed[at] + delta) % 10;
            let t: String = changed.iter().map(|d| char::from(b'0' + d)).collect();
            // Weights 7, 3, 1 are coprime to 10: any one-digit change moves the sum.
            prop_assert_ne!(check_digit(&s), check_digit(&t));
        }

        #[test]
        fn a_digit_read_as_its_lookalike_is_repaired(
            birth in (1950u32..2005, 1u32..13, 1u32..29), at in 0usize..6,
        ) {
            let yymmdd = format!("{:02}{:02}{:02}", birth.0 % 100, birth.1, birth.2);
            let cd = check_digit(&yymmdd).unwrap();
            let number = "AB1234567";
            let ncd = check_digit(number).unwrap();
            let expiry = "310502";
            let ecd = check_digit(expiry).unwrap();
            let personal = "<<<<<<<<<<<<<<";
            let body = format!("{number}{ncd}UZB{yymmdd}{cd}M{expiry}{ecd}{personal}<");
            let composite_input = format!("{}{}{}", &body[0..10], &body[13..20], &body[21..43]);
            let line2 = format!("{body}{}", check_digit(&composite_input).unwrap());
            let lookalike = |c: char| match c { '0' => 'O', '1' => 'I', '5' => 'S', '8' => 'B', '2' => 'Z', '6' => 'G', c => c };
            let mut damaged: Vec<char> = line2.chars().collect();
            damaged[13 + at] = lookalike(damaged[13 + at]);
            let damaged: String = damaged.into_iter().collect();
            let l1 = "P<UZBTURSUNOV<<ALISHER<<<<<<<<<<<<<<<<<<<<<<".to_string();
            let p = parse(&[l1, damaged.clone()], today()).unwrap();
            prop_assert!(p.reading.check_digits_valid, "{damaged}");
            prop_assert_eq!(p.reading.lines[1].clone(), line2);
            prop_assert_eq!(p.reading.corrections, u32::from(damaged != p.reading.lines[1]));
        }

        #[test]
        fn filler_noise_never_adds_letters_to_names(noise in proptest::collection::vec(prop_oneof![Just('<'), Just('K'), Just('X'), Just('S')], 20)) {
            let pad: String = noise.into_iter().collect();
            let l1 = format!("P<UZBTURSUNOV<<ALISHER<<<{pad}");
            let l2 = "AA12345674UZB9001314M3105021<<<<<<<<<<<<<<02".to_string();
            if let Ok(p) = parse(&[l1, l2], today()) {
                prop_assert_eq!(p.fields.given_names.as_deref(), Some("ALISHER"));
            }
        }

        #[test]
        fn arbitrary_lines_never_panic(a in "[A-Z0-9<KX ]{0,50}", b in "[A-Z0-9<]{0,50}", c in "\\PC{0,40}") {
            let _ = parse(&[a.clone(), b.clone()], today());
            let _ = parse(&[a, b, c], today());
        }
    }
}
