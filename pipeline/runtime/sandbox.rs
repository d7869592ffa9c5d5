//! PDF parsing in a resource-limited child process.
//!
//! lopdf has aborted on huge allocations and overflowed its stack on hostile
//! PDFs; neither unwinds, so no `catch_unwind` can contain them. The parent
//! re-executes its own binary as `intake __pdf-sandbox`, writes the PDF to
//! its stdin and reads the extracted image from its stdout. The child caps
//! its own address space, CPU time, file writes and core dumps before it
//! reads a byte; the parent caps wall-clock time and how much it reads back.
//! Whatever goes wrong in the child is `file_corrupt` for that one file.
//!
//! Protocol on the child's stdout: one JSON line (`Ok(PdfPages)` without its
//! data, or `Err(Finding)`), then the grey pixels of every page image. Pages
//! whose images we do not decode are drawn by `pdftoppm`, which the child
//! starts and which inherits the child's limits.

use intake_models::config::Limits;
use intake_models::{Finding, ReasonCode};
use intake_stages::decode::{extract_pdf, PdfExtractor, PdfPages};
use intake_stages::messages::finding;
use intake_stages::pdf::render::run_bounded;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The first argument that makes `intake` the sandbox child.
pub const CHILD_ARG: &str = "__pdf-sandbox";
/// The environment variable carrying the limits (JSON) to the child.
const LIMITS_ENV: &str = "INTAKE_PDF_LIMITS";

/// Extracts PDF images in a child process of `exe` (this binary by default).
pub struct SandboxedPdf {
    exe: Option<PathBuf>,
}

impl SandboxedPdf {
    pub fn new() -> SandboxedPdf {
        SandboxedPdf {
            exe: std::env::current_exe().ok(),
        }
    }

    pub fn with_exe(exe: PathBuf) -> SandboxedPdf {
        SandboxedPdf { exe: Some(exe) }
    }
}

impl Default for SandboxedPdf {
    fn default() -> Self {
        SandboxedPdf::new()
    }
}

impl PdfExtractor for SandboxedPdf {
    fn extract(&self, bytes: &[u8], limits: &Limits) -> Result<PdfPages, Finding> {
        let corrupt = || finding(ReasonCode::FileCorrupt, None);
        let exe = self.exe.as_ref().ok_or_else(corrupt)?;
        let limits_json = serde_json::to_string(limits).map_err(|_| corrupt())?;
        let child = Command::new(exe)
            .arg(CHILD_ARG)
            .env(LIMITS_ENV, limits_json)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|_| corrupt())?;

        // The grey pixels of every page: the job's budget (the child's).
        let cap = limits.max_job_pixels.saturating_add(1 << 20);
        let cap = cap.max(limits.max_bytes + (1 << 20));
        let deadline = Instant::now() + Duration::from_millis(limits.pdf_timeout_ms);
        let output = run_bounded(child, bytes.to_vec(), cap, deadline).ok_or_else(corrupt)?;
        read_result(&output)
    }
}

fn read_result(output: &[u8]) -> Result<PdfPages, Finding> {
    let corrupt = || finding(ReasonCode::FileCorrupt, None);
    let mut reader = BufReader::new(output);
    let mut header = String::new();
    reader.read_line(&mut header).map_err(|_| corrupt())?;
    let result: Result<PdfPages, Finding> = serde_json::from_str(&header).map_err(|_| corrupt())?;
    let mut pages = result?;
    reader.read_to_end(&mut pages.data).map_err(|_| corrupt())?;
    if !pages.consistent() {
        return Err(corrupt());
    }
    Ok(pages)
}

/// The child: limit itself, read the PDF from stdin, write the result.
pub fn child_main() -> ExitCode {
    let Some(limits) = std::env::var(LIMITS_ENV)
        .ok()
        .and_then(|json| serde_json::from_str::<Limits>(&json).ok())
    else {
        eprintln!("intake {CHILD_ARG}: internal use only (started by `intake check`)");
        return ExitCode::from(2);
    };
    limit_resources(&limits);
    let mut pdf = Vec::new();
    if std::io::stdin()
        .take(limits.max_bytes + 1)
        .read_to_end(&mut pdf)
        .is_err()
    {
        return ExitCode::from(3);
    }
    let result = extract_pdf(&pdf, &limits);
    let mut out = std::io::stdout().lock();
    let data = result.as_ref().map(|i| i.data.as_slice()).unwrap_or(&[]);
    let written = serde_json::to_writer(&mut out, &result)
        .ok()
        .and_then(|()| out.write_all(b"\n").ok())
        .and_then(|()| out.write_all(data).ok())
        .and_then(|()| out.flush().ok());
    match written {
        Some(()) => ExitCode::SUCCESS,
        None => ExitCode::from(3),
    }
}

/// Address space, CPU seconds, no files written, no core dumps.
fn limit_resources(limits: &Limits) {
    let cpu_seconds = limits.pdf_timeout_ms.div_ceil(1000).max(1);
    let caps = [
        (
            libc::RLIMIT_AS,
            limits.pdf_memory_mib.saturating_mul(1024 * 1024),
        ),
        (libc::RLIMIT_CPU, cpu_seconds),
        (libc::RLIMIT_FSIZE, 0),
        (libc::RLIMIT_CORE, 0),
    ];
    for (resource, value) in caps {
        let limit = libc::rlimit {
            rlim_cur: value as libc::rlim_t,
            rlim_max: value as libc::rlim_t,
        };
        // SAFETY: setrlimit reads a valid, initialised rlimit struct; it can
        // only lower this process's own limits.
        unsafe {
            libc::setrlimit(resource, &limit);
        }
    }
}
