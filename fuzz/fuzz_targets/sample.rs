//! The document the fuzzed profiles and QR payloads are compared with: the
//! committed sample passport's fields.

use intake_models::DocumentFields;

pub fn passport() -> DocumentFields {
    DocumentFields {
        document_type: Some("P".into()),
        issuing_state: Some("UZB".into()),
        surname: Some("KHODZHAEV".into()),
        given_names: Some("ZHAKHONGIR".into()),
        document_number: Some("OL4676496".into()),
        nationality: Some("UZB".into()),
        birth_date: Some("2001-08-07".into()),
        sex: Some("M".into()),
        expiry_date: Some("2027-06-01".into()),
        personal_number: Some("64602613162799".into()),
    }
}
