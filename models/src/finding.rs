//! Verdicts and the findings that justify them.

use crate::document::Field;
use serde::{Deserialize, Serialize};

/// The outcome for one upload. Ordered by precedence: when findings call for
/// different verdicts, the greatest wins (`Rejected` > `NeedsCorrection` >
/// `NeedsReview` > `Accepted`).
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
pub enum Verdict {
    Accepted,
    NeedsReview,
    NeedsCorrection,
    Rejected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::NeedsReview => "needs_review",
            Verdict::NeedsCorrection => "needs_correction",
            Verdict::Rejected => "rejected",
        }
    }
}

/// Stable machine codes (SPEC "Verdicts and reason codes"): extend, never rename.
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
pub enum ReasonCode {
    // needs_correction
    FileEmpty,
    FormatUnsupported,
    FileCorrupt,
    FileTooLarge,
    ImageTooLarge,
    PdfNoImage,
    ResolutionTooLow,
    ImageUnreadable,
    MrzNotFound,
    MrzUnreadable,
    DocumentKindMismatch,
    /// The SNILS in the form fails the Pension Fund check number (or is not 11 digits).
    SnilsInvalid,
    /// The INN in the form fails its check digits (or is not 10 or 12 digits).
    InnInvalid,
    /// A reviewer asks the applicant to correct a field of the form.
    CorrectionRequested,
    // rejected
    DocumentExpired,
    // snake_case would make it `under6_months`; SPEC spells `under_6_months`.
    #[serde(rename = "passport_validity_under_6_months")]
    PassportValidityUnder6Months,
    StayDocumentExpired,
    /// A reviewer refused the document (for the field named, if any).
    DocumentRefused,
    // needs_review
    FieldMismatch,
    MrzChecksumFailed,
    QrMismatch,
    LowConfidence,
    /// The visual zone of an MRZ document disagrees with its MRZ (the field says where).
    VizMismatch,
    /// Two documents of one account name different people (the field says which).
    CrossDocumentMismatch,
    /// The same identity document (number and issuing state) is on another account.
    DuplicateDocument,
    /// A stage failed (a panic included): the job still gets its one verdict.
    ProcessingFailed,
    // informational
    TransliterationEquivalent,
    DateFormatEquivalent,
    AutoRotated,
    /// Pages of a PDF that hold nothing of the document checked.
    ExtraPages,
    /// A JPEG that ends early: what it holds was checked.
    FileTruncated,
    // the account's, never an upload's: what a pending account still lacks
    /// No accepted identity document (passport, ID card, …) on the account yet.
    IdentityDocumentMissing,
    /// No accepted stay document (visa, migration card, patent, …) on the account yet.
    StayDocumentMissing,
}

impl ReasonCode {
    /// The verdict this code forces on its own; `None` for informational codes.
    pub fn verdict(self) -> Option<Verdict> {
        use ReasonCode::*;
        match self {
            FileEmpty | FormatUnsupported | FileCorrupt | FileTooLarge | ImageTooLarge
            | PdfNoImage | ResolutionTooLow | ImageUnreadable | MrzNotFound | MrzUnreadable
            | DocumentKindMismatch | SnilsInvalid | InnInvalid | CorrectionRequested => {
                Some(Verdict::NeedsCorrection)
            }
            DocumentExpired
            | PassportValidityUnder6Months
            | StayDocumentExpired
            | DocumentRefused => Some(Verdict::Rejected),
            FieldMismatch
            | MrzChecksumFailed
            | QrMismatch
            | LowConfidence
            | VizMismatch
            | CrossDocumentMismatch
            | DuplicateDocument
            | ProcessingFailed => Some(Verdict::NeedsReview),
            TransliterationEquivalent
            | DateFormatEquivalent
            | AutoRotated
            | ExtraPages
            | FileTruncated
            | IdentityDocumentMissing
            | StayDocumentMissing => None,
        }
    }

    /// The code as the JSON spells it (the same string serde writes), for
    /// logs, labels and metrics without a serialisation round trip.
    pub fn as_str(self) -> &'static str {
        use ReasonCode::*;
        match self {
            FileEmpty => "file_empty",
            FormatUnsupported => "format_unsupported",
            FileCorrupt => "file_corrupt",
            FileTooLarge => "file_too_large",
            ImageTooLarge => "image_too_large",
            PdfNoImage => "pdf_no_image",
            ResolutionTooLow => "resolution_too_low",
            ImageUnreadable => "image_unreadable",
            MrzNotFound => "mrz_not_found",
            MrzUnreadable => "mrz_unreadable",
            DocumentKindMismatch => "document_kind_mismatch",
            SnilsInvalid => "snils_invalid",
            InnInvalid => "inn_invalid",
            CorrectionRequested => "correction_requested",
            DocumentExpired => "document_expired",
            PassportValidityUnder6Months => "passport_validity_under_6_months",
            StayDocumentExpired => "stay_document_expired",
            DocumentRefused => "document_refused",
            FieldMismatch => "field_mismatch",
            MrzChecksumFailed => "mrz_checksum_failed",
            QrMismatch => "qr_mismatch",
            LowConfidence => "low_confidence",
            VizMismatch => "viz_mismatch",
            CrossDocumentMismatch => "cross_document_mismatch",
            DuplicateDocument => "duplicate_document",
            ProcessingFailed => "processing_failed",
            TransliterationEquivalent => "transliteration_equivalent",
            DateFormatEquivalent => "date_format_equivalent",
            AutoRotated => "auto_rotated",
            ExtraPages => "extra_pages",
            FileTruncated => "file_truncated",
            IdentityDocumentMissing => "identity_document_missing",
            StayDocumentMissing => "stay_document_missing",
        }
    }
}

/// One reason behind a verdict, with a message telling the applicant what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    pub code: ReasonCode,
    pub field: Option<Field>,
    pub message: String,
    pub message_ru: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes exactly as SPEC writes them, in its order.
    const SPEC_CODES: [&str; 26] = [
        "file_empty",
        "format_unsupported",
        "file_corrupt",
        "file_too_large",
        "image_too_large",
        "pdf_no_image",
        "resolution_too_low",
        "image_unreadable",
        "mrz_not_found",
        "mrz_unreadable",
        "document_kind_mismatch",
        "snils_invalid",
        "inn_invalid",
        "document_expired",
        "passport_validity_under_6_months",
        "stay_document_expired",
        "field_mismatch",
        "mrz_checksum_failed",
        "qr_mismatch",
        "low_confidence",
        "viz_mismatch",
        "cross_document_mismatch",
        "duplicate_document",
        "transliteration_equivalent",
        "date_format_equivalent",
        "auto_rotated",
    ];

    #[test]
    fn codes_serialise_as_spec_spells_them() {
        for code in SPEC_CODES {
            let parsed: ReasonCode = serde_json::from_value(serde_json::json!(code))
                .unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(serde_json::to_value(parsed).unwrap(), code);
        }
    }

    /// Every code, in declaration order: a new code belongs here too.
    const ALL_CODES: [ReasonCode; 33] = {
        use ReasonCode::*;
        [
            FileEmpty,
            FormatUnsupported,
            FileCorrupt,
            FileTooLarge,
            ImageTooLarge,
            PdfNoImage,
            ResolutionTooLow,
            ImageUnreadable,
            MrzNotFound,
            MrzUnreadable,
            DocumentKindMismatch,
            SnilsInvalid,
            InnInvalid,
            CorrectionRequested,
            DocumentExpired,
            PassportValidityUnder6Months,
            StayDocumentExpired,
            DocumentRefused,
            FieldMismatch,
            MrzChecksumFailed,
            QrMismatch,
            LowConfidence,
            VizMismatch,
            CrossDocumentMismatch,
            DuplicateDocument,
            ProcessingFailed,
            TransliterationEquivalent,
            DateFormatEquivalent,
            AutoRotated,
            ExtraPages,
            FileTruncated,
            IdentityDocumentMissing,
            StayDocumentMissing,
        ]
    };

    #[test]
    fn as_str_is_what_serde_writes_for_every_code() {
        for code in ALL_CODES {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                code.as_str(),
                "{code:?}"
            );
            let parsed: ReasonCode = serde_json::from_value(code.as_str().into()).unwrap();
            assert_eq!(parsed, code);
        }
    }
}
