//! Kind check: whether what a document shows of its kind (its MRZ's
//! document code, its title) agrees with the kind the applicant declared.
//! The one rule behind `document_kind_mismatch`, with or without an MRZ.

use intake_models::DocumentKind;

/// Whether a document that shows itself as `shown` may be the `declared`
/// kind. An MRZ shows `passport`, `visa` or `id_card`; a title any kind.
pub fn fits(declared: DocumentKind, shown: DocumentKind) -> bool {
    use DocumentKind::*;
    match (declared, shown) {
        _ if declared == shown => true,
        // Address words occur on any document: they tell nothing.
        (_, AddressProof) => true,
        // A passport booklet (a `P` zone, or a title that says passport)
        // may be the national passport or a travel document issued as one.
        (NationalPassport | TemporaryTravelDocument, Passport) => true,
        // Without an MRZ, a page titled passport is a national passport.
        (Passport, NationalPassport) => true,
        // Residence permits are issued as ID-format cards (`AR`, `IR`, `RP`, …).
        (ResidencePermit, IdCard) => true,
        // A registration at the place of stay proves the address.
        (AddressProof, StayRegistration) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_fits_itself_and_few_fit_another() {
        for kind in DocumentKind::ALL {
            assert!(fits(kind, kind));
        }
        use DocumentKind::*;
        assert!(fits(NationalPassport, Passport));
        assert!(!fits(WorkPatent, MigrationCard));
        assert!(!fits(ResidencePermit, TemporaryResidencePermit));
        assert!(!fits(StayRegistration, WorkPermit));
        assert!(!fits(MigrationCard, Passport));
        assert!(!fits(RefugeeCertificate, Passport));
        let fitting_another = DocumentKind::ALL
            .into_iter()
            .flat_map(|d| DocumentKind::ALL.map(|s| (d, s)))
            .filter(|&(d, s)| d != s && s != AddressProof && fits(d, s))
            .count();
        assert_eq!(fitting_another, 5);
        assert!(!fits(TemporaryTravelDocument, NationalPassport));
    }
}
