//! The intake runner: the durable service over the stages of
//! `intake-stages`.
//!
//! Layers, each importing only those below it (README, "Architecture"):
//!
//! - [`api`]: the HTTP API and the console, handlers over the service.
//! - [`service`]: [`Intake`], the one surface of the CLI and the API:
//!   submit, run, accounts, review, audit, retention, webhooks, the bench.
//! - [`runtime`]: the staged worker threads, the fair decode queue, the
//!   commit's ledger, the PDF sandbox.
//! - [`check`]: one file through every stage to one report ([`Checker`]).
//! - [`store`]: the `Store` trait and its sled and JetStream backends; the codec,
//!   encryption at rest, upload files, the audit chain, retention.
//! - [`clock`], [`digest`], [`config`]: leaves any layer may use.

pub mod api;
pub mod check;
pub mod clock;
pub mod config;
pub mod digest;
pub mod runtime;
pub mod service;
pub mod store;

pub use check::{CheckRequest, Checker};
pub use service::Intake;
