//! Phone numbers, email addresses and postcodes of a card, each parsed into one normal form.
//!
//! Sales staff type numbers the way they see them on business cards (`(0571) 8812 3456`,
//! `+86 138-1234-5678`); storing one form lets the archive compare, search and mask them.

use serde::{Deserialize, Serialize};

/// Longest email address accepted (RFC 5321 path limit).
const MAX_EMAIL_LEN: usize = 254;

/// Longest telephone extension accepted.
const MAX_EXTENSION_DIGITS: usize = 6;

/// A Chinese telephone number in normal form: a mobile as 11 digits (`13812345678`), a landline
/// as `0XX-XXXXXXXX` or `0XXX-XXXXXXX` with an optional extension (`0571-88123456-123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Parses a mobile or landline number. Accepts a `+86`/`0086` prefix, spaces, dashes,
    /// parentheses around the area code, and an extension after `-` or `转`. `Err(reason)` is a
    /// short lowercase English reason.
    pub fn parse(raw: &str) -> Result<Phone, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("phone number is empty".to_owned());
        }
        let (main, explicit_extension) = match trimmed.split_once('转') {
            Some((main, extension)) => (main, Some(digits_only(extension)?)),
            None => (trimmed, None),
        };
        let (mut groups, international) = digit_groups(main)?;
        if international {
            strip_country_code(&mut groups)?;
        }
        let digits: String = groups.concat();
        if digits.is_empty() {
            return Err("phone number has no digits".to_owned());
        }
        if digits.starts_with('1') && !(international && digits.starts_with("10")) {
            if explicit_extension.is_some() {
                return Err("a mobile number has no extension".to_owned());
            }
            return parse_mobile(&digits).map(Phone);
        }
        // From abroad the trunk 0 of the area code is dropped: +86 571 8812 3456.
        let (digits, groups) = if international && !digits.starts_with('0') {
            let mut groups = groups;
            if let Some(first) = groups.first_mut() {
                first.insert(0, '0');
            }
            (format!("0{digits}"), groups)
        } else {
            (digits, groups)
        };
        if !digits.starts_with('0') {
            return Err(
                "phone number must be a mobile (1…) or a landline with its area code (0…)"
                    .to_owned(),
            );
        }
        parse_landline(&digits, &groups, explicit_extension).map(Phone)
    }

    /// The number in normal form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a mobile number.
    pub fn is_mobile(&self) -> bool {
        self.0.starts_with('1')
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits a number into runs of digits at separators; also says whether it began with `+`.
fn digit_groups(text: &str) -> Result<(Vec<String>, bool), String> {
    let mut groups: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut international = false;
    let mut seen_digit = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            current.push(c);
            seen_digit = true;
        } else if c == '+' && !seen_digit && !international {
            international = true;
        } else if c.is_whitespace() || matches!(c, '-' | '－' | '(' | ')' | '（' | '）') {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
        } else {
            return Err(format!("bad character '{c}' in phone number"));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    // `0086` is the same country prefix written without the plus sign.
    if !international
        && groups
            .first()
            .is_some_and(|first| first.starts_with("0086"))
    {
        if let Some(first) = groups.first_mut() {
            first.replace_range(..2, "");
        }
        international = true;
    }
    Ok((groups, international))
}

/// Removes the leading `86` of an international number.
fn strip_country_code(groups: &mut Vec<String>) -> Result<(), String> {
    match groups.first_mut() {
        Some(first) if first.starts_with("86") => {
            first.replace_range(..2, "");
            if first.is_empty() {
                groups.remove(0);
            }
            Ok(())
        }
        _ => Err("only chinese numbers (+86) are accepted".to_owned()),
    }
}

/// The digits of an extension, which must be all digits.
fn digits_only(text: &str) -> Result<String, String> {
    let extension = text.trim();
    if extension.is_empty() || !extension.chars().all(|c| c.is_ascii_digit()) {
        return Err("extension must be digits".to_owned());
    }
    if extension.len() > MAX_EXTENSION_DIGITS {
        return Err(format!(
            "extension must be at most {MAX_EXTENSION_DIGITS} digits"
        ));
    }
    Ok(extension.to_owned())
}

/// A mobile number: 11 digits, `1` then `3`–`9`.
fn parse_mobile(digits: &str) -> Result<String, String> {
    let second = digits.as_bytes().get(1).copied();
    if digits.len() != 11 || !matches!(second, Some(b'3'..=b'9')) {
        return Err("mobile number must be 11 digits starting 13-19".to_owned());
    }
    Ok(digits.to_owned())
}

/// A landline: area code, 7–8 digit local number, optional extension.
///
/// The area code's length follows the numbering plan rather than how it was typed: 010 and
/// 02X are the only three-digit codes, all others have four. This gives `02188123456` and
/// `021-8812 3456` the same normal form. Without `转`, an extension is recognised only as a
/// separate last group that starts where a 7- or 8-digit local number ends.
fn parse_landline(
    digits: &str,
    groups: &[String],
    explicit_extension: Option<String>,
) -> Result<String, String> {
    let area_len = match digits.as_bytes().get(1) {
        Some(b'1' | b'2') => 3,
        Some(b'3'..=b'9') => 4,
        _ => return Err("area code must be 0 and 2-3 digits".to_owned()),
    };
    if digits.len() <= area_len {
        return Err("landline has no local number".to_owned());
    }
    let local_ok = |len: usize| (7..=8).contains(&len);
    let last_start = digits.len() - groups.last().map_or(0, String::len);
    let (local_end, extension) = match explicit_extension {
        Some(extension) => (digits.len(), Some(extension)),
        None if groups.len() >= 2 && last_start > area_len && local_ok(last_start - area_len) => {
            let extension = &digits[last_start..];
            if extension.len() > MAX_EXTENSION_DIGITS {
                return Err(format!(
                    "extension must be at most {MAX_EXTENSION_DIGITS} digits"
                ));
            }
            (last_start, Some(extension.to_owned()))
        }
        None => (digits.len(), None),
    };
    let local = &digits[area_len..local_end];
    if !local_ok(local.len()) {
        return Err(format!(
            "local number must be 7 or 8 digits after area code {}, got {}",
            &digits[..area_len],
            local.len()
        ));
    }
    let mut normal = format!("{}-{local}", &digits[..area_len]);
    if let Some(extension) = extension {
        normal.push('-');
        normal.push_str(&extension);
    }
    Ok(normal)
}

/// An email address: one `@`, a non-empty local part, a dotted domain; the domain is stored
/// lower-cased (the local part is kept as typed, since mail servers may tell case apart).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses after trimming. `Err(reason)` is a short lowercase English reason.
    pub fn parse(raw: &str) -> Result<Email, String> {
        let email = raw.trim();
        if email.is_empty() {
            return Err("email is empty".to_owned());
        }
        if email.chars().count() > MAX_EMAIL_LEN {
            return Err(format!("email must be at most {MAX_EMAIL_LEN} characters"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("email must not contain spaces".to_owned());
        }
        let mut parts = email.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err("email must contain exactly one '@'".to_owned());
        };
        validate_local_part(local)?;
        validate_domain(domain)?;
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The address in normal form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The part before `@`: not empty, no characters that need quoting, no stray dots.
fn validate_local_part(local: &str) -> Result<(), String> {
    if local.is_empty() {
        return Err("email has nothing before '@'".to_owned());
    }
    if let Some(c) = local.chars().find(|c| {
        matches!(
            c,
            '(' | ')' | '<' | '>' | '[' | ']' | ',' | ';' | ':' | '\\' | '"'
        )
    }) {
        return Err(format!("bad character '{c}' in email"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("email has a misplaced '.' before '@'".to_owned());
    }
    Ok(())
}

/// The part after `@`: dot-separated labels of letters, digits and inner hyphens, at least two.
fn validate_domain(domain: &str) -> Result<(), String> {
    if !domain.contains('.') {
        return Err("email domain must contain a '.'".to_owned());
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err("email domain has an empty part".to_owned());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("email domain part must not start or end with '-'".to_owned());
        }
        if let Some(c) = label.chars().find(|&c| !(c.is_alphanumeric() || c == '-')) {
            return Err(format!("bad character '{c}' in email domain"));
        }
    }
    Ok(())
}

/// A Chinese postcode (邮政编码): exactly six digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Postcode(String);

impl Postcode {
    /// Parses after trimming. `Err(reason)` is a short lowercase English reason.
    pub fn parse(raw: &str) -> Result<Postcode, String> {
        let postcode = raw.trim();
        if postcode.len() != 6 || !postcode.chars().all(|c| c.is_ascii_digit()) {
            return Err("postcode must be six digits".to_owned());
        }
        Ok(Postcode(postcode.to_owned()))
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Postcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> Result<String, String> {
        Phone::parse(raw).map(|phone| phone.as_str().to_owned())
    }

    #[test]
    fn mobiles_are_stored_as_eleven_digits() {
        let expected = Ok("13812345678".to_owned());
        assert_eq!(phone("13812345678"), expected);
        assert_eq!(phone(" 138 1234 5678 "), expected);
        assert_eq!(phone("138-1234-5678"), expected);
        assert_eq!(phone("+86 138 1234 5678"), expected);
        assert_eq!(phone("+8613812345678"), expected);
        assert_eq!(phone("0086-13812345678"), expected);
        assert_eq!(phone("(+86) 13812345678"), expected);
    }

    #[test]
    fn mobiles_must_be_eleven_digits_starting_13_to_19() {
        assert!(phone("1381234567").is_err());
        assert!(phone("138123456789").is_err());
        assert!(phone("12812345678").is_err());
        assert!(phone("13812345678-12").is_err());
        assert!(phone("13812345678转12").is_err());
    }

    #[test]
    fn landlines_are_stored_with_a_dash_after_the_area_code() {
        let hangzhou = Ok("0571-88123456".to_owned());
        assert_eq!(phone("0571-88123456"), hangzhou);
        assert_eq!(phone("(0571) 8812 3456"), hangzhou);
        assert_eq!(phone("（0571）88123456"), hangzhou);
        assert_eq!(phone("057188123456"), hangzhou);
        assert_eq!(phone("+86 571 8812 3456"), hangzhou);
        assert_eq!(phone("0086 571 88123456"), hangzhou);
        assert_eq!(phone("+86 (0)571 88123456"), hangzhou);
        assert_eq!(phone("021 6888 1234"), Ok("021-68881234".to_owned()));
        assert_eq!(phone("02168881234"), Ok("021-68881234".to_owned()));
        assert_eq!(phone("+86 10 6552 9988"), Ok("010-65529988".to_owned()));
        assert_eq!(phone("0571-8812345"), Ok("0571-8812345".to_owned()));
    }

    #[test]
    fn landline_extensions_are_kept() {
        let expected = Ok("0571-88123456-123".to_owned());
        assert_eq!(phone("0571-88123456-123"), expected);
        assert_eq!(phone("(0571) 88123456 123"), expected);
        assert_eq!(phone("0571-88123456转123"), expected);
        assert_eq!(phone("0571-8812345-6"), Ok("0571-8812345-6".to_owned()));
    }

    #[test]
    fn bad_landlines_are_rejected() {
        assert!(phone("0571-881234").is_err());
        assert!(phone("0571-881234567").is_err());
        assert!(phone("0571-88123456-1234567").is_err());
        assert!(phone("0571-88123456转ab").is_err());
        assert!(phone("88123456").is_err());
        assert!(phone("+1 415 555 0100").is_err());
        assert!(phone("0571/88123456").is_err());
        assert!(phone("").is_err());
        assert!(phone(" - ").is_err());
    }

    #[test]
    fn phone_serde_is_a_plain_string() {
        let json = Phone::parse("13812345678")
            .ok()
            .and_then(|phone| serde_json::to_string(&phone).ok());
        assert_eq!(json.as_deref(), Some("\"13812345678\""));
    }

    fn email(raw: &str) -> Result<String, String> {
        Email::parse(raw).map(|email| email.to_string())
    }

    #[test]
    fn emails_keep_the_local_part_and_lowercase_the_domain() {
        assert_eq!(
            email(" Sales.Dept@HengYuan-Chem.com.CN "),
            Ok("Sales.Dept@hengyuan-chem.com.cn".to_owned())
        );
        assert_eq!(email("a+b@163.com"), Ok("a+b@163.com".to_owned()));
    }

    #[test]
    fn bad_emails_are_rejected() {
        for bad in [
            "",
            "sales",
            "sales@",
            "@example.com",
            "sales@example",
            "sales@@example.com",
            "sales@a@example.com",
            "sa les@example.com",
            "sales@exa mple.com",
            "sales@example..com",
            "sales@.example.com",
            "sales@-example.com",
            ".sales@example.com",
            "sa<les@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn postcodes_are_six_digits() {
        assert_eq!(
            Postcode::parse(" 310012 ").map(|p| p.as_str().to_owned()),
            Ok("310012".to_owned())
        );
        assert!(Postcode::parse("010010").is_ok());
        assert!(Postcode::parse("31001").is_err());
        assert!(Postcode::parse("3100120").is_err());
        assert!(Postcode::parse("31001a").is_err());
        assert!(Postcode::parse("310 012").is_err());
        assert!(Postcode::parse("３１００１２").is_err());
    }
}
