//! Instants on the wire: kept as Unix milliseconds in memory (the clock,
//! leases and ages are arithmetic on them), written as RFC 3339 UTC
//! (`2026-06-01T03:00:00.000Z`) wherever they are serialised — the API, the
//! event stream, webhooks, `queue tail` and the store's records. Reading
//! takes either form, so records written before this was the rule still load.
//!
//! The civil calendar arithmetic (H. Hinnant's days-from-civil and its
//! inverse) lives here once; `intake_stages::dates::Date` uses it too.

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;

/// Milliseconds in a (UTC, leap-second-free) day.
pub const MS_PER_DAY: u64 = 86_400_000;

/// The civil date (year, month, day) `days` days after 1970-01-01.
pub fn civil_from_unix_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// Days since 1970-01-01 of a civil date: the inverse of [`civil_from_unix_days`].
pub fn unix_days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A Unix millisecond as RFC 3339 in UTC, to the millisecond.
pub fn rfc3339(ms: u64) -> String {
    let (year, month, day) = civil_from_unix_days((ms / MS_PER_DAY) as i64);
    let in_day = ms % MS_PER_DAY;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// An RFC 3339 date-time (`Z` or a `±HH:MM` offset, any fraction of a
/// second) as a Unix millisecond; `None` if it is not one or is before 1970.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // A leap second counts as the last millisecond-free second of its minute.
    let second = second.min(59);
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            sign * (hours * 60 + minutes)
        }
    };
    let days = unix_days_from_civil(year as i32, month as u8, day as u8);
    let ms = ((days * 24 + hour) * 60 + minute - offset_minutes) * 60_000 + second * 1000 + millis;
    u64::try_from(ms).ok()
}

/// `#[serde(with = "crate::time::rfc3339_ms")]` on a `u64` of Unix ms.
pub mod rfc3339_ms {
    use super::*;

    pub fn serialize<S: Serializer>(ms: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&rfc3339(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_any(Instant)
    }
}

/// `#[serde(with = "crate::time::rfc3339_ms_option")]` on an `Option<u64>` of Unix ms.
pub mod rfc3339_ms_option {
    use super::*;

    pub fn serialize<S: Serializer>(ms: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => serializer.serialize_str(&rfc3339(*ms)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        deserializer.deserialize_option(MaybeInstant)
    }
}

/// Reads an instant written either way: RFC 3339 text or Unix ms.
struct Instant;

impl Visitor<'_> for Instant {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an RFC 3339 date-time or Unix milliseconds")
    }

    fn visit_u64<E: de::Error>(self, ms: u64) -> Result<u64, E> {
        Ok(ms)
    }

    fn visit_i64<E: de::Error>(self, ms: i64) -> Result<u64, E> {
        u64::try_from(ms).map_err(|_| E::custom("an instant before 1970"))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
        parse_rfc3339(text)
            .ok_or_else(|| E::custom(format!("{text:?} is not an RFC 3339 date-time")))
    }
}

struct MaybeInstant;

impl<'de> Visitor<'de> for MaybeInstant {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an RFC 3339 date-time, Unix milliseconds or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<u64>, D::Error> {
        deserializer.deserialize_any(Instant).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_written_as_rfc3339_utc_and_read_back() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        // 2026-06-01 03:00:00.042 UTC
        let ms = 1_780_282_800_042;
        assert_eq!(rfc3339(ms), "2026-06-01T03:00:00.042Z");
        assert_eq!(parse_rfc3339("2026-06-01T03:00:00.042Z"), Some(ms));
        assert_eq!(parse_rfc3339("2026-06-01T06:00:00.042+03:00"), Some(ms));
        assert_eq!(parse_rfc3339("2026-06-01T03:00:00Z"), Some(ms - 42));
        assert_eq!(parse_rfc3339("2026-06-01T03:00:00.0429999Z"), Some(ms));
        for bad in [
            "",
            "2026-06-01",
            "2026-13-01T00:00:00Z",
            "2026-06-01T03:00:00",
            "1969-12-31T23:59:59Z",
            "2026-06-01T03:00:00.Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_calendar_round_trips() {
        for days in [-1_000_000, -1, 0, 1, 10_957, 20_605, 2_932_896] {
            let (y, m, d) = civil_from_unix_days(days);
            assert_eq!(unix_days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_unix_days(20_605), (2026, 6, 1));
    }

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Stamped {
        #[serde(with = "rfc3339_ms")]
        at: u64,
        #[serde(default, with = "rfc3339_ms_option")]
        done: Option<u64>,
    }

    #[test]
    fn records_written_as_unix_ms_still_read() {
        let old: Stamped = serde_json::from_str(r#"{"at": 1780282800042, "done": null}"#).unwrap();
        let new: Stamped = serde_json::from_str(
            r#"{"at": "2026-06-01T03:00:00.042Z", "done": "2026-06-01T03:00:00.042Z"}"#,
        )
        .unwrap();
        assert_eq!(old.at, new.at);
        assert_eq!(new.done, Some(new.at));
        assert_eq!(
            serde_json::to_string(&new).unwrap(),
            r#"{"at":"2026-06-01T03:00:00.042Z","done":"2026-06-01T03:00:00.042Z"}"#
        );
        let missing: Stamped = serde_json::from_str(r#"{"at": 0}"#).unwrap();
        assert_eq!(missing.done, None);
    }
}
