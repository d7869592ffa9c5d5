//! The service's commands: `submit` and `profile` (uploads and declared
//! profiles in), `run` (the pipeline over pending jobs, or kept running),
//! `worker` (one of the processes working a shared store's queue),
//! `serve` (the server's assembly: tokens, webhooks, metrics, the pipeline
//! and the HTTP API in one process), `sweep`, `purge` and `status`.

use super::common::{open_intake, read_profile, Reader};
use super::{output, ServiceArgs, SubmitArgs};
use anyhow::{bail, Context, Result};
use intake_models::{DocumentKind, Upload};
use std::path::Path;

pub fn submit(args: SubmitArgs) -> Result<()> {
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
        output::submitted(path, &intake.submit(upload)?);
    }
    Ok(())
}

pub fn update_profile(service: &ServiceArgs, account: &str, path: &Path, by: String) -> Result<()> {
    let update = read_profile(path)?;
    let intake = open_intake(service)?;
    let outcome = intake.update_profile(account, &update, intake_models::Actor::Uploader(by))?;
    output::profile_updated(
        &outcome.rechecked,
        &outcome.unchanged,
        &outcome.upload_missing,
    );
    Ok(())
}

pub fn run(service: &ServiceArgs, follow: bool) -> Result<()> {
    let mut intake = open_intake(service)?;
    if follow {
        intake.start(Vec::new(), true)?;
        let errors = intake.wait_idle();
        output::service_errors(&errors);
        output::following(intake.config().accounts.sweep_interval_s);
        loop {
            std::thread::park();
        }
    }
    let written = intake.run_pending()?;
    output::verdicts_appended(written);
    Ok(())
}

pub fn worker(service: &ServiceArgs) -> Result<()> {
    let mut intake = open_intake(service)?;
    if !intake.shares_store() {
        bail!(
            "`intake worker` takes jobs from a shared store's work queue (store.backend = \"jetstream\"); \
             on sled, `intake serve` or `intake run --follow` works them"
        );
    }
    intake.start(Vec::new(), true)?;
    output::working(&intake.config().jetstream.prefix);
    loop {
        std::thread::park();
    }
}

pub fn serve(service: &ServiceArgs, listen: Option<String>, api_only: bool) -> Result<()> {
    let mut intake = open_intake(service)?;
    if api_only {
        intake.take_no_work()?;
    }
    let server = intake.config().server.clone();
    let max_upload = intake.config().limits.max_bytes;
    // Refused before anything starts: short, duplicate or malformed tokens.
    let tokens = intake::api::credentials(&server.tokens)?;
    if server.tokens.is_empty() {
        output::no_tokens();
    }
    let webhook = intake::service::notify::Webhook::from_config(&intake.config().webhooks)?;
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
        runtime.spawn(intake::service::notify::deliver(intake.clone(), webhook));
    }
    let listen = listen.unwrap_or(server.listen);
    runtime.block_on(intake::api::serve(state, &listen, limits))?;
    // The handlers are gone: finish the admitted jobs, then stop.
    drop(runtime);
    match std::sync::Arc::try_unwrap(intake) {
        Ok(mut intake) => {
            let (_, errors) = intake.stop();
            output::service_errors(&errors);
        }
        Err(_) => output::still_held(),
    }
    Ok(())
}

pub fn status(service: &ServiceArgs, account: &str, json: bool) -> Result<()> {
    let Some(account) = Reader::open(service)?.account(account)? else {
        bail!("no verdict for account {account:?} yet (nothing submitted, or not run)");
    };
    output::status(&mut std::io::stdout().lock(), &account, json)
}

pub fn sweep(service: &ServiceArgs) -> Result<()> {
    let intake = open_intake(service)?;
    let swept = intake.sweep()?;
    output::swept(swept.statuses, swept.leases);
    Ok(())
}

pub fn purge(service: &ServiceArgs) -> Result<()> {
    let intake = open_intake(service)?;
    let purged = intake.purge()?;
    output::purged(
        purged.jobs,
        intake.config().store.retention_days,
        purged.orphans,
    );
    Ok(())
}
