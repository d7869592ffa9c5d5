//! The intake runner: the durable service over the stages of
//! `intake-stages`.
//!
//! - [`check`]: one file through every stage to one report.
//! - [`intake`]: the service: submit uploads, run the pipeline, statuses, review.
//! - [`workers`]: the staged worker threads on bounded channels.
//! - [`fair`]: the queue to the decode stage that serves accounts in turn.
//! - [`ledger`]: who each account's documents name; duplicate and cross-document flags.
//! - [`accounts`]: the account-status consumer of the verdict queue and the sweep.
//! - [`review`]: the review queue's decisions (claim, resolve, lease expiry).
//! - [`notify`]: the outbox feed, webhook delivery and its signatures.
//! - [`store`]: durable blobs, jobs, verdicts, accounts, review queue, audit (the `Store` trait; sled behind it).
//! - [`bench`]: end-to-end throughput of the pipeline (`intake bench`).
//! - [`engines`]: per-thread Tesseract instances.
//! - [`remote`]: the running service, for operator commands while it holds the store.
//! - [`sandbox`]: PDF parsing in a resource-limited child process.
//! - [`clock`]: the real clock or one started at `--today`.
//! - [`crypto`]: encryption at rest (ChaCha20-Poly1305).
//! - [`digest`]: SHA-256 and hex, shared by the store and the layers above.
//! - [`config`]: loading `pipeline.toml`.

pub mod accounts;
pub mod api;
pub mod bench;
pub mod check;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod digest;
pub mod engines;
pub mod fair;
pub mod intake;
pub mod ledger;
pub mod notify;
pub mod remote;
pub mod review;
pub mod sandbox;
pub mod store;
pub mod workers;

pub use check::{CheckRequest, Checker};
pub use intake::Intake;
