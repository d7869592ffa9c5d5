//! The `intake` command line.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use intake::accounts::finding_label;
use intake::clock::Clock;
use intake::engines::{release_thread_engines, with_thread_engines};
use intake::review::Resolution;
use intake::store::{SledStore, StoreError, Submitted};
use intake::{config, CheckRequest, Checker, Intake};
use intake_models::{Decision, DocumentKind, JobId, JobState, Profile, Report, Upload};
use intake_stages::dates::Date;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "intake",
    version,
    about = "Document intake and verification: format, size, 300 dpi, MRZ OCR, cross-match, verdict."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// Serve the HTTP API and the reviewer console (settings in `[server]`),
    /// with the pipeline running in the same process.
    Serve {
        /// Address to listen on instead of `server.listen`.
        #[arg(long)]
        listen: Option<String>,
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
        /// Workers per heavy stage (decode and read), one run each.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        workers: Vec<usize>,
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
struct ServiceArgs {
    /// Configuration file; default ./pipeline.toml if present, else built-in defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run the clock from midnight UTC of this date (YYYY-MM-DD): the
    /// submission date of validity rules and "now" of deadlines and leases.
    #[arg(long)]
    today: Option<String>,
}

#[derive(clap::Args)]
struct SubmitArgs {
    #[arg(long)]
    account: String,
    /// passport, national_passport, id_card, temporary_travel_document,
    /// refugee_certificate, visa, migration_card, residence_permit,
    /// temporary_residence_permit, work_permit, work_patent,
    /// stay_registration or address_proof.
    #[arg(long)]
    kind: String,
    /// The declared profile (JSON); applies to every file.
    #[arg(long)]
    profile: Option<PathBuf>,
    #[command(flatten)]
    service: ServiceArgs,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum QueueCommand {
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
enum ReviewCommand {
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
enum AccountsCommand {
    /// Recompute every account status from the verdict queue and compare
    /// with the stored ones; fails on any difference.
    Verify {
        #[command(flatten)]
        service: ServiceArgs,
    },
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Files to check; several are checked in parallel and reported in order.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The declared document kind: passport, national_passport, id_card,
    /// temporary_travel_document, refugee_certificate, visa, migration_card,
    /// residence_permit, temporary_residence_permit, work_permit, work_patent,
    /// stay_registration, address_proof, or auto to tell it from the document.
    #[arg(long, default_value = "auto")]
    kind: String,
    /// The declared profile (JSON with the fields of `document.fields`); applies to every file.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Submission date for validity rules (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    today: Option<String>,
    /// Configuration file; default ./pipeline.toml if present, else built-in defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print one JSON object per file (JSON Lines).
    #[arg(long)]
    json: bool,
    /// The language of the findings' messages in the human-readable output
    /// (JSON always carries both).
    #[arg(long, value_enum, default_value_t = Lang::En)]
    lang: Lang,
}

/// The language of messages printed for people.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Lang {
    En,
    Ru,
}

fn main() -> ExitCode {
    // One Tesseract per worker thread: OpenMP threads inside each would
    // oversubscribe the cores (8x slower measured). libgomp reads its
    // environment when the library loads, before main, so set it and start over.
    if std::env::var_os(OMP_THREAD_LIMIT).is_none() {
        return restart_with_one_omp_thread();
    }
    // The PDF sandbox re-executes this binary; it must not parse other arguments.
    if std::env::args().nth(1).as_deref() == Some(intake::sandbox::CHILD_ARG) {
        return intake::sandbox::child_main();
    }
    let cli = Cli::parse();
    // RUST_LOG sets the level; by default the service says what it does and
    // the one-shot commands only warn.
    let default_level = match cli.command {
        Command::Serve { .. } | Command::Run { .. } => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let outcome = match cli.command {
        Command::Check(args) => check(args),
        Command::Submit(args) => submit(args),
        Command::Run { follow, service } => run(&service, follow),
        Command::Serve { listen, service } => serve(&service, listen),
        Command::Status {
            account,
            json,
            service,
        } => status(&service, &account, json),
        Command::Profile {
            account,
            profile,
            by,
            service,
        } => update_profile(&service, &account, &profile, by),
        Command::Sweep { service } => sweep(&service),
        Command::Queue(QueueCommand::Tail {
            from,
            brief,
            service,
        }) => queue_tail(&service, from, brief),
        Command::Review(command) => review(command),
        Command::Audit { account, service } if account == "verify" => audit_verify(&service),
        Command::Audit { account, service } => audit(&service, &account),
        Command::Purge { service } => purge(&service),
        Command::Openapi => {
            println!("{:#}", intake::api::openapi::document());
            Ok(())
        }
        Command::Keygen { out } => keygen(&out),
        Command::Rekey {
            new_key_file,
            service,
        } => rekey(&service, &new_key_file),
        Command::Accounts(AccountsCommand::Verify { service }) => verify_accounts(&service),
        Command::Bench {
            docs,
            distinct,
            seed,
            workers,
            config,
            one_run,
        } => bench(
            (docs, distinct.unwrap_or(docs)),
            seed,
            &workers,
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
            (Some(atlas), _) => write_ocrb_atlas(&atlas),
            (None, Some(out)) => {
                let set = match (showcase, kinds) {
                    (true, _) => SampleSet::Showcase,
                    (_, true) => SampleSet::EveryKind { seed },
                    _ => SampleSet::Generated { count, seed },
                };
                samples(&out, set)
            }
            (None, None) => Err(anyhow::anyhow!("--out or --ocrb-atlas is needed")),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("intake: {e:#}");
            match e.is::<NotAllChecked>() {
                true => ExitCode::from(NOT_ALL_CHECKED),
                false => ExitCode::from(FAILED),
            }
        }
    }
}

const OMP_THREAD_LIMIT: &str = "OMP_THREAD_LIMIT";

fn restart_with_one_omp_thread() -> ExitCode {
    use std::os::unix::process::CommandExt;
    let error = match std::env::current_exe() {
        Ok(exe) => std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(OMP_THREAD_LIMIT, "1")
            .exec(),
        Err(e) => e,
    };
    eprintln!(
        "intake: cannot restart with {OMP_THREAD_LIMIT}=1 ({error}); set it in the environment"
    );
    ExitCode::from(FAILED)
}

fn check(args: CheckArgs) -> Result<()> {
    let config = config::load(args.config.as_deref())?;
    let kind = match args.kind.as_str() {
        "auto" => None,
        k => Some(k.parse::<DocumentKind>().map_err(anyhow::Error::msg)?),
    };
    let profile = args.profile.as_deref().map(read_profile).transpose()?;
    let today = parse_today(args.today.as_deref())?;
    let threads = config.workers.check_threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start worker threads")?;
    let checker = Checker::new(config, Box::new(intake::sandbox::SandboxedPdf::new()));
    let check_one = |path: &Path| -> Result<Report, FileError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(FileError::unreadable)?;
        let request = CheckRequest {
            file_name: &name,
            bytes: &bytes,
            kind,
            profile: profile.as_ref(),
            today,
        };
        // A panic is this file's internal error; the other files go on.
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            with_thread_engines(|engines| checker.check(engines, &request))
        }));
        match checked {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(FileError::internal(format!("OCR engine: {e}"))),
            Err(_) => Err(FileError::internal("the check stopped unexpectedly".into())),
        }
    };
    let progress = progress_bar(Some(args.files.len() as u64), "checked");
    let mut out = std::io::stdout().lock();
    let mut not_checked = 0;
    // The pool takes the files in order (FIFO); each result is printed as
    // soon as every file before it is, so nothing waits for the slowest.
    let (done, results) = std::sync::mpsc::channel();
    // Set when stdout is gone (a closed pipe): the files not started are skipped.
    let stopped = std::sync::atomic::AtomicBool::new(false);
    let printed = pool.in_place_scope_fifo(|scope| -> std::io::Result<()> {
        for (i, path) in args.files.iter().enumerate() {
            let (done, check_one, stopped) = (done.clone(), &check_one, &stopped);
            scope.spawn_fifo(move |_| {
                if !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = done.send((i, check_one(path)));
                }
            });
        }
        drop(done);
        let mut waiting: Vec<Option<Result<Report, FileError>>> =
            args.files.iter().map(|_| None).collect();
        let mut next = 0;
        for (i, result) in results {
            waiting[i] = Some(result);
            while let Some(result) = waiting.get_mut(next).and_then(Option::take) {
                let file = args.files[next].display().to_string();
                let line = progress.suspend(|| print_checked(&mut out, &file, &result, &args));
                if line.is_err() {
                    stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                    return line;
                }
                not_checked += usize::from(result.is_err());
                progress.inc(1);
                next += 1;
            }
        }
        Ok(())
    });
    progress.finish_and_clear();
    pool.broadcast(|_| release_thread_engines());
    release_thread_engines();
    printed?;
    if not_checked > 0 {
        return Err(NotAllChecked {
            not_checked,
            files: args.files.len(),
        }
        .into());
    }
    Ok(())
}

/// Some files of `intake check` got an error line instead of a verdict
/// (exit code [`NOT_ALL_CHECKED`]).
#[derive(Debug, thiserror::Error)]
#[error("{not_checked} of {files} files could not be checked; their lines say why")]
struct NotAllChecked {
    not_checked: usize,
    files: usize,
}

/// The exit code when some files could not be checked (the rest were).
const NOT_ALL_CHECKED: u8 = 1;
/// The exit code of a usage error or of a command that failed.
const FAILED: u8 = 2;

/// Why one file of `intake check` has no verdict; its line says so:
/// `{"file": …, "error": {"code": …, "message": …}}`.
#[derive(Debug, serde::Serialize)]
struct FileError {
    /// `file_not_found`, `permission_denied`, `not_a_file`, `read_failed` or `internal`.
    code: &'static str,
    message: String,
}

/// The JSON line of a file that could not be checked.
#[derive(serde::Serialize)]
struct ErrorLine<'a> {
    file: &'a str,
    error: &'a FileError,
}

impl FileError {
    fn unreadable(e: std::io::Error) -> FileError {
        use std::io::ErrorKind;
        let code = match e.kind() {
            ErrorKind::NotFound => "file_not_found",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::IsADirectory => "not_a_file",
            _ => "read_failed",
        };
        FileError {
            code,
            message: e.to_string(),
        }
    }

    fn internal(message: String) -> FileError {
        FileError {
            code: "internal",
            message,
        }
    }
}

/// One file's line(s): its report, or its error.
fn print_checked(
    out: &mut impl Write,
    file: &str,
    result: &Result<Report, FileError>,
    args: &CheckArgs,
) -> std::io::Result<()> {
    match result {
        Ok(report) if args.json => {
            serde_json::to_writer(&mut *out, report)?;
            writeln!(out)?;
        }
        Ok(report) => print_human(out, report, args.lang)?,
        Err(error) if args.json => {
            serde_json::to_writer(&mut *out, &ErrorLine { file, error })?;
            writeln!(out)?;
        }
        Err(error) => writeln!(
            out,
            "{file}: not checked ({}): {}",
            error.code, error.message
        )?,
    }
    out.flush()
}

/// A progress bar on stderr when it is a terminal, else one that draws
/// nothing (pipes, logs and tests get only the results). Without a length,
/// a counter.
fn progress_bar(len: Option<u64>, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match len {
        Some(len) => (
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()),
            "[{bar:30}] {pos}/{len} {msg} ({elapsed}, ~{eta} left)",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} {pos} {msg} ({elapsed})",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// The store of the configuration, opened with its key.
fn open_store(config: &intake_models::Config) -> Result<SledStore> {
    let cfg = &config.store;
    let no_file = cfg
        .key_file
        .as_ref()
        .is_none_or(|p| p.as_os_str().is_empty());
    if no_file && cfg.key_env.is_none() {
        eprintln!(
            "intake: warning: the store is not encrypted (no store.key_file or store.key_env)"
        );
    }
    Ok(SledStore::open_configured(cfg)?)
}

fn open_intake(service: &ServiceArgs) -> Result<Intake> {
    let config = config::load(service.config.as_deref())?;
    let clock = match service.today.as_deref() {
        Some(t) => Clock::starting_at(parse_today(Some(t))?),
        None => Clock::system(),
    };
    let store = open_store(&config)?;
    let checker = Checker::new(config, Box::new(intake::sandbox::SandboxedPdf::new()));
    Ok(Intake::new(Box::new(store), checker, clock))
}

/// Where the read and verify commands read: the store itself, or the
/// running service that holds it.
enum Reader {
    Store(Box<Intake>),
    Service(intake::remote::Remote),
}

impl Reader {
    fn open(service: &ServiceArgs) -> Result<Reader> {
        match open_intake(service) {
            Ok(intake) => Ok(Reader::Store(Box::new(intake))),
            Err(e) if matches!(e.downcast_ref(), Some(StoreError::Held { .. })) => {
                let config = config::load(service.config.as_deref())?;
                Ok(Reader::Service(intake::remote::Remote::from_config(
                    &config.server,
                )?))
            }
            Err(e) => Err(e),
        }
    }

    /// "Now" for the review leases: the service sends only the claims that
    /// hold at its own now, so every one it sent holds.
    fn now_ms(&self) -> u64 {
        match self {
            Reader::Store(intake) => intake.now_ms(),
            Reader::Service(_) => 0,
        }
    }

    fn account(&self, id: &str) -> Result<Option<intake_models::Account>> {
        Ok(match self {
            Reader::Store(intake) => intake.status(id)?,
            Reader::Service(remote) => remote.account(id)?,
        })
    }

    fn verdicts(&self, from: u64, limit: usize) -> Result<Vec<intake_models::VerdictEntry>> {
        Ok(match self {
            Reader::Store(intake) => intake.verdicts(from, limit)?,
            Reader::Service(remote) => remote.verdicts(from, limit)?,
        })
    }

    fn review_queue(&self) -> Result<Vec<intake_models::ReviewItem>> {
        Ok(match self {
            Reader::Store(intake) => intake.review_queue()?,
            Reader::Service(remote) => remote.review_queue()?,
        })
    }

    fn audit_log(&self, account: &str) -> Result<Vec<intake_models::AuditEntry>> {
        Ok(match self {
            Reader::Store(intake) => intake.audit(account)?,
            Reader::Service(remote) => remote.audit_log(account)?,
        })
    }

    fn verify_audit(&self) -> Result<intake::store::AuditCheck> {
        Ok(match self {
            Reader::Store(intake) => intake.verify_audit()?,
            Reader::Service(remote) => remote.verify_audit()?,
        })
    }

    fn verify_accounts(&self) -> Result<Vec<String>> {
        Ok(match self {
            Reader::Store(intake) => intake.verify_accounts()?,
            Reader::Service(remote) => remote.verify_accounts()?,
        })
    }
}

fn submit(args: SubmitArgs) -> Result<()> {
    let kind: DocumentKind = args.kind.parse().map_err(anyhow::Error::msg)?;
    let profile = args.profile.as_deref().map(read_profile).transpose()?;
    let intake = open_intake(&args.service)?;
    for path in &args.files {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let upload = Upload {
            account: args.account.clone(),
            kind,
            profile: profile.clone(),
            file_name: path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            bytes,
        };
        match intake.submit(upload)? {
            Submitted::New(job) => println!("{}: job {} stored", path.display(), job.id),
            Submitted::Existing(job) => println!(
                "{}: already submitted as job {} ({})",
                path.display(),
                job.id,
                if job.state == JobState::Done {
                    "done"
                } else {
                    "pending"
                }
            ),
        }
    }
    Ok(())
}

fn update_profile(service: &ServiceArgs, account: &str, path: &Path, by: String) -> Result<()> {
    let update = read_profile(path)?;
    let intake = open_intake(service)?;
    let outcome = intake.update_profile(account, &update, intake_models::Actor::Uploader(by))?;
    for (kind, submitted) in &outcome.rechecked {
        match submitted {
            Submitted::New(job) => println!("{kind}: checked again as job {}", job.id),
            Submitted::Existing(job) => println!(
                "{kind}: already checked with this profile as job {}",
                job.id
            ),
        }
    }
    for kind in &outcome.unchanged {
        println!("{kind}: profile unchanged");
    }
    for kind in &outcome.upload_missing {
        println!("{kind}: the upload is no longer kept; upload the document again");
    }
    Ok(())
}

fn run(service: &ServiceArgs, follow: bool) -> Result<()> {
    let mut intake = open_intake(service)?;
    if follow {
        intake.start(Vec::new(), true)?;
        let errors = intake.wait_idle();
        for e in &errors {
            eprintln!("intake: {e}");
        }
        println!(
            "pending jobs done; following (sweep every {} s)",
            intake.config().accounts.sweep_interval_s
        );
        loop {
            std::thread::park();
        }
    }
    let written = intake.run_pending()?;
    println!("{written} verdicts appended to the queue");
    Ok(())
}

fn serve(service: &ServiceArgs, listen: Option<String>) -> Result<()> {
    let mut intake = open_intake(service)?;
    let server = intake.config().server.clone();
    let max_upload = intake.config().limits.max_bytes;
    // Refused before anything starts: short, duplicate or malformed tokens.
    let tokens = intake::api::credentials(&server.tokens)?;
    if server.tokens.is_empty() {
        eprintln!(
            "intake: no [[server.tokens]] in the config: every API call will be refused (401)"
        );
    }
    let webhook = intake::notify::Webhook::from_config(&intake.config().webhooks)?;
    let metrics = std::sync::Arc::new(intake::api::Metrics::install()?);
    let (observer, committed) = crossbeam_channel::unbounded();
    intake.start(vec![observer], true)?;
    let recorder = metrics.clone();
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for event in committed {
                recorder.record(&event);
            }
        })?;
    let intake = std::sync::Arc::new(intake);
    let state = std::sync::Arc::new(intake::api::AppState {
        intake: intake.clone(),
        tokens,
        metrics,
        max_upload,
        retry_after_s: server.retry_after_s,
        receiving: std::sync::Arc::new(tokio::sync::Semaphore::new(server.max_receiving.max(1))),
        closing: tokio::sync::watch::Sender::new(false),
    });
    let limits =
        intake::api::Limits::from_config(&server).fitted_to_descriptors(server.max_receiving);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Some(webhook) = webhook {
        runtime.spawn(intake::notify::deliver(intake.clone(), webhook));
    }
    let listen = listen.unwrap_or(server.listen);
    runtime.block_on(intake::api::serve(state, &listen, limits))?;
    // The handlers are gone: finish the admitted jobs, then stop.
    drop(runtime);
    match std::sync::Arc::try_unwrap(intake) {
        Ok(mut intake) => {
            let (_, errors) = intake.stop();
            for e in errors {
                eprintln!("intake: {e}");
            }
        }
        Err(_) => eprintln!("intake: stopping with requests still holding the service"),
    }
    Ok(())
}

fn status(service: &ServiceArgs, account: &str, json: bool) -> Result<()> {
    let Some(account) = Reader::open(service)?.account(account)? else {
        bail!("no verdict for account {account:?} yet (nothing submitted, or not run)");
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &account)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "{}: {}", account.id, account.status)?;
    for item in &account.items {
        writeln!(out, "  to fix: {}: {}", finding_label(item), item.message)?;
    }
    for (kind, doc) in &account.documents {
        writeln!(
            out,
            "  {kind}: {} (job {}, verdict #{})",
            doc.verdict.as_str(),
            doc.job,
            doc.seq
        )?;
    }
    Ok(())
}

fn sweep(service: &ServiceArgs) -> Result<()> {
    let intake = open_intake(service)?;
    let swept = intake.sweep()?;
    println!(
        "{} account statuses changed, {} review leases ended",
        swept.statuses, swept.leases
    );
    Ok(())
}

fn queue_tail(service: &ServiceArgs, from: u64, brief: bool) -> Result<()> {
    let reader = Reader::open(service)?;
    let mut out = std::io::stdout().lock();
    let mut next = from;
    loop {
        let batch = reader.verdicts(next, 256)?;
        let Some(last) = batch.last() else { break };
        next = last.seq + 1;
        for entry in &batch {
            if brief {
                let codes: Vec<String> = entry.findings.iter().map(finding_label).collect();
                writeln!(
                    out,
                    "#{} {} {} {}: {} [{}] by {}",
                    entry.seq,
                    entry.job,
                    entry.account,
                    entry.kind,
                    entry.verdict.as_str(),
                    codes.join(", "),
                    entry.by
                )?;
                continue;
            }
            serde_json::to_writer(&mut out, entry)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

fn review(command: ReviewCommand) -> Result<()> {
    match command {
        ReviewCommand::List { json, service } => {
            let reader = Reader::open(&service)?;
            let now = reader.now_ms();
            let mut out = std::io::stdout().lock();
            for item in reader.review_queue()? {
                if json {
                    serde_json::to_writer(&mut out, &item)?;
                    writeln!(out)?;
                    continue;
                }
                let codes: Vec<String> = item.findings.iter().map(finding_label).collect();
                let holder = item
                    .holder(now)
                    .map_or_else(|| "free".to_string(), |r| format!("claimed by {r}"));
                writeln!(
                    out,
                    "{} account {} {}: {} [{holder}]",
                    item.job,
                    item.account,
                    item.kind,
                    codes.join(", ")
                )?;
            }
        }
        ReviewCommand::Claim {
            job,
            reviewer,
            service,
        } => {
            let intake = open_intake(&service)?;
            let item = intake.claim(&JobId(job), &reviewer)?;
            let until = item.claim.map_or(0, |c| c.until);
            println!(
                "job {} claimed by {reviewer} until {}",
                item.job,
                intake::clock::display_ms(until)
            );
        }
        ReviewCommand::Release {
            job,
            reviewer,
            service,
        } => {
            open_intake(&service)?.release(&JobId(job.clone()), &reviewer)?;
            println!("job {job} released by {reviewer}: back in the queue");
        }
        ReviewCommand::Resolve {
            job,
            reviewer,
            decision,
            items,
            comment,
            service,
        } => {
            let intake = open_intake(&service)?;
            let resolution = Resolution {
                decision: decision.parse::<Decision>().map_err(anyhow::Error::msg)?,
                items: intake::review::parse_items(&items)?,
                comment,
            };
            let job = JobId(job);
            let seq = intake.resolve(&job, &reviewer, &resolution)?;
            let job = intake.store().job(&job)?;
            let status = match &job {
                Some(job) => intake.status(&job.account)?.map_or_else(String::new, |a| {
                    format!("; account {} is {}", a.id, a.status)
                }),
                None => String::new(),
            };
            println!("verdict #{seq} appended{status}");
        }
    }
    Ok(())
}

fn audit(service: &ServiceArgs, account: &str) -> Result<()> {
    let entries = Reader::open(service)?.audit_log(account)?;
    let mut out = std::io::stdout().lock();
    for entry in entries {
        serde_json::to_writer(&mut out, &entry)?;
        writeln!(out)?;
    }
    Ok(())
}

fn bench(
    (docs, distinct): (usize, usize),
    seed: u64,
    workers: &[usize],
    config_path: Option<&Path>,
    one_run: Option<&Path>,
) -> Result<()> {
    if let Some(samples) = one_run {
        let config = config::load(config_path)?;
        let &[count] = workers else {
            bail!("--one-run takes one worker count");
        };
        let progress = progress_bar(
            Some(docs as u64),
            &format!("verdicts, {count} worker(s) per heavy stage"),
        );
        let run = intake::bench::run(&config, samples, docs, count, &|committed| {
            progress.set_position(committed as u64)
        });
        progress.finish_and_clear();
        let run = run?;
        println!("{}", serde_json::to_string(&run)?);
        return Ok(());
    }
    let samples = tempfile::tempdir()?;
    eprintln!("bench: generating {distinct} documents (seed {seed})");
    intake::bench::generate(samples.path(), distinct, seed)?;
    let exe = std::env::current_exe().context("cannot find the intake binary")?;
    let mut runs = Vec::new();
    for count in workers {
        eprintln!("bench: {docs} documents, {count} worker(s) per heavy stage");
        let mut child = std::process::Command::new(&exe);
        child.args([
            "bench",
            "--docs",
            &docs.to_string(),
            "--workers",
            &count.to_string(),
        ]);
        child.arg("--one-run").arg(samples.path());
        if let Some(path) = config_path {
            child.arg("--config").arg(path);
        }
        let out = child.stderr(std::process::Stdio::inherit()).output()?;
        if !out.status.success() {
            bail!("the bench run with {count} worker(s) failed");
        }
        runs.push(serde_json::from_slice(&out.stdout).context("the bench run's figures")?);
    }
    print!("{}", intake::bench::table(&runs));
    Ok(())
}

fn audit_verify(service: &ServiceArgs) -> Result<()> {
    let check = Reader::open(service)?.verify_audit()?;
    match check.broken {
        None => {
            println!(
                "the audit log's hash chain holds: {} entries",
                check.entries
            );
            Ok(())
        }
        Some((seq, why)) => bail!(
            "the audit log is broken at entry {seq}: {why} ({} entries before it hold)",
            check.entries
        ),
    }
}

fn purge(service: &ServiceArgs) -> Result<()> {
    let intake = open_intake(service)?;
    let purged = intake.purge()?;
    println!(
        "{} uploads deleted (jobs decided more than {} days ago); {} upload files no job needed deleted",
        purged.jobs,
        intake.config().store.retention_days,
        purged.orphans
    );
    Ok(())
}

fn keygen(out: &Path) -> Result<()> {
    intake::crypto::write_new_key(out)?;
    println!(
        "a new key is in {} (owner-only); keep it apart from the store",
        out.display()
    );
    Ok(())
}

fn rekey(service: &ServiceArgs, new_key_file: &Path) -> Result<()> {
    let config = config::load(service.config.as_deref())?;
    let store = open_store(&config)?;
    let new = intake::crypto::Sealer::with_key(&intake::crypto::read_key_file(new_key_file)?);
    let progress = progress_bar(None, "records and uploads looked at");
    let resealed = store.rekey(&new, &mut || progress.inc(1));
    progress.finish_and_clear();
    let resealed = resealed?;
    println!(
        "{resealed} records and uploads re-encrypted; now set store.key_file = {:?}",
        new_key_file.display().to_string()
    );
    Ok(())
}

fn verify_accounts(service: &ServiceArgs) -> Result<()> {
    let differences = Reader::open(service)?.verify_accounts()?;
    for d in &differences {
        println!("{d}");
    }
    if !differences.is_empty() {
        bail!(
            "{} account statuses differ from the verdicts",
            differences.len()
        );
    }
    println!("every account status equals the one computed from the verdicts");
    Ok(())
}

fn parse_today(today: Option<&str>) -> Result<Date> {
    match today {
        Some(t) => Date::parse_iso(t)
            .with_context(|| format!("--today {t:?} is not a date in YYYY-MM-DD form")),
        None => Ok(today_utc()),
    }
}

fn read_profile(path: &Path) -> Result<Profile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read profile {}", path.display()))?;
    match serde_json::from_str::<Profile>(&text) {
        Ok(p) => Ok(p),
        Err(e) => bail!(
            "profile {} is not valid: {e}. Expected a JSON object with any of: {}",
            path.display(),
            Profile::keys().collect::<Vec<_>>().join(", ")
        ),
    }
}

fn today_utc() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Date::from_unix_days((secs / 86_400) as i64)
}

fn print_human(out: &mut impl Write, report: &Report, lang: Lang) -> std::io::Result<()> {
    writeln!(out, "{}: {}", report.file, report.verdict.as_str())?;
    for f in &report.findings {
        let message = match lang {
            Lang::En => &f.message,
            Lang::Ru => &f.message_ru,
        };
        writeln!(out, "  {}: {message}", finding_label(f))?;
    }
    if let Some(doc) = &report.document {
        if let Some(mrz) = &doc.mrz {
            for line in &mrz.lines {
                writeln!(out, "  | {line}")?;
            }
        }
    }
    Ok(())
}

/// Renders the glyph classifier's templates (see `intake_stages::ocr::glyphs`).
fn write_ocrb_atlas(path: &Path) -> Result<()> {
    use intake_stages::ocr::glyphs::{ALPHABET, CELL_HEIGHT, CELL_WIDTH};
    let fonts = intake_samples::render::Fonts::load()?;
    let atlas = intake_samples::render::ocrb_atlas(&fonts, ALPHABET, CELL_WIDTH, CELL_HEIGHT);
    atlas
        .save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "wrote {} ({}x{} pixels)",
        path.display(),
        atlas.width(),
        atlas.height()
    );
    Ok(())
}

/// Which set `intake samples` writes.
enum SampleSet {
    Generated { count: usize, seed: u64 },
    Showcase,
    EveryKind { seed: u64 },
}

fn samples(out: &Path, set: SampleSet) -> Result<()> {
    let manifest = match set {
        SampleSet::Generated { count, seed } => intake_samples::generate(out, count, seed),
        SampleSet::Showcase => intake_samples::showcase(out),
        SampleSet::EveryKind { seed } => intake_samples::every_kind(out, seed),
    };
    let manifest =
        manifest.with_context(|| format!("cannot generate samples in {}", out.display()))?;
    println!(
        "wrote {} files, their profiles and manifest.json to {}",
        manifest.entries.len(),
        out.display()
    );
    Ok(())
}
