//! The developer's tools: `bench` (the harness: samples generated once,
//! then one child process per worker count, `--one-run`, and the table; on
//! JetStream, worker processes per run),
//! `samples` (synthetic scans with ground truth), the OCR-B atlas of the
//! MRZ glyph classifier (`samples --ocrb-atlas`) and `openapi`.

use super::output;
use anyhow::{bail, Context, Result};
use intake::config;
use intake::service::bench::BenchRun;
use intake_models::config::Backend;
use std::path::Path;

const PER_STAGE: &str = "workers per heavy stage";
const PROCESSES: &str = "worker processes";

pub fn bench(
    (docs, distinct): (usize, usize),
    seed: u64,
    workers: &[usize],
    backend: Backend,
    config_path: Option<&Path>,
    one_run: Option<&Path>,
) -> Result<()> {
    if let Some(samples) = one_run {
        let config = config::load(config_path)?;
        let &[count] = workers else {
            bail!("--one-run takes one worker count");
        };
        let run = with_progress(docs, &format!("{count} {PER_STAGE}"), |verdicts| {
            intake::service::bench::run(&config, samples, docs, count, verdicts)
        })?;
        output::bench_run(&run)?;
        return Ok(());
    }
    let samples = tempfile::tempdir()?;
    output::bench_generating(distinct, seed);
    intake::service::bench::generate(samples.path(), distinct, seed)?;
    let exe = std::env::current_exe().context("cannot find the intake binary")?;
    let unit = match backend {
        Backend::Sled => PER_STAGE,
        Backend::JetStream => PROCESSES,
    };
    let config = config::load(config_path)?;
    let mut runs = Vec::new();
    for count in workers {
        output::bench_starting(docs, *count, unit);
        if backend == Backend::JetStream {
            // The worker processes are the runs' own: each is measured apart.
            runs.push(with_progress(
                docs,
                &format!("{count} {unit}"),
                |verdicts| {
                    let samples = samples.path();
                    intake::service::bench::cluster::run(
                        &config, samples, docs, *count, &exe, verdicts,
                    )
                },
            )?);
            continue;
        }
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
            bail!("the bench run with {count} {unit} failed");
        }
        runs.push(serde_json::from_slice(&out.stdout).context("the bench run's figures")?);
    }
    output::bench_table(&runs, unit);
    Ok(())
}

/// Runs `run` under a progress bar of the verdicts of `docs` documents,
/// labelled with its workers.
fn with_progress(
    docs: usize,
    workers: &str,
    run: impl FnOnce(&dyn Fn(usize)) -> Result<BenchRun>,
) -> Result<BenchRun> {
    let progress = output::progress_bar(Some(docs as u64), &format!("verdicts, {workers}"));
    let result = run(&|committed| progress.set_position(committed as u64));
    progress.finish_and_clear();
    result
}

/// Renders the glyph classifier's templates (see `intake_stages::ocr::glyphs`).
pub fn write_ocrb_atlas(path: &Path) -> Result<()> {
    use intake_stages::ocr::glyphs::{ALPHABET, CELL_HEIGHT, CELL_WIDTH};
    let fonts = intake_samples::render::Fonts::load()?;
    let atlas = intake_samples::render::ocrb_atlas(&fonts, ALPHABET, CELL_WIDTH, CELL_HEIGHT);
    atlas
        .save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", path.display()))?;
    output::atlas_written(path, atlas.width(), atlas.height());
    Ok(())
}

/// Which set `intake samples` writes.
pub enum SampleSet {
    Generated { count: usize, seed: u64 },
    Showcase,
    EveryKind { seed: u64 },
}

pub fn samples(out: &Path, set: SampleSet) -> Result<()> {
    let manifest = match set {
        SampleSet::Generated { count, seed } => intake_samples::generate(out, count, seed),
        SampleSet::Showcase => intake_samples::showcase(out),
        SampleSet::EveryKind { seed } => intake_samples::every_kind(out, seed),
    };
    let manifest =
        manifest.with_context(|| format!("cannot generate samples in {}", out.display()))?;
    output::samples_written(manifest.entries.len(), out);
    Ok(())
}

/// The HTTP API's OpenAPI document, as `intake serve` serves it.
pub fn openapi() -> Result<()> {
    output::openapi(intake::api::openapi::document());
    Ok(())
}
