//! The command line: the clap types of every command and flag in one
//! place, and [`run`], which hands each command to its group's module and
//! turns the outcome into the exit code.
//!
//! - [`check`]: `intake check`, files checked in parallel, reported in order.
//! - [`service`]: submit, profile, run, serve (the server's assembly), sweep, purge, status.
//! - [`review`]: review list, claim, release, resolve.
//! - [`audit`]: queue tail, audit, audit verify, accounts verify.
//! - [`keys`]: keygen, rekey.
//! - [`tools`]: bench (the harness), samples, the OCR-B atlas, openapi.
//! - [`common`]: what the groups share: opening the store and the service,
//!   the [`common::Reader`] of the read commands, `--today` and `--profile`.
//! - [`output`]: everything the commands print, on stdout and stderr.

mod audit;
mod check;
mod common;
mod keys;
mod output;
mod remote;
mod review;
mod service;
mod tools;

use clap::{Parser, Subcommand};
use intake_models::config::Backend;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "intake",
    version,
    about = "Document intake and verification: format, size, 300 dpi, MRZ OCR, cross-match, verdict."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check uploaded scans and print one verdict per file (JSON Lines with --json).
    Check(CheckArgs),
    /// Store uploads as jobs of an account (durable before it returns).
    Submit(SubmitArgs),
    /// Run the pipeline over every pending job (orphans of a crash included)
    /// and apply the verdicts to the account statuses.
    Run {
        /// Keep running: apply the time rules every `accounts.sweep_interval_s`.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Work jobs from a shared store's work queue (`store.backend =
    /// "jetstream"`) until killed: one of any number of worker processes,
    /// on any machine that reaches the NATS server.
    Worker {
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Serve the HTTP API and the reviewer console (settings in `[server]`),
    /// with the pipeline running in the same process (on a shared store, a
    /// worker of its work queue like any `intake worker`, unless --api-only).
    Serve {
        /// Address to listen on instead of `server.listen`.
        #[arg(long)]
        listen: Option<String>,
        /// On a shared store (JetStream), take no jobs: the API only, in
        /// front of `intake worker` processes.
        #[arg(long)]
        api_only: bool,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Update the profile an account's applicant declared: the fields in
    /// the file replace those the documents were checked against, and every
    /// document whose profile changes is checked again (run `intake run`).
    Profile {
        account: String,
        /// The fields to update (JSON, the keys of a profile).
        #[arg(long)]
        profile: PathBuf,
        /// Who asks for it, as the audit log records it.
        #[arg(long, default_value = "cli")]
        by: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// An account's status and the items to fix.
    Status {
        account: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Apply the time rules: correction deadlines, stay-document expiry, review leases.
    Sweep {
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// The verdict queue.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// The review queue of flagged documents.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// An account's audit log (every change: when, what, by whom, before and
    /// after); `intake audit verify` walks the log's hash chain instead.
    Audit {
        /// An account id, or `verify`.
        account: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Account statuses as a whole.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Delete the uploads of jobs decided more than `store.retention_days`
    /// ago (verdicts and audit entries remain); the sweep does it too.
    Purge {
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Print the HTTP API's OpenAPI 3.1 document (generated from the code;
    /// `intake serve` also serves it at /openapi.json).
    Openapi,
    /// Write a new random encryption key (64 hex digits) to a file, owner-only.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Re-encrypt every record and upload under a new key, with the service
    /// stopped; then point `store.key_file` at the new key. Run it again
    /// with the same keys if it was interrupted.
    Rekey {
        /// The new key's file (see `intake keygen`).
        #[arg(long)]
        new_key_file: PathBuf,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Measure the pipeline end to end on generated samples: documents per
    /// second, latency percentiles, time per stage, peak RSS.
    Bench {
        /// Documents per run.
        #[arg(long, default_value_t = 100)]
        docs: usize,
        /// Distinct documents generated (default: --docs); fewer are
        /// submitted over again, to show memory stays flat with the backlog.
        #[arg(long)]
        distinct: Option<usize>,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Workers per heavy stage (decode and read), one run each; with
        /// `--backend jetstream`, `intake worker` processes.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        workers: Vec<usize>,
        /// `sled` (a store of the run's own) or `jetstream` (a nats-server
        /// of the run's own, worked by `--workers` worker processes).
        #[arg(long, default_value = "sled", value_parser = parse_backend)]
        backend: Backend,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Run one worker count here on the samples in this directory and
        /// print its figures as JSON (the bench gives each run a process of its own).
        #[arg(long, hide = true)]
        one_run: Option<PathBuf>,
    },
    /// Generate synthetic document scans with ground truth and a manifest.
    Samples {
        /// Output directory (created if missing).
        #[arg(long, required_unless_present = "ocrb_atlas")]
        out: Option<PathBuf>,
        /// Number of good documents (bad files are always added).
        #[arg(long, default_value_t = 40)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the small fixed set kept in samples/committed instead.
        #[arg(long)]
        showcase: bool,
        /// Write one document of every kind without an MRZ instead, valid
        /// (`<kind>.jpg`) and expired (`<kind>_expired.jpg`), and passports
        /// in every visual-zone layout, as issued and altered
        /// (`passport_issued_N.jpg`, `passport_altered_N.jpg`).
        #[arg(long, conflicts_with = "showcase")]
        kinds: bool,
        /// Render the MRZ glyph classifier's OCR-B templates to this PNG
        /// instead (`make glyphs`: stages/src/ocr/ocrb-mrz.png).
        #[arg(long, conflicts_with_all = ["out", "showcase"])]
        ocrb_atlas: Option<PathBuf>,
    },
}

/// Where the service's store and settings come from, and its clock.
#[derive(clap::Args, Clone)]
pub struct ServiceArgs {
    /// Configuration file; default ./pipeline.toml if present, else built-in defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run the clock from midnight UTC of this date (YYYY-MM-DD): the
    /// submission date of validity rules and "now" of deadlines and leases.
    #[arg(long)]
    pub today: Option<String>,
}

#[derive(clap::Args)]
pub struct SubmitArgs {
    #[arg(long)]
    pub account: String,
    /// passport, national_passport, id_card, temporary_travel_document,
    /// refugee_certificate, visa, migration_card, residence_permit,
    /// temporary_residence_permit, work_permit, work_patent,
    /// stay_registration or address_proof.
    #[arg(long)]
    pub kind: String,
    /// The declared profile (JSON); applies to every file.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Print verdict queue entries (JSON Lines) from a sequence number on.
    Tail {
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// One line per entry for people: seq, account, kind, verdict, codes, by whom.
        #[arg(long)]
        brief: bool,
        #[command(flatten)]
        service: ServiceArgs,
    },
}

#[derive(Subcommand)]
pub enum ReviewCommand {
    /// The flagged documents, oldest first, with who holds them.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Take a document for `review.lease_minutes`; it returns to the queue when the lease ends.
    Claim {
        job: String,
        #[arg(long)]
        reviewer: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Give a claimed document back to the queue at once (its claimant only).
    Release {
        job: String,
        #[arg(long)]
        reviewer: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Decide on a claimed document; the account status follows.
    Resolve {
        job: String,
        #[arg(long)]
        reviewer: String,
        /// accept, correct or reject.
        #[arg(long)]
        decision: String,
        /// For correct: fields the applicant must fix (surname, birth_date, ...)
        /// or reason codes (resolution_too_low, ...), comma-separated.
        #[arg(long, value_delimiter = ',')]
        items: Vec<String>,
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        service: ServiceArgs,
    },
}

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// Recompute every account status from the verdict queue and compare
    /// with the stored ones; fails on any difference.
    Verify {
        #[command(flatten)]
        service: ServiceArgs,
    },
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Files to check; several are checked in parallel and reported in order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The declared document kind: passport, national_passport, id_card,
    /// temporary_travel_document, refugee_certificate, visa, migration_card,
    /// residence_permit, temporary_residence_permit, work_permit, work_patent,
    /// stay_registration, address_proof, or auto to tell it from the document.
    #[arg(long, default_value = "auto")]
    pub kind: String,
    /// The declared profile (JSON with the fields of `document.fields`); applies to every file.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Submission date for validity rules (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    pub today: Option<String>,
    /// Configuration file; default ./pipeline.toml if present, else built-in defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print one JSON object per file (JSON Lines).
    #[arg(long)]
    pub json: bool,
    /// The language of the findings' messages in the human-readable output
    /// (JSON always carries both).
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
}

/// The language of messages printed for people.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Lang {
    En,
    Ru,
}

impl Cli {
    /// The log level when RUST_LOG sets none: the service says what it
    /// does, the one-shot commands only warn.
    pub fn default_log_level(&self) -> &'static str {
        match self.command {
            Command::Serve { .. } | Command::Run { .. } | Command::Worker { .. } => "info",
            _ => "warn",
        }
    }
}

/// The exit code when some files could not be checked (the rest were).
const NOT_ALL_CHECKED: u8 = 1;
/// The exit code of a usage error or of a command that failed.
pub const FAILED: u8 = 2;

/// `--backend`: the names `[store] backend` takes.
fn parse_backend(name: &str) -> Result<Backend, String> {
    match name {
        "sled" => Ok(Backend::Sled),
        "jetstream" => Ok(Backend::JetStream),
        _ => Err(format!("{name:?} is not a backend: sled or jetstream")),
    }
}

/// Runs the command and says how it ended: [`NOT_ALL_CHECKED`] when
/// `intake check` could not check every file, [`FAILED`] on any other error
/// (printed on stderr).
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Check(args) => check::check(args),
        Command::Submit(args) => service::submit(args),
        Command::Run { follow, service } => service::run(&service, follow),
        Command::Worker { service } => service::worker(&service),
        Command::Serve {
            listen,
            api_only,
            service,
        } => service::serve(&service, listen, api_only),
        Command::Status {
            account,
            json,
            service,
        } => service::status(&service, &account, json),
        Command::Profile {
            account,
            profile,
            by,
            service,
        } => service::update_profile(&service, &account, &profile, by),
        Command::Sweep { service } => service::sweep(&service),
        Command::Queue(QueueCommand::Tail {
            from,
            brief,
            service,
        }) => audit::queue_tail(&service, from, brief),
        Command::Review(command) => review::run(command),
        Command::Audit { account, service } if account == "verify" => audit::audit_verify(&service),
        Command::Audit { account, service } => audit::audit(&service, &account),
        Command::Purge { service } => service::purge(&service),
        Command::Openapi => tools::openapi(),
        Command::Keygen { out } => keys::keygen(&out),
        Command::Rekey {
            new_key_file,
            service,
        } => keys::rekey(&service, &new_key_file),
        Command::Accounts(AccountsCommand::Verify { service }) => audit::verify_accounts(&service),
        Command::Bench {
            docs,
            distinct,
            seed,
            workers,
            backend,
            config,
            one_run,
        } => tools::bench(
            (docs, distinct.unwrap_or(docs)),
            seed,
            &workers,
            backend,
            config.as_deref(),
            one_run.as_deref(),
        ),
        Command::Samples {
            out,
            count,
            seed,
            showcase,
            kinds,
            ocrb_atlas,
        } => match (ocrb_atlas, out) {
            (Some(atlas), _) => tools::write_ocrb_atlas(&atlas),
            (None, Some(out)) => {
                let set = match (showcase, kinds) {
                    (true, _) => tools::SampleSet::Showcase,
                    (_, true) => tools::SampleSet::EveryKind { seed },
                    _ => tools::SampleSet::Generated { count, seed },
                };
                tools::samples(&out, set)
            }
            (None, None) => Err(anyhow::anyhow!("--out or --ocrb-atlas is needed")),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::failure(&e);
            match e.is::<check::NotAllChecked>() {
                true => ExitCode::from(NOT_ALL_CHECKED),
                false => ExitCode::from(FAILED),
            }
        }
    }
}
