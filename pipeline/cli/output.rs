//! Everything the commands print, and only here (ripgrep's model: one
//! module decides what is printed): the verdicts of `intake check` for
//! people and as JSON Lines, the progress bars on stderr, each command's
//! lines, and the `intake: …` notes and errors on stderr. The other modules
//! of `cli/` hand over what happened; this one words it.

use super::check::FileError;
use super::{CheckArgs, Lang};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use intake::service::accounts::finding_label;
use intake::service::bench::BenchRun;
use intake::service::Submitted;
use intake_models::{Account, DocumentKind, JobState, Report, ReviewItem, VerdictEntry};
use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// One JSON object on a line of its own (JSON Lines).
pub fn json_line(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)
}

// `intake check`

/// The JSON line of a file that could not be checked.
#[derive(serde::Serialize)]
struct ErrorLine<'a> {
    file: &'a str,
    error: &'a FileError,
}

/// One file's line(s): its report, or its error.
pub fn print_checked(
    out: &mut impl Write,
    file: &str,
    result: &Result<Report, FileError>,
    args: &CheckArgs,
) -> std::io::Result<()> {
    match result {
        Ok(report) if args.json => json_line(out, report)?,
        Ok(report) => print_human(out, report, args.lang)?,
        Err(error) if args.json => json_line(out, &ErrorLine { file, error })?,
        Err(error) => writeln!(
            out,
            "{file}: not checked ({}): {}",
            error.code, error.message
        )?,
    }
    out.flush()
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

/// A progress bar on stderr when it is a terminal, else one that draws
/// nothing (pipes, logs and tests get only the results). Without a length,
/// a counter.
pub fn progress_bar(len: Option<u64>, what: &str) -> ProgressBar {
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

// Notes and errors on stderr

/// The error a command ended with, and its causes.
pub fn failure(e: &anyhow::Error) {
    eprintln!("intake: {e:#}");
}

/// The errors the pipeline's workers reported.
pub fn service_errors(errors: &[String]) {
    for e in errors {
        eprintln!("intake: {e}");
    }
}

pub fn unencrypted_store() {
    eprintln!("intake: warning: the store is not encrypted (no store.key_file or store.key_env)");
}

pub fn no_tokens() {
    eprintln!("intake: no [[server.tokens]] in the config: every API call will be refused (401)");
}

pub fn still_held() {
    eprintln!("intake: stopping with requests still holding the service");
}

// The service's commands

pub fn submitted(path: &Path, submitted: &Submitted) {
    match submitted {
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

pub fn profile_updated(
    rechecked: &[(DocumentKind, Submitted)],
    unchanged: &[DocumentKind],
    upload_missing: &[DocumentKind],
) {
    for (kind, submitted) in rechecked {
        match submitted {
            Submitted::New(job) => println!("{kind}: checked again as job {}", job.id),
            Submitted::Existing(job) => println!(
                "{kind}: already checked with this profile as job {}",
                job.id
            ),
        }
    }
    for kind in unchanged {
        println!("{kind}: profile unchanged");
    }
    for kind in upload_missing {
        println!("{kind}: the upload is no longer kept; upload the document again");
    }
}

pub fn following(sweep_interval_s: u64) {
    println!("pending jobs done; following (sweep every {sweep_interval_s} s)");
}

pub fn working(prefix: &str) {
    println!("working jobs from the work queue of JetStream store {prefix:?}");
}

pub fn verdicts_appended(written: u64) {
    println!("{written} verdicts appended to the queue");
}

pub fn status(out: &mut impl Write, account: &Account, json: bool) -> Result<()> {
    if json {
        json_line(out, account)?;
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

pub fn swept(statuses: usize, leases: usize) {
    println!("{statuses} account statuses changed, {leases} review leases ended");
}

pub fn purged(jobs: usize, retention_days: u64, orphans: usize) {
    println!(
        "{jobs} uploads deleted (jobs decided more than {retention_days} days ago); {orphans} upload files no job needed deleted"
    );
}

// The review queue

pub fn review_item(
    out: &mut impl Write,
    item: &ReviewItem,
    now: u64,
    json: bool,
) -> std::io::Result<()> {
    if json {
        return json_line(out, item);
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
    )
}

pub fn claimed(item: &ReviewItem, reviewer: &str) {
    let until = item.claim.as_ref().map_or(0, |c| c.until);
    println!(
        "job {} claimed by {reviewer} until {}",
        item.job,
        intake::clock::display_ms(until)
    );
}

pub fn released(job: &str, reviewer: &str) {
    println!("job {job} released by {reviewer}: back in the queue");
}

/// The verdict a resolution appended, and the status its account has now.
pub fn resolved(seq: u64, account: Option<&Account>) {
    let status = account.map_or_else(String::new, |a| {
        format!("; account {} is {}", a.id, a.status)
    });
    println!("verdict #{seq} appended{status}");
}

// The records: verdict queue, audit log, verification

pub fn verdict_entry(
    out: &mut impl Write,
    entry: &VerdictEntry,
    brief: bool,
) -> std::io::Result<()> {
    if !brief {
        return json_line(out, entry);
    }
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
    )
}

pub fn audit_chain_holds(entries: u64) {
    println!("the audit log's hash chain holds: {entries} entries");
}

pub fn account_differences(differences: &[String]) {
    for d in differences {
        println!("{d}");
    }
}

pub fn accounts_hold() {
    println!("every account status equals the one computed from the verdicts");
}

// Keys

pub fn key_written(path: &Path) {
    println!(
        "a new key is in {} (owner-only); keep it apart from the store",
        path.display()
    );
}

pub fn rekeyed(resealed: usize, new_key_file: &Path) {
    println!(
        "{resealed} records and uploads re-encrypted; now set store.key_file = {:?}",
        new_key_file.display().to_string()
    );
}

// Tools

/// One `--one-run`'s figures, for the bench that started it.
pub fn bench_run(run: &BenchRun) -> Result<()> {
    println!("{}", serde_json::to_string(run)?);
    Ok(())
}

pub fn bench_generating(distinct: usize, seed: u64) {
    eprintln!("bench: generating {distinct} documents (seed {seed})");
}

pub fn bench_starting(docs: usize, workers: usize, unit: &str) {
    eprintln!("bench: {docs} documents, {workers} {unit}");
}

pub fn bench_table(runs: &[BenchRun], unit: &str) {
    print!("{}", intake::service::bench::table(runs, unit));
}

pub fn atlas_written(path: &Path, width: u32, height: u32) {
    println!("wrote {} ({width}x{height} pixels)", path.display());
}

pub fn samples_written(files: usize, out: &Path) {
    println!(
        "wrote {files} files, their profiles and manifest.json to {}",
        out.display()
    );
}

pub fn openapi(document: &impl Display) {
    println!("{document:#}");
}
