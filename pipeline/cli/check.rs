//! `intake check`: the files checked in parallel on a pool of
//! `workers.check_threads`, each printed as soon as those before it are,
//! and the error line of a file that could not be checked.

use super::common::{parse_today, read_profile};
use super::{output, CheckArgs};
use anyhow::{Context, Result};
use intake::config;
use intake::service::checks::{release_thread_engines, Checks};
use intake_models::{DocumentKind, Report};
use std::path::Path;

pub fn check(args: CheckArgs) -> Result<()> {
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
    let checks = Checks::new(config);
    let check_one = |path: &Path| -> Result<Report, FileError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(FileError::unreadable)?;
        // A panic is this file's internal error; the other files go on.
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            checks.file(&name, &bytes, kind, profile.as_ref(), today)
        }));
        match checked {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(FileError::internal(format!("OCR engine: {e}"))),
            Err(_) => Err(FileError::internal("the check stopped unexpectedly".into())),
        }
    };
    let progress = output::progress_bar(Some(args.files.len() as u64), "checked");
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
                let line =
                    progress.suspend(|| output::print_checked(&mut out, &file, &result, &args));
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
/// (exit code [`super::NOT_ALL_CHECKED`]).
#[derive(Debug, thiserror::Error)]
#[error("{not_checked} of {files} files could not be checked; their lines say why")]
pub struct NotAllChecked {
    not_checked: usize,
    files: usize,
}

/// Why one file of `intake check` has no verdict; its line says so:
/// `{"file": …, "error": {"code": …, "message": …}}`.
#[derive(Debug, serde::Serialize)]
pub struct FileError {
    /// `file_not_found`, `permission_denied`, `not_a_file`, `read_failed` or `internal`.
    pub code: &'static str,
    pub message: String,
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
