//! Prometheus metrics through the `metrics` crate: the service records
//! where things happen (commits, reviewer decisions, requests), the
//! exporter's handle renders them for `GET /metrics`, and the queue gauges
//! and the process's own figures are read at scrape time.

use crate::service::{Committed, Intake, StoreError};
use axum::http::Method;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds of every histogram's buckets, in seconds: explicit buckets
/// make the exporter write histograms rather than summaries.
const BUCKETS_SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's recorder: the `metrics` macros reach one global recorder,
/// so a second service in the same process shares the first one's.
static INSTALLED: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// The exporter's handle, to render the recorded series.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// Installs the process's recorder on the first call; later calls get
    /// the same one. Fails only when another recorder holds the global slot.
    pub fn install() -> Result<Metrics, BuildError> {
        let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = installed.as_ref() {
            return Ok(Metrics {
                handle: handle.clone(),
            });
        }
        let handle = PrometheusBuilder::new()
            .set_buckets(&BUCKETS_SECONDS)?
            .install_recorder()?;
        describe();
        gauge!("intake_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        *installed = Some(handle.clone());
        Ok(Metrics { handle })
    }

    /// Counts a committed verdict and its findings, and times its stages.
    pub fn record(&self, event: &Committed) {
        counter!("intake_verdicts_total", "verdict" => event.verdict.as_str()).increment(1);
        for code in &event.codes {
            counter!("intake_findings_total", "code" => code.clone()).increment(1);
        }
        for (stage, ms) in &event.timings_ms {
            histogram!("intake_stage_duration_seconds", "stage" => stage.clone())
                .record(ms / 1000.0);
        }
        histogram!("intake_job_duration_seconds").record(event.latency.as_secs_f64());
    }

    /// The Prometheus text exposition, with the queue gauges and the
    /// process's figures read now.
    pub fn render(&self, intake: &Intake) -> Result<String, StoreError> {
        let review = intake.review_queue()?;
        let now_ms = intake.now_ms();
        let oldest_ms = review
            .iter()
            .map(|item| now_ms.saturating_sub(item.since))
            .max()
            .unwrap_or(0);
        gauge!("intake_jobs_pending").set(intake.jobs_pending()? as f64);
        gauge!("intake_jobs_in_flight").set(intake.in_flight() as f64);
        gauge!("intake_review_queue_depth").set(review.len() as f64);
        gauge!("intake_review_oldest_age_seconds").set(oldest_ms as f64 / 1000.0);
        let mut text = self.handle.render();
        if let Some(process) = read_process() {
            process.write(&mut text);
        }
        Ok(text)
    }

    /// Folds the histograms' recent samples into their buckets, so that
    /// memory stays bounded however rarely anyone scrapes.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// Records one answered request under its route template (never the raw
/// path: account and job ids are personal data).
pub fn record_request(method: &Method, route: &str, status: u16, elapsed: Duration) {
    // A client may send any token as a method: the label keeps to the known ones.
    let method = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
    ]
    .iter()
    .find(|known| *known == method)
    .map_or("other", |known| known.as_str());
    let route = route.to_string();
    counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(elapsed.as_secs_f64());
}

fn describe() {
    describe_counter!("intake_verdicts_total", "Pipeline verdicts by verdict.");
    describe_counter!(
        "intake_findings_total",
        "Findings of pipeline verdicts by reason code."
    );
    describe_histogram!(
        "intake_stage_duration_seconds",
        "Time per document in each stage (wait.* is time queued before it)."
    );
    describe_histogram!(
        "intake_job_duration_seconds",
        "From admission to the committed verdict."
    );
    describe_gauge!("intake_jobs_pending", "Jobs without a verdict.");
    describe_gauge!(
        "intake_jobs_in_flight",
        "Jobs admitted into the pipeline, not yet committed."
    );
    describe_gauge!(
        "intake_review_queue_depth",
        "Documents waiting for a reviewer."
    );
    describe_gauge!(
        "intake_review_oldest_age_seconds",
        "Age of the oldest document waiting for a reviewer's decision (0 when none waits)."
    );
    describe_counter!(
        "intake_review_decisions_total",
        "Reviewer decisions by decision."
    );
    describe_counter!(
        "intake_review_claims_total",
        "Review items claimed (a renewed lease counts again)."
    );
    describe_counter!(
        "intake_review_releases_total",
        "Review items given back before the lease ended."
    );
    describe_gauge!("intake_build_info", "The running build; always 1.");
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by method, route template and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        "Time to answer an HTTP request (for an event stream: to open it), by method and route template."
    );
}

/// The process's own figures, from /proc/self.
struct Process {
    resident_bytes: u64,
    cpu_seconds: f64,
    start_time_seconds: f64,
    threads: u64,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

fn read_process() -> Option<Process> {
    // SAFETY: sysconf only reads a system constant.
    let (page_bytes, ticks_per_second) = unsafe {
        (
            libc::sysconf(libc::_SC_PAGESIZE),
            libc::sysconf(libc::_SC_CLK_TCK),
        )
    };
    if page_bytes <= 0 || ticks_per_second <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces and parentheses: the fields follow its last ')'.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // Numbered as in proc(5), whose field 3 (the state) is fields[0].
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let ticks = ticks_per_second as f64;
    let boot_seconds = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Process {
        resident_bytes: field(24)? * page_bytes as u64,
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        start_time_seconds: boot_seconds as f64 + field(22)? as f64 / ticks,
        threads: field(20)?,
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as u64),
        max_fds: max_open_files(),
    })
}

/// The soft limit on open files, from /proc/self/limits.
fn max_open_files() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Process {
    /// Written by hand: CPU seconds are a float counter, which the
    /// `metrics` crate's integer counters cannot carry.
    fn write(&self, out: &mut String) {
        let mut series = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}\n");
        };
        series(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            self.resident_bytes.to_string(),
        );
        series(
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent in seconds.",
            self.cpu_seconds.to_string(),
        );
        series(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch in seconds.",
            self.start_time_seconds.to_string(),
        );
        series(
            "process_threads",
            "gauge",
            "Number of OS threads in the process.",
            self.threads.to_string(),
        );
        if let Some(open) = self.open_fds {
            series(
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
                open.to_string(),
            );
        }
        if let Some(max) = self.max_fds {
            series(
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                max.to_string(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_service_in_the_process_shares_the_recorder() {
        let first = Metrics::install().expect("the first install");
        let second = Metrics::install().expect("a second install, no panic");
        let extension = Method::from_bytes(b"BREW").expect("a method token");
        record_request(&extension, "unmatched", 405, Duration::from_millis(3));
        for metrics in [&first, &second] {
            let text = metrics.handle.render();
            // Any method outside the standard ones is one label value.
            assert!(
                text.contains(
                    r#"http_requests_total{method="other",route="unmatched",status="405"} 1"#
                ),
                "{text}"
            );
            assert!(text.contains(r#"intake_build_info{version=""#), "{text}");
        }
    }

    #[test]
    fn the_process_figures_are_read_from_proc() {
        let process = read_process().expect("/proc/self");
        assert!(process.resident_bytes > 0);
        assert!(process.threads >= 1);
        let open = process.open_fds.expect("/proc/self/fd");
        assert!(open >= 3 && process.max_fds.is_none_or(|max| max >= open));
        let now = crate::clock::system_ms() as f64 / 1000.0;
        assert!(process.start_time_seconds > 1.0e9 && process.start_time_seconds <= now + 1.0);
    }
}
