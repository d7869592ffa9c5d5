//! The per-file report: the `intake check --json` contract of SPEC.md.

use crate::document::{DocumentFields, DocumentKind, Field, MrzReading, QrPayload};
use crate::finding::{Finding, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// File format judged by content (magic bytes), never by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Jpeg,
    Png,
    Pdf,
    Bmp,
    Tiff,
    Gif,
    Webp,
    /// HEIF/HEIC (and AVIF): what phones save photos as.
    Heic,
    Unknown,
}

impl FileFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Jpeg => "jpeg",
            FileFormat::Png => "png",
            FileFormat::Pdf => "pdf",
            FileFormat::Bmp => "bmp",
            FileFormat::Tiff => "tiff",
            FileFormat::Gif => "gif",
            FileFormat::Webp => "webp",
            FileFormat::Heic => "heic",
            FileFormat::Unknown => "unknown",
        }
    }
}

/// Which measurement decided the resolution verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DpiSource {
    /// Measured from the MRZ character pitch (2.54 mm per character).
    MrzPitch,
    /// The image's pixel size over its placed size on a PDF page.
    PdfPlacement,
    /// Pixel size over the document's known physical size.
    DocumentSize,
    /// Only the file's density metadata (JFIF, EXIF, pHYs) was available.
    Metadata,
    /// Nothing could be measured.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DpiCheck {
    pub metadata: Option<f32>,
    pub effective: Option<f32>,
    pub source: DpiSource,
}

/// Image quality on the document region, each in 0..=1 except rotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quality {
    pub sharpness: f32,
    pub brightness: f32,
    pub contrast: f32,
    /// Clockwise degrees (0, 90, 180, 270) the scan was turned to read it.
    pub rotation: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Checks {
    pub format: FileFormat,
    pub bytes: u64,
    pub pages: u32,
    pub dpi: Option<DpiCheck>,
    pub quality: Option<Quality>,
    /// For a PDF: what each page looked at holds, in page order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub page_summary: Vec<PageSummary>,
}

/// What one page of a PDF holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PageSummary {
    /// 1-based.
    pub page: u32,
    pub content: PageRole,
    /// The kind of document on the page, where one was recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DocumentKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PageRole {
    /// The page checked: it holds the declared document.
    Document,
    /// Another document (its machine-readable zone was found there).
    OtherDocument,
    /// A scan on which nothing of a document was recognised.
    Image,
    /// An empty page.
    Blank,
    /// A page that draws no image (text or graphics only).
    NoImage,
    /// A page whose image could not be read.
    Unreadable,
    /// Beyond the pages or pixels looked at.
    NotExamined,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Document {
    pub kind: DocumentKind,
    pub mrz: Option<MrzReading>,
    pub fields: DocumentFields,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr: Option<QrPayload>,
    /// The passport number a stay document (visa, migration card) names
    /// for its holder, where it prints one and it was read with confidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport_number: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchResult {
    Match,
    Equivalent,
    Mismatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldMatch {
    pub field: Field,
    pub declared: String,
    pub extracted: Option<String>,
    pub result: MatchResult,
}

/// One file's report, printed as one JSON object (one line with several files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub file: String,
    pub sha256: String,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub checks: Checks,
    pub document: Option<Document>,
    #[serde(rename = "match")]
    pub matches: Vec<FieldMatch>,
    pub timings_ms: BTreeMap<String, f64>,
}
