//! The service upload handlers talk to: submit uploads, run the pipeline
//! over stored jobs, read the verdict queue. Thin over [`Store`] and
//! [`Checker`].

use crate::check::{sha256_hex, CheckRequest, Checker};
use crate::engines::{release_thread_engines, with_thread_engines};
use crate::store::{Store, StoreError, Submitted};
use intake_models::{Actor, Job, JobId, JobState, Upload, VerdictEntry};
use intake_stages::dates::Date;
use intake_stages::ocr::OcrError;
use rayon::prelude::*;
use std::panic::AssertUnwindSafe;

/// Why a job could not get its verdict now (it stays pending).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("OCR engine: {0}")]
    Engine(#[from] OcrError),
    #[error("the blob {0} of a pending job is missing from the store")]
    MissingBlob(String),
    #[error("cannot start worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// The durable pipeline over a store.
pub struct Intake {
    store: Box<dyn Store>,
    checker: Checker,
}

/// The job id of an upload: the same account, kind and file give the same id.
pub fn job_id(account: &str, kind: &str, blob: &str) -> JobId {
    let key = format!("{account}\0{kind}\0{blob}");
    JobId(sha256_hex(key.as_bytes())[..32].to_string())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Intake {
    pub fn new(store: Box<dyn Store>, checker: Checker) -> Intake {
        Intake { store, checker }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Stores the upload and its job durably; the same upload again is the
    /// same job, and says so.
    pub fn submit(&self, upload: Upload) -> Result<Submitted, StoreError> {
        let blob = sha256_hex(&upload.bytes);
        let job = Job {
            id: job_id(&upload.account, upload.kind.as_str(), &blob),
            account: upload.account,
            kind: upload.kind,
            profile: upload.profile,
            file_name: upload.file_name,
            blob,
            received_at: now_ms(),
            state: JobState::Pending,
            verdict_seq: None,
        };
        self.store.submit(job, &upload.bytes)
    }

    /// Checks every pending job (those of an interrupted run included) on
    /// `threads` worker threads and appends each verdict to the queue.
    /// Returns the sequence numbers written.
    pub fn run_pending(&self, today: Date, threads: usize) -> Result<Vec<u64>, RunError> {
        let pending = self.store.pending()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build()?;
        let written = pool.install(|| {
            pending
                .par_iter()
                .map(|job| self.run_job(job, today))
                .collect()
        });
        pool.broadcast(|_| release_thread_engines());
        written
    }

    fn run_job(&self, job: &Job, today: Date) -> Result<u64, RunError> {
        let bytes = self
            .store
            .blob(&job.blob)?
            .ok_or_else(|| RunError::MissingBlob(job.blob.clone()))?;
        let request = CheckRequest {
            file_name: &job.file_name,
            bytes: &bytes,
            kind: Some(job.kind),
            profile: job.profile.as_ref(),
            today,
        };
        // A stage that panics costs this job a `processing_failed` verdict,
        // not the worker and not the other jobs.
        let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            with_thread_engines(|engines| self.checker.check(engines, &request))
        }));
        let report = match checked {
            Ok(report) => report?,
            Err(_) => {
                // The engines may have been mid-call: start them afresh.
                release_thread_engines();
                self.checker.failed(&request)
            }
        };
        let entry = VerdictEntry {
            seq: 0,
            job: job.id.clone(),
            account: job.account.clone(),
            kind: job.kind,
            verdict: report.verdict,
            codes: report.findings.iter().map(|f| f.code).collect(),
            by: Actor::Pipeline,
            at: now_ms(),
            report: Some(report),
        };
        Ok(self.store.finish(entry)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;
    use intake_models::config::Limits;
    use intake_models::{Config, DocumentKind, Finding, ReasonCode, Verdict};
    use intake_stages::decode::{PdfExtractor, PdfImage};

    /// A stage failure no input can be relied on to cause.
    struct PanickingPdf;

    impl PdfExtractor for PanickingPdf {
        fn extract(&self, _: &[u8], _: &Limits) -> Result<PdfImage, Finding> {
            panic!("injected stage failure")
        }
    }

    fn committed(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/committed")
            .join(name);
        std::fs::read(path).expect("committed sample")
    }

    #[test]
    fn a_panicking_stage_still_gives_its_job_one_verdict_and_the_others_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let intake = Intake::new(
            Box::new(store),
            Checker::new(Config::default(), Box::new(PanickingPdf)),
        );
        for (account, file, kind) in [
            ("a1", "id_card.pdf", DocumentKind::IdCard),
            ("a2", "passport.jpg", DocumentKind::Passport),
        ] {
            let upload = Upload {
                account: account.into(),
                kind,
                profile: None,
                file_name: file.into(),
                bytes: committed(file),
            };
            intake.submit(upload).unwrap();
        }
        let today = Date::new(2026, 6, 1).unwrap();
        assert_eq!(intake.run_pending(today, 2).unwrap().len(), 2);
        let queue = intake.store().verdicts_from(0, 10).unwrap();
        let by_account = |a: &str| queue.iter().find(|e| e.account == a).expect("a verdict");
        assert_eq!(by_account("a1").verdict, Verdict::NeedsReview);
        assert_eq!(by_account("a1").codes, vec![ReasonCode::ProcessingFailed]);
        assert_eq!(by_account("a2").verdict, Verdict::Accepted);
        assert!(intake.store().pending().unwrap().is_empty());
    }
}
