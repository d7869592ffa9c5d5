//! The intake runner: orchestrates the stages of `intake-stages` over
//! uploads, with one set of OCR engines per worker thread.
//!
//! - [`check`]: one file through every stage to one report.
//! - [`engines`]: per-thread Tesseract instances.
//! - [`sandbox`]: PDF parsing in a resource-limited child process.
//! - [`config`]: loading `pipeline.toml`.

pub mod check;
pub mod config;
pub mod engines;
pub mod sandbox;

pub use check::{CheckRequest, Checker};
