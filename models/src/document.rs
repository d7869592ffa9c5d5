//! Documents, their fields and the machine-readable zone.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What the applicant says the upload is (SPEC: the kinds `--kind` takes).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A foreign (travel) passport, TD3.
    Passport,
    IdCard,
    Visa,
    /// Вид на жительство (ВНЖ): proves identity and the right to stay.
    ResidencePermit,
    MigrationCard,
    AddressProof,
    /// The passport of the country of citizenship, often without an MRZ.
    NationalPassport,
    /// Временный проездной документ.
    TemporaryTravelDocument,
    /// Удостоверение беженца or свидетельство о предоставлении временного убежища.
    RefugeeCertificate,
    /// Разрешение на временное проживание (РВП).
    TemporaryResidencePermit,
    /// Разрешение на работу.
    WorkPermit,
    /// Патент на работу.
    WorkPatent,
    /// Регистрация по месту пребывания (уведомление о прибытии).
    StayRegistration,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 13] = [
        DocumentKind::Passport,
        DocumentKind::NationalPassport,
        DocumentKind::IdCard,
        DocumentKind::TemporaryTravelDocument,
        DocumentKind::RefugeeCertificate,
        DocumentKind::Visa,
        DocumentKind::MigrationCard,
        DocumentKind::ResidencePermit,
        DocumentKind::TemporaryResidencePermit,
        DocumentKind::WorkPermit,
        DocumentKind::WorkPatent,
        DocumentKind::StayRegistration,
        DocumentKind::AddressProof,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Passport => "passport",
            DocumentKind::NationalPassport => "national_passport",
            DocumentKind::IdCard => "id_card",
            DocumentKind::TemporaryTravelDocument => "temporary_travel_document",
            DocumentKind::RefugeeCertificate => "refugee_certificate",
            DocumentKind::Visa => "visa",
            DocumentKind::MigrationCard => "migration_card",
            DocumentKind::ResidencePermit => "residence_permit",
            DocumentKind::TemporaryResidencePermit => "temporary_residence_permit",
            DocumentKind::WorkPermit => "work_permit",
            DocumentKind::WorkPatent => "work_patent",
            DocumentKind::StayRegistration => "stay_registration",
            DocumentKind::AddressProof => "address_proof",
        }
    }

    /// Every kind as the API spells it, comma-separated (for messages).
    pub fn listed() -> String {
        let names: Vec<&str> = DocumentKind::ALL.iter().map(|k| k.as_str()).collect();
        names.join(", ")
    }

    /// The kind's name for people: English, Russian.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            DocumentKind::Passport => ("foreign passport", "заграничный паспорт"),
            DocumentKind::NationalPassport => ("national passport", "национальный паспорт"),
            DocumentKind::IdCard => ("identity card", "удостоверение личности (ID-карта)"),
            DocumentKind::TemporaryTravelDocument => {
                ("temporary travel document", "временный проездной документ")
            }
            DocumentKind::RefugeeCertificate => (
                "refugee or temporary asylum certificate",
                "удостоверение беженца или свидетельство о предоставлении временного убежища",
            ),
            DocumentKind::Visa => ("visa", "виза"),
            DocumentKind::MigrationCard => ("migration card", "миграционная карта"),
            DocumentKind::ResidencePermit => ("residence permit", "вид на жительство"),
            DocumentKind::TemporaryResidencePermit => (
                "temporary residence permit",
                "разрешение на временное проживание",
            ),
            DocumentKind::WorkPermit => ("work permit", "разрешение на работу"),
            DocumentKind::WorkPatent => ("work patent", "патент на работу"),
            DocumentKind::StayRegistration => (
                "registration at the place of stay",
                "регистрация по месту пребывания",
            ),
            DocumentKind::AddressProof => ("proof of address", "подтверждение адреса"),
        }
    }

    /// Kinds whose every specimen carries an ICAO 9303 machine-readable
    /// zone: without one the upload is not the document. (A national
    /// passport, a temporary travel document or a residence permit may carry
    /// one; which zones each kind accepts is `stages::mrz::kind_compatible`.)
    pub fn has_mrz(self) -> bool {
        matches!(
            self,
            DocumentKind::Passport | DocumentKind::IdCard | DocumentKind::Visa
        )
    }

    /// Documents that prove who the holder is.
    pub fn is_identity_document(self) -> bool {
        matches!(
            self,
            DocumentKind::Passport
                | DocumentKind::NationalPassport
                | DocumentKind::IdCard
                | DocumentKind::TemporaryTravelDocument
                | DocumentKind::RefugeeCertificate
                | DocumentKind::ResidencePermit
        )
    }

    /// Documents that allow the holder to stay (valid on the submission date).
    pub fn is_stay_document(self) -> bool {
        matches!(
            self,
            DocumentKind::Visa
                | DocumentKind::MigrationCard
                | DocumentKind::ResidencePermit
                | DocumentKind::TemporaryResidencePermit
                | DocumentKind::WorkPermit
                | DocumentKind::WorkPatent
                | DocumentKind::StayRegistration
        )
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DocumentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocumentKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown document kind {s:?}; expected one of {}",
                    DocumentKind::listed()
                )
            })
    }
}

/// The ICAO 9303 MRZ layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum MrzFormat {
    TD1,
    TD2,
    TD3,
    #[serde(rename = "MRV-A")]
    MrvA,
    #[serde(rename = "MRV-B")]
    MrvB,
}

impl MrzFormat {
    /// (lines, characters per line)
    pub fn shape(self) -> (usize, usize) {
        match self {
            MrzFormat::TD1 => (3, 30),
            MrzFormat::TD2 | MrzFormat::MrvB => (2, 36),
            MrzFormat::TD3 | MrzFormat::MrvA => (2, 44),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MrzFormat::TD1 => "TD1",
            MrzFormat::TD2 => "TD2",
            MrzFormat::TD3 => "TD3",
            MrzFormat::MrvA => "MRV-A",
            MrzFormat::MrvB => "MRV-B",
        }
    }
}

/// What was read from the MRZ, before field extraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MrzReading {
    pub format: MrzFormat,
    pub lines: Vec<String>,
    pub check_digits_valid: bool,
    /// OCR confusions repaired under check-digit control.
    pub corrections: u32,
}

/// The fields compared with the declared profile, named as in the JSON contract.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    DocumentType,
    IssuingState,
    Surname,
    GivenNames,
    DocumentNumber,
    Nationality,
    BirthDate,
    Sex,
    ExpiryDate,
    PersonalNumber,
    // The form's other fields: declared, not (yet) read from documents.
    SurnameCyrillic,
    GivenNamesCyrillic,
    Patronymic,
    PatronymicCyrillic,
    PlaceOfBirth,
    IssueDate,
    Snils,
    Inn,
}

impl Field {
    /// The document fields (`document.fields` of the JSON contract).
    pub const ALL: [Field; 10] = [
        Field::DocumentType,
        Field::IssuingState,
        Field::Surname,
        Field::GivenNames,
        Field::DocumentNumber,
        Field::Nationality,
        Field::BirthDate,
        Field::Sex,
        Field::ExpiryDate,
        Field::PersonalNumber,
    ];

    /// The form's fields beyond the document's (SPEC: a profile's other fields).
    pub const FORM: [Field; 8] = [
        Field::SurnameCyrillic,
        Field::GivenNamesCyrillic,
        Field::Patronymic,
        Field::PatronymicCyrillic,
        Field::PlaceOfBirth,
        Field::IssueDate,
        Field::Snils,
        Field::Inn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::DocumentType => "document_type",
            Field::IssuingState => "issuing_state",
            Field::Surname => "surname",
            Field::GivenNames => "given_names",
            Field::DocumentNumber => "document_number",
            Field::Nationality => "nationality",
            Field::BirthDate => "birth_date",
            Field::Sex => "sex",
            Field::ExpiryDate => "expiry_date",
            Field::PersonalNumber => "personal_number",
            Field::SurnameCyrillic => "surname_cyrillic",
            Field::GivenNamesCyrillic => "given_names_cyrillic",
            Field::Patronymic => "patronymic",
            Field::PatronymicCyrillic => "patronymic_cyrillic",
            Field::PlaceOfBirth => "place_of_birth",
            Field::IssueDate => "issue_date",
            Field::Snils => "snils",
            Field::Inn => "inn",
        }
    }
}

/// Document fields as strings, exactly as in the `document.fields` object of
/// the JSON contract. Dates are ISO `YYYY-MM-DD`; names are upper-case Latin
/// as in the MRZ, words separated by single spaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentFields {
    #[serde(default)]
    pub document_type: Option<String>,
    #[serde(default)]
    pub issuing_state: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub given_names: Option<String>,
    #[serde(default)]
    pub document_number: Option<String>,
    #[serde(default)]
    pub nationality: Option<String>,
    #[serde(default)]
    pub birth_date: Option<String>,
    #[serde(default)]
    pub sex: Option<String>,
    #[serde(default)]
    pub expiry_date: Option<String>,
    #[serde(default)]
    pub personal_number: Option<String>,
}

impl DocumentFields {
    pub fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::DocumentType => self.document_type.as_deref(),
            Field::IssuingState => self.issuing_state.as_deref(),
            Field::Surname => self.surname.as_deref(),
            Field::GivenNames => self.given_names.as_deref(),
            Field::DocumentNumber => self.document_number.as_deref(),
            Field::Nationality => self.nationality.as_deref(),
            Field::BirthDate => self.birth_date.as_deref(),
            Field::Sex => self.sex.as_deref(),
            Field::ExpiryDate => self.expiry_date.as_deref(),
            Field::PersonalNumber => self.personal_number.as_deref(),
            _ => None,
        }
    }

    /// Sets a document field; the form's other fields ([`Field::FORM`]) are
    /// not document fields and are left alone.
    pub fn set(&mut self, field: Field, value: Option<String>) {
        let slot = match field {
            Field::DocumentType => &mut self.document_type,
            Field::IssuingState => &mut self.issuing_state,
            Field::Surname => &mut self.surname,
            Field::GivenNames => &mut self.given_names,
            Field::DocumentNumber => &mut self.document_number,
            Field::Nationality => &mut self.nationality,
            Field::BirthDate => &mut self.birth_date,
            Field::Sex => &mut self.sex,
            Field::ExpiryDate => &mut self.expiry_date,
            Field::PersonalNumber => &mut self.personal_number,
            _ => return,
        };
        *slot = value;
    }
}

/// The profile an applicant declared in the portal form: the document's
/// fields ([`Field::ALL`], names in Latin or Cyrillic, dates ISO or
/// `DD.MM.YYYY`) and the form's others ([`Field::FORM`]): the names in
/// Cyrillic, the patronymic in both scripts, place of birth, issue date,
/// SNILS and INN. Any may be absent; an unknown key is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_names: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname_cyrillic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_names_cyrillic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic_cyrillic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_of_birth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snils: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inn: Option<String>,
}

impl Profile {
    /// Every key a profile may hold, as the JSON spells them.
    pub fn keys() -> impl Iterator<Item = &'static str> {
        Field::ALL.into_iter().chain(Field::FORM).map(Field::as_str)
    }

    fn slot(&mut self, field: Field) -> &mut Option<String> {
        match field {
            Field::DocumentType => &mut self.document_type,
            Field::IssuingState => &mut self.issuing_state,
            Field::Surname => &mut self.surname,
            Field::GivenNames => &mut self.given_names,
            Field::DocumentNumber => &mut self.document_number,
            Field::Nationality => &mut self.nationality,
            Field::BirthDate => &mut self.birth_date,
            Field::Sex => &mut self.sex,
            Field::ExpiryDate => &mut self.expiry_date,
            Field::PersonalNumber => &mut self.personal_number,
            Field::SurnameCyrillic => &mut self.surname_cyrillic,
            Field::GivenNamesCyrillic => &mut self.given_names_cyrillic,
            Field::Patronymic => &mut self.patronymic,
            Field::PatronymicCyrillic => &mut self.patronymic_cyrillic,
            Field::PlaceOfBirth => &mut self.place_of_birth,
            Field::IssueDate => &mut self.issue_date,
            Field::Snils => &mut self.snils,
            Field::Inn => &mut self.inn,
        }
    }

    pub fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::DocumentType => self.document_type.as_deref(),
            Field::IssuingState => self.issuing_state.as_deref(),
            Field::Surname => self.surname.as_deref(),
            Field::GivenNames => self.given_names.as_deref(),
            Field::DocumentNumber => self.document_number.as_deref(),
            Field::Nationality => self.nationality.as_deref(),
            Field::BirthDate => self.birth_date.as_deref(),
            Field::Sex => self.sex.as_deref(),
            Field::ExpiryDate => self.expiry_date.as_deref(),
            Field::PersonalNumber => self.personal_number.as_deref(),
            Field::SurnameCyrillic => self.surname_cyrillic.as_deref(),
            Field::GivenNamesCyrillic => self.given_names_cyrillic.as_deref(),
            Field::Patronymic => self.patronymic.as_deref(),
            Field::PatronymicCyrillic => self.patronymic_cyrillic.as_deref(),
            Field::PlaceOfBirth => self.place_of_birth.as_deref(),
            Field::IssueDate => self.issue_date.as_deref(),
            Field::Snils => self.snils.as_deref(),
            Field::Inn => self.inn.as_deref(),
        }
    }

    pub fn set(&mut self, field: Field, value: Option<String>) {
        *self.slot(field) = value;
    }

    /// This profile with every field `update` declares put in place of its
    /// own (an update names only what changes); the fields it leaves out stay.
    pub fn updated_with(&self, update: &Profile) -> Profile {
        let mut merged = self.clone();
        for field in Field::ALL.into_iter().chain(Field::FORM) {
            if let Some(value) = update.get(field) {
                merged.set(field, Some(value.to_string()));
            }
        }
        merged
    }

    /// The document fields it declares ([`Field::ALL`]), as a document's.
    pub fn document_fields(&self) -> DocumentFields {
        let mut fields = DocumentFields::default();
        for field in Field::ALL {
            fields.set(field, self.get(field).map(str::to_string));
        }
        fields
    }

    /// The fields whose values differ between the two, in [`Field`] order.
    pub fn changed_fields(&self, other: &Profile) -> Vec<Field> {
        Field::ALL
            .into_iter()
            .chain(Field::FORM)
            .filter(|&f| self.get(f) != other.get(f))
            .collect()
    }
}

impl From<&DocumentFields> for Profile {
    /// A profile declaring exactly a document's fields.
    fn from(fields: &DocumentFields) -> Profile {
        let mut profile = Profile::default();
        for field in Field::ALL {
            profile.set(field, fields.get(field).map(str::to_string));
        }
        profile
    }
}

/// A structured payload decoded from a QR code on the document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QrPayload {
    /// The raw decoded text, length-limited.
    pub text: String,
    /// Fields recognised in the payload.
    pub fields: DocumentFields,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_takes_the_forms_fields_and_an_update_replaces_only_what_it_names() {
        let form: Profile = serde_json::from_str(
            r#"{"surname": "TURSUNOV", "surname_cyrillic": "Турсунов", "snils": "112-233-445 95",
                "birth_date": "1990-01-31", "issue_date": null}"#,
        )
        .expect("the form's fields are a profile's");
        assert_eq!(form.get(Field::SurnameCyrillic), Some("Турсунов"));
        assert!(serde_json::from_str::<Profile>(r#"{"shoe_size": "42"}"#).is_err());

        let update = Profile {
            birth_date: Some("31.01.1991".into()),
            ..Profile::default()
        };
        let updated = form.updated_with(&update);
        assert_eq!(updated.birth_date.as_deref(), Some("31.01.1991"));
        assert_eq!(updated.snils, form.snils);
        assert_eq!(form.changed_fields(&updated), vec![Field::BirthDate]);
        assert_eq!(form.updated_with(&Profile::default()), form);

        let fields = form.document_fields();
        assert_eq!(fields.surname.as_deref(), Some("TURSUNOV"));
        assert_eq!(Profile::from(&fields).surname_cyrillic, None);
        assert_eq!(Profile::keys().count(), 18);
    }
}
