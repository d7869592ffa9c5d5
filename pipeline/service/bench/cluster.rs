//! `intake bench --backend jetstream`: the same documents through a
//! JetStream store of the bench's own (a local `nats-server -js`) worked
//! by `processes` `intake worker` processes, one decode and one read
//! thread each.
//!
//! This process only submits (keeping at most `in_flight` jobs per worker
//! process outstanding, as the sled bench's admission does) and reads the
//! verdict queue every few milliseconds: a document's latency is from its
//! submission to the poll that first sees its verdict (so it includes up
//! to one poll interval and the queue wait that sled's admission has too).
//! Stage times come from the reports; peak RSS is the largest worker's.

use super::{documents, BenchRun, Doc};
use crate::clock::Clock;
use crate::service::Intake;
use crate::store::jetstream::server::LocalServer;
use anyhow::{bail, Context, Result};
use intake_models::config::Backend;
use intake_models::{Config, JobId};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How often the verdict queue is read.
const POLL: Duration = Duration::from_millis(10);

/// Worker processes, killed when dropped (a failed run leaves none behind).
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the bench once with `processes` worker processes (the binary at
/// `intake`) on the first `docs` documents generated in `samples`.
pub fn run(
    config: &Config,
    samples: &Path,
    docs: usize,
    processes: usize,
    intake: &Path,
    verdicts: &dyn Fn(usize),
) -> Result<BenchRun> {
    let (documents, today) = documents(samples, docs)?;
    let server = LocalServer::start()?;
    let dir = tempfile::tempdir()?;
    let mut config = config.clone();
    config.store.backend = Backend::JetStream;
    config.store.path = dir.path().join("local");
    config.store.key_file = Some(dir.path().join("intake.key"));
    config.jetstream.url = server.url();
    config.jetstream.prefix = "bench".into();
    config.workers.decode_workers = 1;
    config.workers.read_workers = 1;
    crate::store::crypto::write_new_key(&dir.path().join("intake.key"))?;
    let config_path = dir.path().join("pipeline.toml");
    std::fs::write(&config_path, toml::to_string(&config)?)?;
    let submitter = Intake::open(config.clone(), Clock::starting_at(today))?;
    let workers = Workers(
        (0..processes.max(1))
            .map(|_| {
                Command::new(intake)
                    .arg("worker")
                    .arg("--config")
                    .arg(&config_path)
                    .args(["--today", &today.to_iso()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .context("cannot start an intake worker")
            })
            .collect::<Result<_>>()?,
    );
    let window = processes.max(1) * config.workers.in_flight.max(1);
    let measured = submit_and_wait(&submitter, &documents, window, verdicts)?;
    let peak_rss_mib = workers
        .0
        .iter()
        .filter_map(|w| peak_rss_mib(w.id()))
        .reduce(f64::max);
    drop(workers);
    let (seconds, latencies_ms, stage_ms) = measured;
    Ok(BenchRun {
        workers: processes,
        docs: documents.len(),
        seconds,
        latencies_ms,
        stage_ms,
        peak_rss_mib,
    })
}

type Measured = (f64, Vec<f64>, BTreeMap<String, f64>);

/// Submits `docs`, at most `window` without a verdict at a time, and reads
/// the verdict queue until every one has its verdict.
fn submit_and_wait(
    intake: &Intake,
    docs: &[Doc],
    window: usize,
    verdicts: &dyn Fn(usize),
) -> Result<Measured> {
    let started = Instant::now();
    let mut submitted: HashMap<JobId, Instant> = HashMap::new();
    let mut latencies_ms = Vec::with_capacity(docs.len());
    let mut stage_ms: BTreeMap<String, f64> = BTreeMap::new();
    let mut next_seq = 0;
    let mut pending = docs.iter().enumerate();
    let deadline = Duration::from_secs(60 + 30 * docs.len() as u64);
    while latencies_ms.len() < docs.len() {
        if started.elapsed() > deadline {
            bail!(
                "{} of {} verdicts after {:?}: are the workers running?",
                latencies_ms.len(),
                docs.len(),
                deadline
            );
        }
        while submitted.len() < window {
            let Some((i, doc)) = pending.next() else {
                break;
            };
            let job = intake.submit(doc.upload(i)?)?.job().id.clone();
            submitted.insert(job, Instant::now());
        }
        let batch = intake.verdicts(next_seq, 256)?;
        if batch.is_empty() {
            std::thread::sleep(POLL);
        }
        for entry in batch {
            next_seq = entry.seq + 1;
            let Some(at) = submitted.remove(&entry.job) else {
                continue;
            };
            latencies_ms.push(at.elapsed().as_secs_f64() * 1000.0);
            if let Some(report) = &entry.report {
                for (stage, ms) in &report.timings_ms {
                    *stage_ms.entry(stage.clone()).or_default() += ms / docs.len() as f64;
                }
            }
            verdicts(latencies_ms.len());
        }
    }
    Ok((started.elapsed().as_secs_f64(), latencies_ms, stage_ms))
}

/// The peak resident set of process `pid`, in MiB (Linux `VmHWM`).
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    super::vm_hwm_mib(&status)
}
