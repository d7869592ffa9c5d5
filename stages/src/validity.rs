//! Validity stage: expiry rules on the submission date.

use crate::dates::Date;
use crate::messages::finding;
use intake_models::config::Validity;
use intake_models::{DocumentFields, DocumentKind, Finding, ReasonCode};

/// A document is valid through its expiry date. On `today`:
/// - identity documents (passports, ID card, temporary travel document,
///   refugee certificate) past expiry: `document_expired`;
/// - a foreign passport must run more than `passport_min_months` months past
///   today, else `passport_validity_under_6_months`;
/// - stay documents (visa, migration card, residence permits, work permit,
///   work patent, stay registration) past expiry: `stay_document_expired`;
/// - proof of address has no expiry rule ([`expires`]).
///
/// A missing or unreadable expiry date yields nothing here: confirming it is
/// the reading stages' business.
pub fn check(
    kind: DocumentKind,
    fields: &DocumentFields,
    today: Date,
    cfg: &Validity,
) -> Vec<Finding> {
    let Some(expiry) = fields.expiry_date.as_deref().and_then(Date::parse_iso) else {
        return Vec::new();
    };
    let expired = expiry < today;
    let code = match kind {
        k if !expires(k) => None,
        k if k.is_stay_document() => expired.then_some(ReasonCode::StayDocumentExpired),
        _ if expired => Some(ReasonCode::DocumentExpired),
        DocumentKind::Passport if expiry <= today.add_months(cfg.passport_min_months) => {
            Some(ReasonCode::PassportValidityUnder6Months)
        }
        _ => None,
    };
    code.map(|c| finding(c, Some(intake_models::Field::ExpiryDate)))
        .into_iter()
        .collect()
}

/// Whether the kind's documents are judged by an expiry date (every identity
/// and stay document; not a proof of address).
pub fn expires(kind: DocumentKind) -> bool {
    kind.is_identity_document() || kind.is_stay_document()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(kind: DocumentKind, expiry: &str, today: &str) -> Vec<ReasonCode> {
        let fields = DocumentFields {
            expiry_date: Some(expiry.into()),
            ..Default::default()
        };
        let today = Date::parse_iso(today).unwrap();
        check(kind, &fields, today, &Validity::default())
            .into_iter()
            .map(|f| f.code)
            .collect()
    }

    #[test]
    fn passport_boundaries() {
        use DocumentKind::Passport;
        assert_eq!(
            codes(Passport, "2026-05-31", "2026-06-01"),
            [ReasonCode::DocumentExpired]
        );
        // Valid through its expiry day, but not more than 6 months past today.
        assert_eq!(
            codes(Passport, "2026-06-01", "2026-06-01"),
            [ReasonCode::PassportValidityUnder6Months]
        );
        assert_eq!(
            codes(Passport, "2026-12-01", "2026-06-01"),
            [ReasonCode::PassportValidityUnder6Months]
        );
        assert!(codes(Passport, "2026-12-02", "2026-06-01").is_empty());
        assert!(codes(Passport, "2027-03-01", "2026-08-31").is_empty());
    }

    #[test]
    fn stay_documents_need_only_be_valid_today() {
        let stays = DocumentKind::ALL
            .into_iter()
            .filter(|k| k.is_stay_document());
        for kind in stays {
            assert!(codes(kind, "2026-06-01", "2026-06-01").is_empty());
            assert_eq!(
                codes(kind, "2026-05-31", "2026-06-01"),
                [ReasonCode::StayDocumentExpired]
            );
        }
        assert_eq!(
            codes(DocumentKind::IdCard, "2020-01-01", "2026-06-01"),
            [ReasonCode::DocumentExpired]
        );
        assert!(codes(DocumentKind::IdCard, "2026-07-01", "2026-06-01").is_empty());
        // Only the foreign passport must run six months more.
        for kind in [
            DocumentKind::NationalPassport,
            DocumentKind::TemporaryTravelDocument,
            DocumentKind::RefugeeCertificate,
        ] {
            assert!(codes(kind, "2026-06-01", "2026-06-01").is_empty(), "{kind}");
            assert_eq!(
                codes(kind, "2026-05-31", "2026-06-01"),
                [ReasonCode::DocumentExpired]
            );
        }
        assert!(codes(DocumentKind::AddressProof, "2020-01-01", "2026-06-01").is_empty());
    }
}
