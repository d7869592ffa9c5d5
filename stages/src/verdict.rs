//! Verdict stage: the findings decide.

use intake_models::{Finding, Verdict};

/// The verdict the findings call for: the greatest of their codes' verdicts
/// (`Rejected` > `NeedsCorrection` > `NeedsReview` > `Accepted`);
/// `Accepted` when no finding calls for anything else.
pub fn decide(findings: &[Finding]) -> Verdict {
    findings
        .iter()
        .filter_map(|f| f.code.verdict())
        .max()
        .unwrap_or(Verdict::Accepted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::finding;
    use intake_models::{Field, ReasonCode};

    #[test]
    fn the_gravest_finding_wins() {
        assert_eq!(decide(&[]), Verdict::Accepted);
        let info = finding(ReasonCode::TransliterationEquivalent, Some(Field::Surname));
        assert_eq!(decide(std::slice::from_ref(&info)), Verdict::Accepted);
        let review = finding(ReasonCode::FieldMismatch, Some(Field::Surname));
        let fix = finding(ReasonCode::ResolutionTooLow, None);
        let reject = finding(ReasonCode::DocumentExpired, None);
        assert_eq!(
            decide(&[info.clone(), review.clone()]),
            Verdict::NeedsReview
        );
        assert_eq!(
            decide(&[review.clone(), fix.clone()]),
            Verdict::NeedsCorrection
        );
        assert_eq!(decide(&[fix, reject, review]), Verdict::Rejected);
    }
}
