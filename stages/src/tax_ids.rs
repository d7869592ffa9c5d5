//! The form's Russian numbers and their check digits: SNILS (the Pension
//! Fund's insurance number, `XXX-XXX-XXX YY`) and INN (the taxpayer number,
//! 10 digits for organisations, 12 for individuals).
//!
//! Rules as `shared/reference/anchors.md` §3.4 gives them (Pension Fund
//! instruction §8; the FNS check-digit algorithm).

/// The digits of `s` when it is only digits, spaces and hyphens; `None` otherwise.
fn digits(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(12);
    for c in s.trim().chars() {
        match c {
            '0'..='9' => out.push(c as u32 - '0' as u32),
            ' ' | '-' | '\u{00A0}' => {}
            _ => return None,
        }
    }
    Some(out)
}

/// The SNILS control number of the first nine digits: the weighted sum
/// (weights 9 down to 1) below 100 is the number itself; 100 and 101 give
/// 00; above 101 it is the sum modulo 101, a remainder of 100 giving 00.
pub fn snils_control(body: &[u32; 9]) -> u32 {
    let sum: u32 = body.iter().zip((1..=9).rev()).map(|(d, w)| d * w).sum();
    match sum {
        0..=99 => sum,
        100 | 101 => 0,
        _ => match sum % 101 {
            100 => 0,
            r => r,
        },
    }
}

/// Numbers up to 001-001-998 were issued before the check number and are not checked.
pub const SNILS_UNCHECKED_UP_TO: u32 = 1_001_998;

/// Whether `s` is a valid SNILS: 11 digits (written `XXX-XXX-XXX YY`, or
/// with other spaces and hyphens, or none) whose last two are the control
/// number of the first nine.
pub fn snils_valid(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    let Ok(all) = <[u32; 11]>::try_from(d) else {
        return false;
    };
    let mut body = [0; 9];
    body.copy_from_slice(&all[..9]);
    let number = body.iter().fold(0, |n, d| n * 10 + d);
    let control = all[9] * 10 + all[10];
    number <= SNILS_UNCHECKED_UP_TO || snils_control(&body) == control
}

const INN_10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN_11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN_12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

/// An INN check digit: the weighted sum modulo 11, then modulo 10.
fn inn_digit(digits: &[u32], weights: &[u32]) -> u32 {
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    sum % 11 % 10
}

/// Whether `s` is a valid INN: 10 digits with the tenth checked, or 12
/// with the eleventh and twelfth checked.
pub fn inn_valid(s: &str) -> bool {
    match digits(s).as_deref() {
        Some(d @ [_, _, _, _, _, _, _, _, _, _]) => inn_digit(&d[..9], &INN_10) == d[9],
        Some(d @ [_, _, _, _, _, _, _, _, _, _, _, _]) => {
            inn_digit(&d[..10], &INN_11) == d[10] && inn_digit(&d[..11], &INN_12) == d[11]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The worked example of the Pension Fund rule (anchors.md §3.4).
    const SNILS_PUBLISHED: [&str; 1] = ["112-233-445 95"];
    /// Published INNs of well-known organisations (Sberbank, Yandex) and the
    /// 12-digit example the check-digit write-ups use.
    const INN_PUBLISHED: [&str; 3] = ["7707083893", "7736207543", "500100732259"];

    /// Every string that differs from `s` in exactly one digit.
    fn single_digit_changes(s: &str) -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        let mut out = Vec::new();
        for (i, c) in chars.iter().enumerate() {
            let Some(d) = c.to_digit(10) else { continue };
            for other in (0..10).filter(|&o| o != d) {
                let mut changed = chars.clone();
                changed[i] = char::from_digit(other, 10).unwrap_or('0');
                out.push(changed.into_iter().collect());
            }
        }
        out
    }

    #[test]
    fn the_worked_snils_example_gives_95() {
        assert_eq!(snils_control(&[1, 1, 2, 2, 3, 3, 4, 4, 5]), 95);
    }

    #[test]
    fn published_examples_pass_and_every_single_digit_change_fails() {
        for s in SNILS_PUBLISHED {
            assert!(snils_valid(s), "{s}");
            for changed in single_digit_changes(s) {
                assert!(!snils_valid(&changed), "{s} changed to {changed} passes");
            }
        }
        for s in INN_PUBLISHED {
            assert!(inn_valid(s), "{s}");
            for changed in single_digit_changes(s) {
                assert!(!inn_valid(&changed), "{s} changed to {changed} passes");
            }
        }
    }

    #[test]
    fn written_forms_and_wrong_lengths() {
        assert!(snils_valid("11223344595"));
        assert!(snils_valid(" 112 233 445 95 "));
        for bad in [
            "112-233-445 9",
            "112-233-445 955",
            "112-233-445 9A",
            "",
            "SNILS",
        ] {
            assert!(!snils_valid(bad), "{bad:?}");
        }
        assert!(inn_valid("7707-083-893"));
        for bad in [
            "770708389",
            "77070838931",
            "7707083893x",
            "5001007322590",
            "",
        ] {
            assert!(!inn_valid(bad), "{bad:?}");
        }
    }

    fn snils_string(body: &[u32; 9], control: u32) -> String {
        let d: String = body.iter().map(|d| d.to_string()).collect();
        format!("{}-{}-{} {:02}", &d[0..3], &d[3..6], &d[6..9], control)
    }

    proptest! {
        /// Any valid SNILS (a checked number with its control number) fails
        /// when one digit changes, except where the rule itself cannot tell:
        /// the change lands in the unchecked numbers, or the two weighted sums
        /// leave remainders 0 and 100 modulo 101, which both give 00.
        #[test]
        fn a_changed_snils_digit_fails(body in proptest::array::uniform9(0u32..10), at in 0usize..11, by in 1u32..10) {
            let number = body.iter().fold(0, |n, d| n * 10 + d);
            prop_assume!(number > SNILS_UNCHECKED_UP_TO);
            let control = snils_control(&body);
            let valid = snils_string(&body, control);
            prop_assert!(snils_valid(&valid));
            let mut all: Vec<u32> = body.to_vec();
            all.extend([control / 10, control % 10]);
            all[at] = (all[at] + by) % 10;
            let mut changed_body = [0; 9];
            changed_body.copy_from_slice(&all[..9]);
            let changed = snils_string(&changed_body, all[9] * 10 + all[10]);
            let changed_number = changed_body.iter().fold(0, |n, d| n * 10 + d);
            let weighted = |b: &[u32; 9]| b.iter().zip((1..=9).rev()).map(|(d, w)| d * w).sum::<u32>() % 101;
            let ambiguous = [weighted(&body), weighted(&changed_body)];
            let explained = changed_number <= SNILS_UNCHECKED_UP_TO
                || (ambiguous.contains(&0) && ambiguous.contains(&100));
            prop_assert!(!snils_valid(&changed) || explained, "{valid} -> {changed}");
        }

        /// Any valid INN fails when one digit changes, except where both
        /// weighted sums of a check digit leave 0 and 10 modulo 11 (both give 0).
        #[test]
        fn a_changed_inn_digit_fails(body in proptest::collection::vec(0u32..10, 10), twelve in any::<bool>(), at in 0usize..12, by in 1u32..10) {
            let mut d: Vec<u32> = if twelve { body.clone() } else { body[..9].to_vec() };
            if twelve {
                d.push(inn_digit(&d, &INN_11));
                d.push(inn_digit(&d, &INN_12));
            } else {
                d.push(inn_digit(&d, &INN_10));
            }
            let text = |d: &[u32]| d.iter().map(|x| x.to_string()).collect::<String>();
            prop_assert!(inn_valid(&text(&d)));
            let at = at % d.len();
            let mut changed = d.clone();
            changed[at] = (changed[at] + by) % 10;
            let sums = |d: &[u32]| -> Vec<u32> {
                if d.len() == 10 {
                    vec![d[..9].iter().zip(&INN_10).map(|(a, w)| a * w).sum::<u32>() % 11]
                } else {
                    vec![
                        d[..10].iter().zip(&INN_11).map(|(a, w)| a * w).sum::<u32>() % 11,
                        d[..11].iter().zip(&INN_12).map(|(a, w)| a * w).sum::<u32>() % 11,
                    ]
                }
            };
            let explained = sums(&d)
                .iter()
                .zip(sums(&changed))
                .any(|(&a, b)| (a == 0 && b == 10) || (a == 10 && b == 0));
            prop_assert!(!inn_valid(&text(&changed)) || explained, "{} -> {}", text(&d), text(&changed));
        }
    }
}
