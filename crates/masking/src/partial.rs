//! The partial forms (`dossier.common.v1.MaskStyle`): pure functions from a full value to the
//! part a caller with `Access::Partial` may see.
//!
//! Shared rules:
//! - a value of at most four characters is fully masked ([`FULL_MASK`]): there is no part of it
//!   worth keeping that would not give the rest away;
//! - a value too short for its form to hide anything substantial is fully masked as well
//!   (each function says when);
//! - hidden runs are written as a fixed `****` where the form allows it, so the length of the
//!   hidden part is not revealed either. The credit code is the exception: its length is fixed by
//!   the standard (18), so the spec's "middle hidden" form keeps one `*` per hidden character;
//! - every form is a fixed point: a value already in its partial form is returned unchanged, so
//!   masking an already masked message (a replayed event, a re-exported sheet) changes nothing.

use dossier_proto::sensitivity::MaskStyle;

/// What a fully masked value reads.
pub const FULL_MASK: &str = "****";

/// Applies a mask style. `MaskStyle::Unspecified` has no partial form and yields `None`: the
/// caller clears the field instead.
pub fn apply(style: MaskStyle, value: &str) -> Option<String> {
    match style {
        MaskStyle::Unspecified => None,
        MaskStyle::Phone => Some(phone(value)),
        MaskStyle::CreditCode => Some(credit_code(value)),
        MaskStyle::Address => Some(address(value)),
        MaskStyle::BankAccount => Some(bank_account(value)),
        MaskStyle::Email => Some(email(value)),
    }
}

fn too_short(value: &str) -> bool {
    value.chars().count() <= 4
}

/// Whether `value` has exactly the shape `shape`, where `#` stands for an ASCII digit, `?` for an
/// ASCII letter or digit and every other character for itself. Used to recognise a value that is
/// already in its partial form; no real phone number or account contains `*`.
fn shaped(value: &str, shape: &str) -> bool {
    value.len() == shape.len()
        && value.bytes().zip(shape.bytes()).all(|(v, s)| match s {
            b'#' => v.is_ascii_digit(),
            b'?' => v.is_ascii_alphanumeric(),
            _ => v == s,
        })
}

/// A phone number keeps its first three and last four digits, with `****` between:
/// `13812345678` → `138****5678`, `0571-88123456` → `057****3456`. Separators are dropped.
/// An international `+86` / `0086` prefix is kept as `+86 ` so the rest reads like a domestic
/// number. A local number of 8–9 digits (no area code) keeps only its last four: `****3456`;
/// fewer than 8 digits are fully masked, as keeping 3 + 4 of them would hide almost nothing.
pub fn phone(value: &str) -> String {
    const FORMS: [&str; 4] = ["###****####", "+86 ###****####", "****####", "+86 ****####"];
    if FORMS.iter().any(|form| shaped(value, form)) {
        return value.to_owned();
    }
    if too_short(value) {
        return FULL_MASK.to_owned();
    }
    let trimmed = value.trim_start();
    let (prefix, rest) = if let Some(rest) = trimmed.strip_prefix("+86") {
        ("+86 ", rest)
    } else if let Some(rest) = trimmed.strip_prefix("0086") {
        ("+86 ", rest)
    } else {
        ("", trimmed)
    };
    let digits = || rest.chars().filter(char::is_ascii_digit);
    let n = digits().count();
    let keep_head = match n {
        10.. => 3,
        8..=9 => 0,
        _ => return FULL_MASK.to_owned(),
    };
    let mut out = String::with_capacity(prefix.len() + 11);
    out.push_str(prefix);
    out.extend(digits().take(keep_head));
    out.push_str(FULL_MASK);
    out.extend(digits().skip(n - 4));
    out
}

/// A unified social credit code keeps its first two characters (registration authority and
/// entity type) and its last four, every other character replaced by `*`:
/// `91330100MA2B3C4D5N` → `91************4D5N`. Fewer than 10 characters would keep more than they
/// hide and are fully masked.
pub fn credit_code(value: &str) -> String {
    let value = value.trim();
    let n = value.chars().count();
    if n < 10 {
        return FULL_MASK.to_owned();
    }
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if i < 2 || i >= n - 4 { c } else { '*' })
        .collect()
}

/// Characters that end an administrative unit above the district: province (省), autonomous
/// region (自治区) and SAR (特别行政区) end in 区 too and are told apart below.
const ABOVE_DISTRICT: &[char] = &['省', '市', '州', '盟'];
/// Characters that end a district-level unit: district (区), county (县), banner (旗).
const DISTRICT: &[char] = &['区', '县', '旗'];
/// Characters that only occur below the district (street, number, village, building...): a unit
/// containing one is not administrative, and the scan stops before it.
const BELOW_DISTRICT: &[char] = &[
    '路', '街', '道', '号', '巷', '弄', '村', '镇', '乡', '幢', '栋', '楼', '室', '座',
];
/// Places that end in 区 but lie below the district (compound, community, campus, plant,
/// scenic area, park): reaching one ends the scan.
const NOT_DISTRICT: &[&str] = &["小区", "社区", "校区", "厂区", "景区", "园区", "营区"];
/// Longest administrative unit name considered, in characters (克孜勒苏柯尔克孜自治州 is 11).
const MAX_UNIT: usize = 12;

/// An address keeps its administrative part down to the district, then `****`:
/// `浙江省杭州市西湖区文三路90号` → `浙江省杭州市西湖区****`. The address is read unit by unit
/// (province 省/自治区/特别行政区, city 市/州/盟/地区, district 区/县/旗). A unit that contains a
/// digit, a Latin letter or a street, number, village or building character (路, 号, 村, 楼, ...)
/// ends the scan, and so does a place ending in 区 below the district (小区, 社区, 园区, ...), so
/// a residential compound (阳光小区) is never mistaken for a district. Without a district the
/// address is cut after the last city or province found: `浙江省义乌市稠城街道` → `浙江省义乌市****`.
/// An address with no administrative part at all is fully masked: its first characters would be
/// the street (so the "first six characters" fallback is deliberately not used).
pub fn address(value: &str) -> String {
    if too_short(value) {
        return FULL_MASK.to_owned();
    }
    let chars: Vec<char> = value.trim().chars().collect();
    let mut kept = 0; // characters of `chars` that are kept
    let mut start = 0; // start of the unit being read
    'units: while start < chars.len() {
        let window = &chars[start..chars.len().min(start + MAX_UNIT)];
        for (offset, c) in window.iter().enumerate() {
            if c.is_numeric() || c.is_ascii_alphabetic() || BELOW_DISTRICT.contains(c) {
                break 'units;
            }
            let end = start + offset + 1;
            let unit = &chars[start..end];
            if DISTRICT.contains(c) {
                if *c == '区' && (ends_with(unit, "自治区") || ends_with(unit, "行政区")) {
                    // Province level: keep it and read on for the district.
                    kept = end;
                    start = end;
                    continue 'units;
                }
                if *c == '区' && ends_with(unit, "地区") {
                    // Prefecture level (阿克苏地区): the district is still ahead.
                    kept = end;
                    start = end;
                    continue 'units;
                }
                if NOT_DISTRICT.iter().any(|suffix| ends_with(unit, suffix)) {
                    break 'units;
                }
                kept = end;
                break 'units;
            }
            if ABOVE_DISTRICT.contains(c) {
                kept = end;
                start = end;
                continue 'units;
            }
        }
        // No administrative ending within reach: the rest is not an administrative unit.
        break;
    }
    if kept == 0 {
        return FULL_MASK.to_owned();
    }
    let mut out: String = chars[..kept].iter().collect();
    out.push_str(FULL_MASK);
    out
}

fn ends_with(unit: &[char], suffix: &str) -> bool {
    let suffix: Vec<char> = suffix.chars().collect();
    unit.ends_with(&suffix)
}

/// A bank account keeps its last four digits in a fixed-width form, `**** **** 1234`, whatever
/// its length (so the length is not revealed). Spaces and dashes are ignored when reading the
/// digits; fewer than 8 significant characters are fully masked.
pub fn bank_account(value: &str) -> String {
    if shaped(value, "**** **** ????") {
        return value.to_owned();
    }
    let significant = || value.chars().filter(char::is_ascii_alphanumeric);
    let n = significant().count();
    if too_short(value) || n < 8 {
        return FULL_MASK.to_owned();
    }
    let mut out = String::with_capacity(14);
    out.push_str("**** **** ");
    out.extend(significant().skip(n - 4));
    out
}

/// An email address keeps the first character of its local part and its domain:
/// `zhang.san@example.com` → `z***@example.com`. Without a local part or a domain the value is
/// not an address and is fully masked.
pub fn email(value: &str) -> String {
    let value = value.trim();
    if too_short(value) {
        return FULL_MASK.to_owned();
    }
    match value.rsplit_once('@') {
        Some((local, domain)) if !domain.is_empty() => match local.chars().next() {
            Some(first) => format!("{first}***@{domain}"),
            None => FULL_MASK.to_owned(),
        },
        _ => FULL_MASK.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_keeps_first_three_and_last_four() {
        assert_eq!(phone("13812345678"), "138****5678");
        assert_eq!(phone("138 1234 5678"), "138****5678");
        assert_eq!(phone("138-1234-5678"), "138****5678");
    }

    #[test]
    fn landline_keeps_first_three_and_last_four_digits() {
        assert_eq!(phone("0571-88123456"), "057****3456");
        assert_eq!(phone("(010) 6512 3456"), "010****3456");
    }

    #[test]
    fn international_prefix_is_kept_apart() {
        assert_eq!(phone("+86 138 1234 5678"), "+86 138****5678");
        assert_eq!(phone("008613812345678"), "+86 138****5678");
    }

    #[test]
    fn short_phones_hide_more() {
        assert_eq!(phone("88123456"), "****3456");
        assert_eq!(phone("8812345"), FULL_MASK);
        assert_eq!(phone("110"), FULL_MASK);
        assert_eq!(phone("1234"), FULL_MASK);
        assert_eq!(phone("no digits here"), FULL_MASK);
    }

    #[test]
    fn credit_code_keeps_two_and_four() {
        assert_eq!(credit_code("91330100MA2B3C4D5N"), "91************4D5N");
        assert_eq!(credit_code("91330100MA2B3C4D5N").chars().count(), 18);
        assert_eq!(credit_code("ABCDEFGHIJ"), "AB****GHIJ");
        assert_eq!(credit_code("ABCDEFGHI"), FULL_MASK);
        assert_eq!(credit_code("9133"), FULL_MASK);
    }

    #[test]
    fn address_keeps_down_to_the_district() {
        assert_eq!(
            address("浙江省杭州市西湖区文三路90号"),
            "浙江省杭州市西湖区****"
        );
        assert_eq!(address("上海市浦东新区世纪大道100号"), "上海市浦东新区****");
        assert_eq!(address("北京市朝阳区建国路88号"), "北京市朝阳区****");
        assert_eq!(address("浙江省桐庐县城南街道"), "浙江省桐庐县****");
        assert_eq!(address("西湖区文三路90号"), "西湖区****");
    }

    #[test]
    fn address_reads_past_autonomous_regions_and_prefectures() {
        assert_eq!(
            address("新疆维吾尔自治区乌鲁木齐市天山区解放北路1号"),
            "新疆维吾尔自治区乌鲁木齐市天山区****"
        );
        assert_eq!(
            address("内蒙古自治区鄂尔多斯市伊金霍洛旗阿勒腾席热镇"),
            "内蒙古自治区鄂尔多斯市伊金霍洛旗****"
        );
        assert_eq!(
            address("新疆阿克苏地区库车县人民路"),
            "新疆阿克苏地区库车县****"
        );
        assert_eq!(
            address("香港特别行政区中西区皇后大道中1号"),
            "香港特别行政区中西区****"
        );
    }

    #[test]
    fn address_without_district_stops_at_the_city() {
        assert_eq!(address("浙江省义乌市稠城街道"), "浙江省义乌市****");
        // A residential compound (小区) is not a district.
        assert_eq!(address("浙江省杭州市阳光小区3幢"), "浙江省杭州市****");
        assert_eq!(address("浙江省杭州市阳光小区"), "浙江省杭州市****");
        // ... but a district whose name starts with 小 is.
        assert_eq!(
            address("山西省太原市小店区坞城路"),
            "山西省太原市小店区****"
        );
        // A street that happens to contain 市 is not a city.
        assert_eq!(address("杭州市文三路市场12号"), "杭州市****");
    }

    #[test]
    fn address_without_administrative_part_is_fully_masked() {
        assert_eq!(address("文三路90号华星大厦"), FULL_MASK);
        assert_eq!(address("12 Main Street, Springfield"), FULL_MASK);
        assert_eq!(address("杭州"), FULL_MASK);
    }

    #[test]
    fn bank_account_keeps_last_four() {
        assert_eq!(bank_account("6222021234567890123"), "**** **** 0123");
        assert_eq!(bank_account("6222 0212 3456 7890"), "**** **** 7890");
        assert_eq!(bank_account("1234567"), FULL_MASK);
        assert_eq!(bank_account("1234"), FULL_MASK);
    }

    #[test]
    fn email_keeps_first_character_and_domain() {
        assert_eq!(email("zhang.san@example.com"), "z***@example.com");
        assert_eq!(email("li@acme.cn"), "l***@acme.cn");
        assert_eq!(email("@example.com"), FULL_MASK);
        assert_eq!(email("not-an-address"), FULL_MASK);
        assert_eq!(email("a@b"), FULL_MASK);
    }

    #[test]
    fn apply_dispatches_and_unspecified_has_no_form() {
        assert_eq!(apply(MaskStyle::Unspecified, "13812345678"), None);
        assert_eq!(
            apply(MaskStyle::Phone, "13812345678").as_deref(),
            Some("138****5678")
        );
        assert_eq!(
            apply(MaskStyle::Email, "zhang@x.cn").as_deref(),
            Some("z***@x.cn")
        );
    }

    #[test]
    fn partial_forms_are_fixed_points() {
        let samples = [
            (MaskStyle::Phone, "13812345678"),
            (MaskStyle::Phone, "+86 138 1234 5678"),
            (MaskStyle::Phone, "88123456"),
            (MaskStyle::Phone, "110"),
            (MaskStyle::CreditCode, "91330100MA2B3C4D5N"),
            (MaskStyle::Address, "浙江省杭州市西湖区文三路90号"),
            (MaskStyle::Address, "新疆阿克苏地区库车县人民路"),
            (MaskStyle::BankAccount, "6222021234567890123"),
            (MaskStyle::Email, "zhang.san@example.com"),
        ];
        for (style, value) in samples {
            let once = apply(style, value).unwrap_or_default();
            let twice = apply(style, &once).unwrap_or_default();
            assert_eq!(once, twice, "{style:?} {value}");
        }
    }

    #[test]
    fn a_star_in_a_real_value_does_not_pass_as_masked() {
        assert_eq!(phone("138*1234*5678"), "138****5678");
        assert_eq!(bank_account("6222*0212*3456*7890"), "**** **** 7890");
    }

    #[test]
    fn partial_forms_never_contain_the_full_value() {
        let samples = [
            (MaskStyle::Phone, "13812345678"),
            (MaskStyle::CreditCode, "91330100MA2B3C4D5N"),
            (MaskStyle::Address, "浙江省杭州市西湖区文三路90号"),
            (MaskStyle::BankAccount, "6222021234567890123"),
            (MaskStyle::Email, "zhang.san@example.com"),
        ];
        for (style, value) in samples {
            let masked = apply(style, value).unwrap_or_default();
            assert!(!masked.contains(value), "{style:?}: {masked}");
            assert_ne!(masked, value);
        }
    }
}
