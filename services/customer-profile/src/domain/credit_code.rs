//! The unified social credit code (统一社会信用代码, GB 32100-2015): the one identifier every
//! registered company carries, and the surest key for spotting two cards of the same customer.
//!
//! A code is 18 characters from a 31-character set (no I, O, Z, S or V, which are too easily
//! misread): registration authority, institution category, six-digit administrative division,
//! nine-character organisation code, and a check character over the first 17.

use serde::{Deserialize, Serialize};

/// The characters a code may use; a character's value is its index here.
const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weight of each of the first 17 positions (3^i mod 31).
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Length of a code in characters.
const LENGTH: usize = 18;

/// Positions (0-based, end exclusive) of the administrative division code, which is all digits.
const DIVISION: std::ops::Range<usize> = 2..8;

/// A valid unified social credit code, upper-case, without spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CreditCode(String);

impl CreditCode {
    /// Parses after trimming, removing inner spaces and upper-casing. `Err(reason)` is a short
    /// lowercase English reason naming what is wrong: the length, a bad character at a position,
    /// or a wrong check character (with the character that was expected).
    pub fn parse(raw: &str) -> Result<CreditCode, String> {
        // People copy codes from licences and PDFs, which often split them into groups.
        let chars: Vec<char> = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if chars.len() != LENGTH {
            return Err(format!(
                "credit code must be {LENGTH} characters, got {}",
                chars.len()
            ));
        }
        let (body, last) = chars.split_at(LENGTH - 1);
        let expected = check_value(body)?;
        let given = last[0];
        if char_value(given).is_none() {
            return Err(bad_character(given, LENGTH));
        }
        let expected_char = char::from(CHARSET[expected]);
        if given != expected_char {
            return Err(format!(
                "wrong check character '{given}', expected '{expected_char}'"
            ));
        }
        Ok(CreditCode(chars.into_iter().collect()))
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The check character for the first 17 characters, or `None` if they are not valid (wrong
    /// length, a character outside the set, or a non-digit in the division code). The input is
    /// taken as is: upper-case, no spaces.
    pub fn check_char(first17: &str) -> Option<char> {
        let chars: Vec<char> = first17.chars().collect();
        if chars.len() != LENGTH - 1 {
            return None;
        }
        check_value(&chars)
            .ok()
            .map(|value| char::from(CHARSET[value]))
    }
}

impl std::fmt::Display for CreditCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The value of `c` in the code's character set.
fn char_value(c: char) -> Option<u32> {
    let byte = u8::try_from(c).ok()?;
    CHARSET
        .iter()
        .position(|&allowed| allowed == byte)
        .and_then(|index| u32::try_from(index).ok())
}

/// The check value (an index into [`CHARSET`]) of 17 characters, or why they are not valid.
fn check_value(body: &[char]) -> Result<usize, String> {
    let mut sum: u32 = 0;
    for (index, (&c, weight)) in body.iter().zip(WEIGHTS).enumerate() {
        let Some(value) = char_value(c) else {
            return Err(bad_character(c, index + 1));
        };
        if DIVISION.contains(&index) && !c.is_ascii_digit() {
            return Err(format!(
                "bad character '{c}' at position {}: positions 3-8 are the division code and must be digits",
                index + 1
            ));
        }
        sum += value * weight;
    }
    // 31 - (sum mod 31) lies in 1..=31; the value 31 stands for 0.
    let check = (31 - sum % 31) % 31;
    usize::try_from(check).map_err(|_| "check value out of range".to_owned())
}

/// The reason for a character outside the set at 1-based `position`.
fn bad_character(c: char, position: usize) -> String {
    let hint = if matches!(c, 'I' | 'O' | 'Z' | 'S' | 'V') {
        " (I, O, Z, S and V are never used)"
    } else {
        ""
    };
    format!("bad character '{c}' at position {position}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Codes printed on real business licences.
    const FUZHOU: &str = "91350100M000100Y43";
    const BEIJING: &str = "91110000802100433B";

    #[test]
    fn real_codes_are_accepted() {
        for code in [FUZHOU, BEIJING] {
            let parsed = CreditCode::parse(code);
            assert_eq!(parsed.as_ref().map(CreditCode::as_str), Ok(code));
        }
    }

    #[test]
    fn check_char_matches_real_codes() {
        assert_eq!(CreditCode::check_char(&FUZHOU[..17]), Some('3'));
        assert_eq!(CreditCode::check_char(&BEIJING[..17]), Some('B'));
    }

    #[test]
    fn check_char_is_none_for_invalid_input() {
        assert_eq!(CreditCode::check_char("9135010"), None);
        assert_eq!(CreditCode::check_char("91350100M000100YI"), None);
        assert_eq!(CreditCode::check_char("913A0100M000100Y4"), None);
        assert_eq!(CreditCode::check_char("91350100M000100Y43"), None);
    }

    #[test]
    fn a_wrong_check_character_is_rejected_naming_the_expected_one() {
        let error = CreditCode::parse("91350100M000100Y44").err();
        assert_eq!(
            error.as_deref(),
            Some("wrong check character '4', expected '3'")
        );
    }

    #[test]
    fn lowercase_and_spaced_input_is_accepted_and_normalised() {
        let parsed = CreditCode::parse("  91110000 802100 433b ");
        assert_eq!(parsed.as_ref().map(CreditCode::as_str), Ok(BEIJING));
        assert_eq!(parsed.map(|code| code.to_string()), Ok(BEIJING.to_owned()));
    }

    #[test]
    fn a_wrong_length_is_rejected() {
        let error = CreditCode::parse("91350100M000100Y4").err();
        assert_eq!(
            error.as_deref(),
            Some("credit code must be 18 characters, got 17")
        );
        assert!(CreditCode::parse("").is_err());
        assert!(CreditCode::parse("91350100M000100Y433").is_err());
    }

    #[test]
    fn the_letter_i_is_rejected_with_its_position() {
        let error = CreditCode::parse("91350100MI00100Y43")
            .err()
            .unwrap_or_default();
        assert!(error.contains("position 10"), "{error}");
        assert!(error.contains("'I'"), "{error}");
    }

    #[test]
    fn a_letter_in_the_division_code_is_rejected() {
        let error = CreditCode::parse("9135A100M000100Y43")
            .err()
            .unwrap_or_default();
        assert!(error.contains("position 5"), "{error}");
    }

    #[test]
    fn a_bad_check_character_is_reported_as_a_bad_character() {
        let error = CreditCode::parse("91350100M000100Y4O")
            .err()
            .unwrap_or_default();
        assert!(error.contains("position 18"), "{error}");
    }

    #[test]
    fn serde_is_a_plain_string() {
        let code = CreditCode::parse(FUZHOU).ok();
        let json = code
            .as_ref()
            .and_then(|code| serde_json::to_string(code).ok());
        assert_eq!(json.as_deref(), Some("\"91350100M000100Y43\""));
    }
}
