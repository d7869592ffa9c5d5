//! Documents, their fields and the machine-readable zone.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What the applicant says the upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Passport,
    IdCard,
    Visa,
    ResidencePermit,
    MigrationCard,
    AddressProof,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 6] = [
        DocumentKind::Passport,
        DocumentKind::IdCard,
        DocumentKind::Visa,
        DocumentKind::ResidencePermit,
        DocumentKind::MigrationCard,
        DocumentKind::AddressProof,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Passport => "passport",
            DocumentKind::IdCard => "id_card",
            DocumentKind::Visa => "visa",
            DocumentKind::ResidencePermit => "residence_permit",
            DocumentKind::MigrationCard => "migration_card",
            DocumentKind::AddressProof => "address_proof",
        }
    }

    /// Kinds whose specimens carry an ICAO 9303 machine-readable zone.
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
            DocumentKind::Passport | DocumentKind::IdCard | DocumentKind::ResidencePermit
        )
    }

    /// Documents that allow the holder to stay (checked against `--today`).
    pub fn is_stay_document(self) -> bool {
        matches!(
            self,
            DocumentKind::Visa | DocumentKind::ResidencePermit | DocumentKind::MigrationCard
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
                    "unknown document kind {s:?}; expected one of passport, id_card, visa, \
                     residence_permit, migration_card, address_proof"
                )
            })
    }
}

/// The ICAO 9303 MRZ layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MrzReading {
    pub format: MrzFormat,
    pub lines: Vec<String>,
    pub check_digits_valid: bool,
    /// OCR confusions repaired under check-digit control.
    pub corrections: u32,
}

/// The fields compared with the declared profile, named as in the JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
}

impl Field {
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
        }
    }
}

/// Document fields as strings, exactly as in the `document.fields` object of
/// the JSON contract. Dates are ISO `YYYY-MM-DD`; names are upper-case Latin
/// as in the MRZ, words separated by single spaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
        }
    }

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
        };
        *slot = value;
    }
}

/// The profile an applicant declared in the portal form: the same fields as
/// [`DocumentFields`], any of them absent, names in Latin or Cyrillic, dates
/// ISO or `DD.MM.YYYY`.
pub type Profile = DocumentFields;

/// A structured payload decoded from a QR code on the document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QrPayload {
    /// The raw decoded text, length-limited.
    pub text: String,
    /// Fields recognised in the payload.
    pub fields: DocumentFields,
}
