//! `intake check`: files checked one at a time without a store, each on
//! its thread's OCR engines; the service's own uploads are checked by its
//! workers instead.

use crate::check::engines::with_thread_engines;
use crate::check::{CheckRequest, Checker};
use crate::runtime::sandbox::SandboxedPdf;
use intake_models::{Config, DocumentKind, Profile, Report};
use intake_stages::dates::Date;
use intake_stages::ocr::OcrError;

pub use crate::check::engines::release_thread_engines;

/// Checks files against one configuration, PDFs parsed in the sandbox as
/// the service parses uploads.
pub struct Checks {
    checker: Checker,
}

impl Checks {
    pub fn new(config: Config) -> Checks {
        Checks {
            checker: Checker::new(config, Box::new(SandboxedPdf::new())),
        }
    }

    /// Runs every stage on one file, named `file_name` in its report. The
    /// only error is an OCR engine that cannot start.
    pub fn file(
        &self,
        file_name: &str,
        bytes: &[u8],
        kind: Option<DocumentKind>,
        profile: Option<&Profile>,
        today: Date,
    ) -> Result<Report, OcrError> {
        let request = CheckRequest {
            file_name,
            bytes,
            kind,
            profile,
            today,
        };
        with_thread_engines(|engines| self.checker.check(engines, &request))
    }
}
