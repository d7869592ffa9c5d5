//! A minimal proleptic Gregorian calendar date: enough to add days, compare
//! and print the forms documents and profiles use.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The fixed submission date every generated validity is relative to; it is
/// recorded in the manifest and is what `intake check --today` must be given.
pub const TODAY: Date = Date {
    year: 2026,
    month: 6,
    day: 1,
};

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const MONTHS_RU: [&str; 12] = [
    "ЯНВ", "ФЕВ", "МАР", "АПР", "МАЙ", "ИЮН", "ИЮЛ", "АВГ", "СЕН", "ОКТ", "НОЯ", "ДЕК",
];

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn to_days(self) -> i64 {
        intake_models::time::unix_days_from_civil(self.year, self.month as u8, self.day as u8)
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days(days: i64) -> Date {
        let (year, month, day) = intake_models::time::civil_from_unix_days(days);
        Date {
            year,
            month: month.into(),
            day: day.into(),
        }
    }

    pub fn add_days(self, days: i64) -> Date {
        Date::from_days(self.to_days() + days)
    }

    /// The same day `years` later (28 February for 29 February in a common year).
    pub fn add_years(self, years: i32) -> Date {
        let year = self.year + years;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let day = if self.month == 2 && self.day == 29 && !leap {
            28
        } else {
            self.day
        };
        Date {
            year,
            month: self.month,
            day,
        }
    }

    /// The same day `months` later, clamped to the month's last day.
    pub fn add_months(self, months: i32) -> Date {
        let index = self.year * 12 + self.month as i32 - 1 + months;
        let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
        let mut date = Date {
            year,
            month,
            day: self.day,
        };
        while date.day > 28 && Date::from_days(date.to_days()).month != month {
            date.day -= 1;
        }
        date
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse_iso(text: &str) -> Option<Date> {
        let mut parts = text.splitn(3, '-').map(str::parse::<u32>);
        let (year, month, day) = (
            parts.next()?.ok()?,
            parts.next()?.ok()?,
            parts.next()?.ok()?,
        );
        let date = Date {
            year: year as i32,
            month,
            day,
        };
        (Date::from_days(date.to_days()) == date).then_some(date)
    }

    /// `YYYY-MM-DD`, the form of the JSON contract.
    pub fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `DD.MM.YYYY`, the form of Russian forms.
    pub fn dotted(self) -> String {
        format!("{:02}.{:02}.{:04}", self.day, self.month, self.year)
    }

    /// `YYMMDD`, the MRZ form.
    pub fn yymmdd(self) -> String {
        format!(
            "{:02}{:02}{:02}",
            self.year.rem_euclid(100),
            self.month,
            self.day
        )
    }

    /// `31 JAN 1990`, the usual visual-zone form of passports.
    pub fn spelled(self) -> String {
        self.spelled_in(&MONTHS)
    }

    /// `20 МАР 1995`, as Russian documents spell a month.
    pub fn spelled_ru(self) -> String {
        self.spelled_in(&MONTHS_RU)
    }

    fn spelled_in(self, months: &[&str; 12]) -> String {
        let month = months
            .get(self.month.saturating_sub(1) as usize)
            .copied()
            .unwrap_or("???");
        format!("{:02} {} {:04}", self.day, month, self.year)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_across_leap_years_and_centuries() {
        for days in (-50_000..50_000).step_by(37) {
            assert_eq!(Date::from_days(days).to_days(), days);
        }
        assert_eq!(Date::from_days(0).iso(), "1970-01-01");
        assert_eq!(TODAY.add_days(-1).iso(), "2026-05-31");
        assert_eq!(
            Date {
                year: 2024,
                month: 2,
                day: 29
            }
            .add_years(1)
            .iso(),
            "2025-02-28"
        );
    }

    #[test]
    fn formats() {
        let d = Date {
            year: 1990,
            month: 1,
            day: 31,
        };
        assert_eq!(d.dotted(), "31.01.1990");
        assert_eq!(d.yymmdd(), "900131");
        assert_eq!(d.spelled(), "31 JAN 1990");
    }
}
