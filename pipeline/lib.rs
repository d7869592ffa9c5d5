//! The intake runner: orchestrates the stages of `intake-stages` over
//! uploads, with one set of OCR engines per worker thread.
//!
//! - [`check`]: one file through every stage to one report.
//! - [`intake`]: the service: submit uploads, run stored jobs to verdicts.
//! - [`engines`]: per-thread Tesseract instances.
//! - [`sandbox`]: PDF parsing in a resource-limited child process.
//! - [`store`]: durable jobs, blobs and the verdict queue (sled).
//! - [`config`]: loading `pipeline.toml`.

pub mod check;
pub mod config;
pub mod engines;
pub mod intake;
pub mod sandbox;
pub mod store;

pub use check::{CheckRequest, Checker};
pub use intake::Intake;
