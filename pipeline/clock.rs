//! The service's clock: the real one, or one started at a given date
//! (`--today`), so that deadlines and expiry can be exercised on demand.

use intake_stages::dates::Date;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use intake_models::time::MS_PER_DAY;

/// Unix milliseconds now, by the system clock.
pub fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where "now" comes from.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Unix ms at `started`; `None` follows the system clock.
    anchor_ms: Option<u64>,
    started: Instant,
}

impl Clock {
    pub fn system() -> Clock {
        Clock {
            anchor_ms: None,
            started: Instant::now(),
        }
    }

    /// A clock that reads midnight UTC of `date` now and runs on from there.
    pub fn starting_at(date: Date) -> Clock {
        Clock {
            anchor_ms: Some(date.to_unix_days().max(0) as u64 * MS_PER_DAY),
            started: Instant::now(),
        }
    }

    /// Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        match self.anchor_ms {
            Some(anchor) => anchor + self.started.elapsed().as_millis() as u64,
            None => system_ms(),
        }
    }

    /// The date now (UTC): the submission date of validity rules.
    pub fn today(&self) -> Date {
        date_of(self.now_ms())
    }
}

/// The UTC date of a Unix millisecond.
pub fn date_of(ms: u64) -> Date {
    Date::from_unix_days((ms / MS_PER_DAY) as i64)
}

/// A Unix millisecond as `YYYY-MM-DD HH:MM UTC`, for people.
pub fn display_ms(ms: u64) -> String {
    let minutes = ms / 60_000 % (24 * 60);
    format!(
        "{} {:02}:{:02} UTC",
        date_of(ms),
        minutes / 60,
        minutes % 60
    )
}
