//! Prometheus metrics: verdict and reason-code counters, per-stage latency
//! histograms (fed by the pipeline's commit events) and queue depths (read
//! at scrape time).

use crate::workers::Committed;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in milliseconds.
const BUCKETS_MS: [f64; 13] = [
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
];

#[derive(Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS_MS.len()],
    sum_ms: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, ms: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(BUCKETS_MS) {
            if ms <= bound {
                *bucket += 1;
            }
        }
        self.sum_ms += ms;
        self.count += 1;
    }
}

#[derive(Default)]
struct Counts {
    verdicts: BTreeMap<&'static str, u64>,
    codes: BTreeMap<String, u64>,
    stages: BTreeMap<String, Histogram>,
    job_latency: Histogram,
}

/// The registry; cheap to update from the observer thread.
#[derive(Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

impl Metrics {
    pub fn record(&self, event: &Committed) {
        let Ok(mut c) = self.counts.lock() else {
            return;
        };
        *c.verdicts.entry(event.verdict.as_str()).or_default() += 1;
        for code in &event.codes {
            *c.codes.entry(code.clone()).or_default() += 1;
        }
        for (stage, ms) in &event.timings_ms {
            c.stages.entry(stage.clone()).or_default().observe(*ms);
        }
        c.job_latency.observe(event.latency.as_secs_f64() * 1000.0);
    }

    /// The Prometheus text exposition, with the gauges read now.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let Ok(c) = self.counts.lock() else {
            return out;
        };
        let _ = writeln!(
            out,
            "# HELP intake_verdicts_total Pipeline verdicts by verdict."
        );
        let _ = writeln!(out, "# TYPE intake_verdicts_total counter");
        for (verdict, n) in &c.verdicts {
            let _ = writeln!(out, "intake_verdicts_total{{verdict=\"{verdict}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP intake_findings_total Findings of pipeline verdicts by reason code."
        );
        let _ = writeln!(out, "# TYPE intake_findings_total counter");
        for (code, n) in &c.codes {
            let _ = writeln!(out, "intake_findings_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP intake_stage_duration_seconds Time per document in each stage (wait.* is time queued before it).");
        let _ = writeln!(out, "# TYPE intake_stage_duration_seconds histogram");
        for (stage, h) in &c.stages {
            histogram(
                &mut out,
                "intake_stage_duration_seconds",
                &format!("stage=\"{stage}\","),
                h,
            );
        }
        let _ = writeln!(
            out,
            "# HELP intake_job_duration_seconds From admission to the committed verdict."
        );
        let _ = writeln!(out, "# TYPE intake_job_duration_seconds histogram");
        histogram(&mut out, "intake_job_duration_seconds", "", &c.job_latency);
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    for (bound, n) in BUCKETS_MS.iter().zip(h.buckets) {
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}le=\"{}\"}} {n}",
            bound / 1000.0
        );
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", h.count);
    let labels = labels.trim_end_matches(',');
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {}", h.sum_ms / 1000.0);
    let _ = writeln!(out, "{name}_count{braces} {}", h.count);
}
