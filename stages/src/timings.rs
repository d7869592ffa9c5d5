//! Per-stage wall-clock times: what a report's `timings_ms` holds.

use std::collections::BTreeMap;
use std::time::Instant;

/// Milliseconds per stage name; a stage timed more than once adds up (the
/// MRZ read runs "ocr" and "parse" several times).
#[derive(Debug, Default)]
pub struct Timings(BTreeMap<String, f64>);

impl Timings {
    /// Runs `work`, adding its time to `stage`.
    pub fn time<T>(&mut self, stage: &str, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = work();
        *self.0.entry(stage.to_string()).or_default() += start.elapsed().as_secs_f64() * 1000.0;
        out
    }

    pub fn into_map(self) -> BTreeMap<String, f64> {
        self.0
    }
}
