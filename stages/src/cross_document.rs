//! Cross-document stage: the documents of one account must name one person.
//!
//! A new document's holder is compared with each other document of the
//! account: surname and given names (equal, a standard transliteration, or
//! one an MRZ truncation of the other), birth date, nationality and sex. A
//! field that either document leaves out (or gives as unspecified) is not
//! compared. Any disagreement is `cross_document_mismatch` on that field,
//! naming both documents: a person decides whether both are the applicant's.

use crate::cross_match::{compare_field, cyrillic_form};
use crate::messages::{cross_document, named_passport_differs};
use crate::viz::same_number;
use intake_models::{DocumentFields, DocumentKind, Field, Finding, JobId, MatchResult};

/// The fields that identify the holder across documents.
pub const HOLDER_FIELDS: [Field; 5] = [
    Field::Surname,
    Field::GivenNames,
    Field::BirthDate,
    Field::Nationality,
    Field::Sex,
];

/// One document's holder as it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub job: JobId,
    pub kind: DocumentKind,
    pub fields: DocumentFields,
    /// The MRZ name field was full, so its names may be cut short.
    pub names_truncated: bool,
    /// The passport number a stay document names for its holder.
    pub passport_number: Option<String>,
}

/// The findings for `new` against each of the account's `others`.
pub fn check<'a>(new: &Holder, others: impl IntoIterator<Item = &'a Holder>) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    for other in others {
        for field in disagreements(new, other) {
            if !findings.iter().any(|f| f.field == Some(field)) {
                findings.push(cross_document(field, new.kind, other.kind, &other.job));
            }
        }
        let flagged = findings
            .iter()
            .any(|f| f.field == Some(Field::DocumentNumber));
        if !flagged && names_another_passport(new, other) {
            findings.push(named_passport_differs(new.kind, &other.job));
        }
        if !flagged && names_another_passport(other, new) {
            findings.push(cross_document(
                Field::DocumentNumber,
                new.kind,
                other.kind,
                &other.job,
            ));
        }
    }
    findings
}

/// Whether stay document `stay` names a passport number that is not
/// `passport`'s (read alike up to OCR's errors: [`same_number`]).
fn names_another_passport(stay: &Holder, passport: &Holder) -> bool {
    let named = stay.passport_number.as_deref();
    let number = shown(passport, Field::DocumentNumber);
    match (named, number) {
        (Some(named), Some(number)) if passport.kind == DocumentKind::Passport => {
            !same_number(named, number)
        }
        _ => false,
    }
}

/// The holder fields on which two documents name different people.
pub fn disagreements(a: &Holder, b: &Holder) -> Vec<Field> {
    HOLDER_FIELDS
        .into_iter()
        .filter(|&field| match (shown(a, field), shown(b, field)) {
            (Some(x), Some(y)) => !agree(field, (x, a.names_truncated), (y, b.names_truncated)),
            _ => false,
        })
        .collect()
}

/// A field's value, unless the document leaves it out or unspecified.
fn shown(holder: &Holder, field: Field) -> Option<&str> {
    holder
        .fields
        .get(field)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .filter(|v| field != Field::Sex || !matches!(*v, "X" | "<"))
}

fn agree(field: Field, (a, a_cut): (&str, bool), (b, b_cut): (&str, bool)) -> bool {
    if cyrillic_form(a) == cyrillic_form(b) {
        return true;
    }
    // Either spelling may be the one to transliterate or to cut short.
    [(a, b, b_cut), (b, a, a_cut)]
        .into_iter()
        .any(|(x, y, cut)| compare_field(field, x, y, cut).0 != MatchResult::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use intake_models::ReasonCode;

    fn holder(kind: DocumentKind, fields: [&str; 5]) -> Holder {
        let [surname, given, birth, nationality, sex] = fields.map(|v| Some(v.to_string()));
        Holder {
            job: JobId(format!("job-{}", kind.as_str())),
            kind,
            fields: DocumentFields {
                surname,
                given_names: given,
                birth_date: birth,
                nationality,
                sex,
                ..DocumentFields::default()
            },
            names_truncated: false,
            passport_number: None,
        }
    }

    const PASSPORT: [&str; 5] = ["KHODZHAEV", "FIRDAVS", "1990-01-31", "UZB", "M"];

    #[test]
    fn a_stay_document_must_name_the_accounts_passport() {
        let mut passport = holder(DocumentKind::Passport, PASSPORT);
        passport.fields.document_number = Some("FA1234567".into());
        let mut card = holder(DocumentKind::MigrationCard, PASSPORT);
        // Read alike up to OCR: the series lost.
        card.passport_number = Some("1234567".into());
        assert!(check(&card, [&passport]).is_empty());
        card.passport_number = Some("FA7654321".into());
        for findings in [check(&card, [&passport]), check(&passport, [&card])] {
            assert_eq!(findings.len(), 1, "{findings:?}");
            assert_eq!(findings[0].code, ReasonCode::CrossDocumentMismatch);
            assert_eq!(findings[0].field, Some(Field::DocumentNumber));
        }
        // A document naming no passport, or a national passport, is not held to it.
        card.passport_number = None;
        assert!(check(&card, [&passport]).is_empty());
    }

    #[test]
    fn one_persons_documents_agree_across_scripts_and_spellings() {
        let passport = holder(DocumentKind::Passport, PASSPORT);
        let visa = holder(
            DocumentKind::Visa,
            ["KHODZHAEV", "FIRDAVS", "1990-01-31", "UZB", "M"],
        );
        let card = holder(
            DocumentKind::MigrationCard,
            ["ХОДЖАЕВ", "ФИРДАВС", "1990-01-31", "Узбекистан", "М"],
        );
        assert!(check(&visa, [&passport]).is_empty());
        assert!(check(&card, [&passport, &visa]).is_empty());
    }

    #[test]
    fn a_name_cut_by_the_mrz_is_the_same_name() {
        let mut passport = holder(
            DocumentKind::Passport,
            ["DEJTHAMRONG", "KRASUANG", "1990-01-31", "THA", "M"],
        );
        let mut visa = holder(
            DocumentKind::Visa,
            ["DEJTHAMRON", "K", "1990-01-31", "THA", "M"],
        );
        assert_eq!(
            disagreements(&passport, &visa),
            vec![Field::Surname, Field::GivenNames],
            "a cut name counts only where the MRZ was full"
        );
        visa.names_truncated = true;
        assert!(disagreements(&passport, &visa).is_empty());
        assert!(disagreements(&visa, &passport).is_empty());
        passport.fields.surname = Some("DEJTHAMRONGX".into());
        visa.fields.surname = Some("DEJTHAMRIN".into());
        assert_eq!(disagreements(&passport, &visa), vec![Field::Surname]);
    }

    #[test]
    fn another_persons_document_names_every_field_that_differs_and_both_documents() {
        let passport = holder(DocumentKind::Passport, PASSPORT);
        let visa = holder(
            DocumentKind::Visa,
            ["POLISHCHUK", "OKSANA", "1987-06-02", "UKR", "F"],
        );
        let findings = check(&visa, [&passport]);
        let fields: Vec<_> = findings.iter().filter_map(|f| f.field).collect();
        assert_eq!(fields, HOLDER_FIELDS.to_vec());
        let first = &findings[0];
        assert_eq!(first.code, intake_models::ReasonCode::CrossDocumentMismatch);
        assert!(first.message.contains("visa") && first.message.contains("passport"));
        assert!(first.message.contains("job-passport"));
        assert!(first.message_ru.contains("виза") && first.message_ru.contains("паспорт"));
    }

    #[test]
    fn a_field_one_document_leaves_out_is_not_compared() {
        let passport = holder(DocumentKind::Passport, PASSPORT);
        let mut card = holder(DocumentKind::MigrationCard, PASSPORT);
        card.fields.birth_date = None;
        card.fields.sex = Some("X".into());
        card.fields.nationality = Some(" ".into());
        assert!(check(&card, [&passport]).is_empty());
        card.fields.birth_date = Some("1990-01-30".into());
        assert_eq!(disagreements(&card, &passport), vec![Field::BirthDate]);
    }
}
