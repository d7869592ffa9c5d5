//! Civil dates as forms and MRZs write them.
//!
//! Forms use `DD.MM.YYYY`, ISO `YYYY-MM-DD` also occurs; the MRZ has
//! `YYMMDD`, whose century depends on what the date is (a birth date is
//! never in the future).

use std::fmt;

/// A validated Gregorian date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// How a declared date was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `YYYY-MM-DD`
    Iso,
    /// `DD.MM.YYYY`
    Dotted,
}

/// What an MRZ date is, which decides its century.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrzDateRole {
    Birth,
    Expiry,
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Parses exactly `n` ASCII digits.
fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl Date {
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        (day >= 1 && day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }

    pub fn year(self) -> i32 {
        self.year
    }
    pub fn month(self) -> u8 {
        self.month
    }
    pub fn day(self) -> u8 {
        self.day
    }

    /// `1990-01-31` or `31.01.1990` (surrounding spaces allowed), nothing else.
    pub fn parse(s: &str) -> Option<(Date, DateStyle)> {
        let s = s.trim();
        if let Some(date) = Date::parse_iso(s) {
            return Some((date, DateStyle::Iso));
        }
        let mut parts = s.split('.');
        let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let date = Date::new(
            digits(y, 4)? as i32,
            digits(m, 2)? as u8,
            digits(d, 2)? as u8,
        )?;
        Some((date, DateStyle::Dotted))
    }

    /// `YYYY-MM-DD` only.
    pub fn parse_iso(s: &str) -> Option<Date> {
        let mut parts = s.trim().split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Date::new(
            digits(y, 4)? as i32,
            digits(m, 2)? as u8,
            digits(d, 2)? as u8,
        )
    }

    /// An MRZ `YYMMDD`. Birth dates are never in the future: 20YY when that
    /// is not after `today`, else 19YY. Expiry dates are 20YY unless that is
    /// more than 50 years ahead (then 19YY: an old document).
    pub fn from_mrz(yymmdd: &str, role: MrzDateRole, today: Date) -> Option<Date> {
        if yymmdd.len() != 6 {
            return None;
        }
        let yy = digits(yymmdd.get(0..2)?, 2)? as i32;
        let mm = digits(yymmdd.get(2..4)?, 2)? as u8;
        let dd = digits(yymmdd.get(4..6)?, 2)? as u8;
        let modern = Date::new(2000 + yy, mm, dd);
        let old = Date::new(1900 + yy, mm, dd);
        match role {
            MrzDateRole::Birth => match modern {
                Some(d) if d <= today => Some(d),
                _ => old,
            },
            MrzDateRole::Expiry => match modern {
                Some(d) if d.year <= today.year + 50 => Some(d),
                _ => old,
            },
        }
    }

    /// `n` months later, the day clamped to the month's end (31 Jan + 1 = 28/29 Feb).
    pub fn add_months(self, n: u32) -> Date {
        let months = self.year as i64 * 12 + (self.month as i64 - 1) + n as i64;
        let year = (months.div_euclid(12)) as i32;
        let month = (months.rem_euclid(12) + 1) as u8;
        let day = self.day.min(days_in_month(year, month));
        Date { year, month, day }
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_unix_days(days: i64) -> Date {
        let (year, month, day) = intake_models::time::civil_from_unix_days(days);
        Date { year, month, day }
    }

    /// Days since 1970-01-01: the inverse of [`Date::from_unix_days`].
    pub fn to_unix_days(self) -> i64 {
        intake_models::time::unix_days_from_civil(self.year, self.month, self.day)
    }

    pub fn to_iso(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u8, day: u8) -> Date {
        Date::new(y, m, day).unwrap()
    }

    #[test]
    fn both_form_styles_parse_to_the_same_date() {
        assert_eq!(
            Date::parse("1990-01-31"),
            Some((d(1990, 1, 31), DateStyle::Iso))
        );
        assert_eq!(
            Date::parse(" 31.01.1990 "),
            Some((d(1990, 1, 31), DateStyle::Dotted))
        );
        for bad in [
            "31.02.2020",
            "2020-13-01",
            "1.1.1990",
            "1990/01/31",
            "",
            "31.01.1990.1",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert!(Date::parse("29.02.2024").is_some());
        assert!(Date::parse("29.02.2023").is_none());
    }

    #[test]
    fn mrz_centuries() {
        let today = d(2026, 6, 1);
        assert_eq!(
            Date::from_mrz("900131", MrzDateRole::Birth, today),
            Some(d(1990, 1, 31))
        );
        assert_eq!(
            Date::from_mrz("050131", MrzDateRole::Birth, today),
            Some(d(2005, 1, 31))
        );
        assert_eq!(
            Date::from_mrz("310502", MrzDateRole::Expiry, today),
            Some(d(2031, 5, 2))
        );
        assert_eq!(
            Date::from_mrz("120415", MrzDateRole::Expiry, today),
            Some(d(2012, 4, 15))
        );
        assert_eq!(Date::from_mrz("9913O1", MrzDateRole::Birth, today), None);
    }

    #[test]
    fn months_clamp_and_cross_years() {
        assert_eq!(d(2024, 1, 31).add_months(1), d(2024, 2, 29));
        assert_eq!(d(2026, 8, 31).add_months(6), d(2027, 2, 28));
        assert_eq!(d(2026, 6, 1).add_months(6), d(2026, 12, 1));
    }

    #[test]
    fn unix_days() {
        assert_eq!(Date::from_unix_days(0), d(1970, 1, 1));
        assert_eq!(Date::from_unix_days(20_454), d(2026, 1, 1));
        assert_eq!(Date::from_unix_days(11_016), d(2000, 2, 29));
        for days in [-800_000, -1, 0, 59, 11_016, 20_454, 2_932_896] {
            assert_eq!(Date::from_unix_days(days).to_unix_days(), days);
        }
    }
}
