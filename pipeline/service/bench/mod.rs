//! `intake bench`: end-to-end throughput of the staged pipeline on
//! generated samples, with 1 and 2 workers per heavy stage (sled), or
//! with 1, 2, 4 worker processes on JetStream ([`cluster`]).
//!
//! Each run gets a fresh store, submits every document through
//! [`Intake::submit`] (retrying on `busy`, as an upload handler would) and
//! waits for the last verdict. Latency is from admission to the flushed
//! commit; stage times come from the reports; peak RSS is the process's
//! high-water mark, reset before each run.

pub mod cluster;

use crate::check::Checker;
use crate::clock::Clock;
use crate::runtime::workers::Committed;
use crate::service::{Intake, SubmitError};
use crate::store::SledStore;
use anyhow::{bail, Context, Result};
use intake_models::{Config, DocumentKind, Profile, Upload};
use intake_stages::dates::Date;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The figures of one run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BenchRun {
    pub workers: usize,
    pub docs: usize,
    pub seconds: f64,
    pub latencies_ms: Vec<f64>,
    /// Mean milliseconds per document in each stage (and wait).
    pub stage_ms: BTreeMap<String, f64>,
    pub peak_rss_mib: Option<f64>,
}

impl BenchRun {
    pub fn docs_per_second(&self) -> f64 {
        self.docs as f64 / self.seconds
    }

    /// The `p`-th percentile latency (nearest rank), in ms.
    pub fn latency(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted
            .get(rank.saturating_sub(1).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    }
}

/// One document to submit, read from disk only when submitted: the
/// backlog stays outside the process, as it would with upload handlers.
struct Doc {
    kind: DocumentKind,
    profile: Option<Profile>,
    file_name: String,
    path: std::path::PathBuf,
}

impl Doc {
    /// The upload of the `i`-th document: an account of its own, the bytes
    /// read now.
    fn upload(&self, i: usize) -> Result<Upload> {
        Ok(Upload {
            account: format!("bench-{i}"),
            kind: self.kind,
            profile: self.profile.clone(),
            file_name: self.file_name.clone(),
            bytes: std::fs::read(&self.path)?,
        })
    }
}

/// Generates `docs` documents (seed `seed`) with their manifest in `dir`.
pub fn generate(dir: &Path, docs: usize, seed: u64) -> Result<()> {
    intake_samples::generate(dir, docs, seed)
        .with_context(|| format!("cannot generate samples in {}", dir.display()))?;
    Ok(())
}

/// `docs` documents from the manifest in `dir`, in order and over again
/// if it holds fewer, and its date.
fn documents(dir: &Path, docs: usize) -> Result<(Vec<Doc>, Date)> {
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .with_context(|| format!("no manifest.json in {}", dir.display()))?;
    let manifest: serde_json::Value = serde_json::from_str(&text)?;
    let today = manifest["today"]
        .as_str()
        .and_then(Date::parse_iso)
        .context("the manifest's date")?;
    let entries = manifest["entries"]
        .as_array()
        .context("the manifest's entries")?;
    let scans: Vec<&serde_json::Value> = entries.iter().filter(|e| e["kind"].is_string()).collect();
    if scans.is_empty() {
        bail!("{} holds no documents", dir.display());
    }
    let mut out = Vec::with_capacity(docs);
    for entry in scans.iter().cycle().take(docs) {
        let file = entry["file"].as_str().context("an entry's file")?;
        let profile = match entry["profiles"][0]["file"].as_str() {
            Some(p) => Some(serde_json::from_slice(&std::fs::read(dir.join(p))?)?),
            None => None,
        };
        out.push(Doc {
            kind: serde_json::from_value(entry["kind"].clone())?,
            profile,
            file_name: file.to_string(),
            path: dir.join(file),
        });
    }
    if out.len() < docs {
        bail!(
            "{} holds {} documents, not {docs}",
            dir.display(),
            out.len()
        );
    }
    Ok((out, today))
}

/// Runs the bench once with `workers` per heavy stage (decode and read) on
/// the first `docs` documents generated in `samples`. Run each count in a
/// process of its own: peak RSS is the process's. `verdicts` is told how
/// many verdicts are committed so far (for a progress display).
pub fn run(
    config: &Config,
    samples: &Path,
    docs: usize,
    workers: usize,
    verdicts: &dyn Fn(usize),
) -> Result<BenchRun> {
    let (documents, today) = documents(samples, docs)?;
    run_once(config, &documents, today, workers, verdicts)
}

fn run_once(
    config: &Config,
    docs: &[Doc],
    today: Date,
    workers: usize,
    verdicts: &dyn Fn(usize),
) -> Result<BenchRun> {
    let dir = tempfile::tempdir()?;
    let mut config = config.clone();
    config.workers.decode_workers = workers;
    config.workers.read_workers = workers;
    // Encrypted at rest, as in service: a key for this run only.
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let sealer = crate::store::crypto::Sealer::with_key(&key);
    let store = SledStore::open_sealed(dir.path(), config.store.cache_capacity_bytes, sealer)?;
    let checker = Checker::new(
        config,
        Box::new(crate::runtime::sandbox::SandboxedPdf::new()),
    );
    let mut intake = Intake::new(Box::new(store), checker, Clock::starting_at(today));
    let (observer, committed) = crossbeam_channel::unbounded::<Committed>();
    reset_peak_rss();
    intake.start(vec![observer], false)?;
    let started = Instant::now();
    let mut events: Vec<Committed> = Vec::with_capacity(docs.len());
    let take_committed = |events: &mut Vec<Committed>, event: Committed| {
        events.push(event);
        verdicts(events.len());
    };
    for (i, doc) in docs.iter().enumerate() {
        let upload = doc.upload(i)?;
        loop {
            match intake.submit(upload.clone()) {
                Ok(_) => break,
                Err(SubmitError::Busy(_)) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(e.into()),
            }
        }
        for event in committed.try_iter() {
            take_committed(&mut events, event);
        }
    }
    // Verdicts as they come, until the last or until nothing is left in
    // flight (a job that failed has none).
    while events.len() < docs.len() {
        match committed.recv_timeout(Duration::from_millis(100)) {
            Ok(event) => take_committed(&mut events, event),
            Err(_) if intake.in_flight() == 0 => break,
            Err(_) => {}
        }
    }
    let errors = intake.wait_idle();
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_mib = peak_rss_mib();
    intake.stop();
    if let Some(e) = errors.first() {
        bail!("{} jobs failed, the first: {e}", errors.len());
    }
    events.extend(committed.try_iter());
    if events.len() != docs.len() {
        bail!("{} verdicts for {} documents", events.len(), docs.len());
    }
    let mut stage_ms: BTreeMap<String, f64> = BTreeMap::new();
    for event in &events {
        for (stage, ms) in &event.timings_ms {
            *stage_ms.entry(stage.clone()).or_default() += ms / events.len() as f64;
        }
    }
    Ok(BenchRun {
        workers,
        docs: docs.len(),
        seconds,
        latencies_ms: events
            .iter()
            .map(|e| e.latency.as_secs_f64() * 1000.0)
            .collect(),
        stage_ms,
        peak_rss_mib,
    })
}

/// Resets the kernel's peak-RSS mark of this process (Linux `clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident set since the last reset, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    vm_hwm_mib(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// The `VmHWM` line of a `/proc/PID/status`, in MiB.
fn vm_hwm_mib(status: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The runs as Markdown tables: totals, then mean time per stage; `unit`
/// says what a run's `workers` count ("workers per heavy stage", "worker
/// processes").
pub fn table(runs: &[BenchRun], unit: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!("| {unit} | documents | seconds | documents/s | p50 ms | p95 ms | p99 ms | peak RSS MiB |\n"));
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in runs {
        out.push_str(&format!(
            "| {} | {} | {:.1} | {:.2} | {:.0} | {:.0} | {:.0} | {} |\n",
            r.workers,
            r.docs,
            r.seconds,
            r.docs_per_second(),
            r.latency(50.0),
            r.latency(95.0),
            r.latency(99.0),
            r.peak_rss_mib.map_or("n/a".into(), |m| format!("{m:.0}")),
        ));
    }
    if let (Some(one), Some(best)) = (runs.first(), runs.last()) {
        if runs.len() > 1 {
            out.push_str(&format!(
                "\nthroughput with {} {unit}: {:.2}x that with {}\n",
                best.workers,
                best.docs_per_second() / one.docs_per_second(),
                one.workers
            ));
        }
    }
    let stages: std::collections::BTreeSet<&String> =
        runs.iter().flat_map(|r| r.stage_ms.keys()).collect();
    out.push_str(&format!("\n| mean ms per document, by {unit} |"));
    for r in runs {
        out.push_str(&format!(" {} |", r.workers));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(runs.len()));
    out.push('\n');
    for stage in stages {
        out.push_str(&format!("| {stage} |"));
        for r in runs {
            let ms = r.stage_ms.get(stage).copied().unwrap_or(0.0);
            out.push_str(&format!(" {ms:.1} |"));
        }
        out.push('\n');
    }
    out
}
