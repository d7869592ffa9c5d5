//! The `intake` command line.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use intake::engines::{release_thread_engines, with_thread_engines};
use intake::store::{SledStore, Store, Submitted};
use intake::{config, CheckRequest, Checker, Intake};
use intake_models::{DocumentKind, JobState, Profile, Report, Upload};
use intake_stages::dates::Date;
use rayon::prelude::*;
use std::io::Write;
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
    /// Check every pending job and append its verdict to the queue.
    Run {
        /// Submission date for validity rules (YYYY-MM-DD); default today (UTC).
        #[arg(long)]
        today: Option<String>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The verdict queue.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Generate synthetic document scans with ground truth and a manifest.
    Samples {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Number of good documents (bad files are always added).
        #[arg(long, default_value_t = 40)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the small fixed set kept in samples/committed instead.
        #[arg(long)]
        showcase: bool,
    },
}

#[derive(clap::Args)]
struct SubmitArgs {
    #[arg(long)]
    account: String,
    /// passport, id_card, visa, residence_permit, migration_card or address_proof.
    #[arg(long)]
    kind: String,
    /// The declared profile (JSON); applies to every file.
    #[arg(long)]
    profile: Option<PathBuf>,
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum QueueCommand {
    /// Print verdict queue entries (JSON Lines) from a sequence number on.
    Tail {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Files to check; several are checked in parallel and reported in order.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The declared document kind: passport, id_card, visa, residence_permit,
    /// migration_card, address_proof, or auto to tell it from the document.
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
    let outcome = match cli.command {
        Command::Check(args) => check(args),
        Command::Submit(args) => submit(args),
        Command::Run { today, config } => run(today.as_deref(), config.as_deref()),
        Command::Queue(QueueCommand::Tail { from, config }) => queue_tail(from, config.as_deref()),
        Command::Samples {
            out,
            count,
            seed,
            showcase,
        } => samples(&out, count, seed, showcase),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("intake: {e:#}");
            ExitCode::from(2)
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
    ExitCode::from(2)
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
    let check_one = |path: &PathBuf| -> Result<Report> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
        let request = CheckRequest {
            file_name: &name,
            bytes: &bytes,
            kind,
            profile: profile.as_ref(),
            today,
        };
        with_thread_engines(|engines| checker.check(engines, &request))
            .with_context(|| format!("{name}: OCR engine failed to start"))
    };
    let reports: Vec<Result<Report>> =
        pool.install(|| args.files.par_iter().map(check_one).collect());
    pool.broadcast(|_| release_thread_engines());
    release_thread_engines();
    let mut out = std::io::stdout().lock();
    for report in reports {
        let report = report?;
        if args.json {
            serde_json::to_writer(&mut out, &report)?;
            writeln!(out)?;
        } else {
            print_human(&mut out, &report)?;
        }
    }
    Ok(())
}

fn open_store(config: &intake_models::Config) -> Result<SledStore> {
    Ok(SledStore::open(
        &config.store.path,
        config.store.cache_capacity_bytes,
    )?)
}

fn open_intake(config: intake_models::Config) -> Result<Intake> {
    let store = open_store(&config)?;
    let checker = Checker::new(config, Box::new(intake::sandbox::SandboxedPdf::new()));
    Ok(Intake::new(Box::new(store), checker))
}

fn submit(args: SubmitArgs) -> Result<()> {
    let kind: DocumentKind = args.kind.parse().map_err(anyhow::Error::msg)?;
    let profile = args.profile.as_deref().map(read_profile).transpose()?;
    let intake = open_intake(config::load(args.config.as_deref())?)?;
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

fn run(today: Option<&str>, config_path: Option<&Path>) -> Result<()> {
    let today = parse_today(today)?;
    let config = config::load(config_path)?;
    let threads = config.workers.check_threads;
    let intake = open_intake(config)?;
    let written = intake.run_pending(today, threads)?;
    println!("{} verdicts appended to the queue", written.len());
    Ok(())
}

fn queue_tail(from: u64, config_path: Option<&Path>) -> Result<()> {
    let store = open_store(&config::load(config_path)?)?;
    let mut out = std::io::stdout().lock();
    let mut next = from;
    loop {
        let batch = store.verdicts_from(next, 256)?;
        let Some(last) = batch.last() else { break };
        next = last.seq + 1;
        for entry in &batch {
            serde_json::to_writer(&mut out, entry)?;
            writeln!(out)?;
        }
    }
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
            intake_models::Field::ALL.map(|f| f.as_str()).join(", ")
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

fn print_human(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "{}: {}", report.file, report.verdict.as_str())?;
    for f in &report.findings {
        let field = f
            .field
            .map(|x| format!(" [{}]", x.as_str()))
            .unwrap_or_default();
        writeln!(out, "  {:?}{field}: {}", f.code, f.message)?;
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

fn samples(out: &Path, count: usize, seed: u64, showcase: bool) -> Result<()> {
    let manifest = if showcase {
        intake_samples::showcase(out)
    } else {
        intake_samples::generate(out, count, seed)
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
