//! The `intake` binary's start-up: one OpenMP thread per Tesseract, the
//! PDF sandbox's child, logging; then the command line ([`cli::run`]).

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // One Tesseract per worker thread: OpenMP threads inside each would
    // oversubscribe the cores (8x slower measured). libgomp reads its
    // environment when the library loads, before main, so set it and start over.
    if std::env::var_os(OMP_THREAD_LIMIT).is_none() {
        return restart_with_one_omp_thread();
    }
    // The PDF sandbox re-executes this binary; it must not parse other arguments.
    if std::env::args().nth(1).as_deref() == Some(intake::runtime::sandbox::CHILD_ARG) {
        return intake::runtime::sandbox::child_main();
    }
    let cli = cli::Cli::parse();
    // RUST_LOG sets the level; by default the service says what it does and
    // the one-shot commands only warn.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.default_log_level()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    cli::run(cli)
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
    ExitCode::from(cli::FAILED)
}
