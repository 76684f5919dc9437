//! The normalised form of a customer's name, used to find cards that describe the same customer
//! (一个客户一份档案): `上海 华通机电有限公司` and `上海华通机电股份有限公司` are one company to a
//! salesperson, so they must be one key to the archive.

/// Legal-form suffixes, a longer one before any it ends with, so that `集团有限公司` wins over
/// `有限公司`. The Latin ones are written as they look once punctuation and spaces are gone
/// (`Co., Ltd.` → `coltd`).
const LEGAL_FORMS: &[&str] = &[
    "集团股份有限公司",
    "集团有限公司",
    "股份有限公司",
    "有限责任公司",
    "corporation",
    "有限公司",
    "limited",
    "company",
    "coltd",
    "corp",
    "集团",
    "公司",
    "ltd",
    "inc",
    "厂",
];

/// Full-width ASCII (`！` … `～`) is this far above its half-width form.
const FULL_WIDTH_OFFSET: u32 = 0xFEE0;

/// The key under which two names count as the same customer: full-width forms folded to
/// half-width, lower-cased, parenthesised qualifiers such as `（中国）` dropped, spaces and
/// punctuation removed, and one trailing legal-form suffix (`有限公司`, `Co., Ltd.`, …) removed.
/// A name that is nothing but a legal form keeps it, so no name normalises to an empty key
/// unless it has no letters or digits at all.
pub fn normalise_name(name: &str) -> String {
    let folded = name.chars().map(fold_width).flat_map(char::to_lowercase);
    let kept: String = drop_parenthesised(folded)
        .into_iter()
        .filter(|c| c.is_alphanumeric())
        .collect();
    strip_legal_form(kept)
}

/// Full-width ASCII and the ideographic space to their half-width forms.
fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - FULL_WIDTH_OFFSET).unwrap_or(c),
        other => other,
    }
}

/// The characters outside parentheses. Parentheses hold regional or explanatory qualifiers
/// (`华通（中国）投资`, `(上海)`), which say nothing about which company it is. An unmatched `(`
/// drops nothing, so a typo cannot swallow the rest of a name.
fn drop_parenthesised(chars: impl Iterator<Item = char>) -> Vec<char> {
    let mut kept = Vec::new();
    // Where in `kept` each still-open parenthesis began.
    let mut open: Vec<usize> = Vec::new();
    for c in chars {
        match c {
            '(' => open.push(kept.len()),
            ')' => {
                if let Some(start) = open.pop() {
                    kept.truncate(start);
                }
            }
            other => kept.push(other),
        }
    }
    kept
}

/// `name` without one trailing legal-form suffix, unless nothing else would remain.
fn strip_legal_form(name: String) -> String {
    for suffix in LEGAL_FORMS {
        if let Some(stem) = name.strip_suffix(suffix) {
            if !stem.is_empty() {
                return stem.to_owned();
            }
            break;
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_equal(names: &[&str], expected: &str) {
        for name in names {
            assert_eq!(normalise_name(name), expected, "{name}");
        }
    }

    #[test]
    fn spacing_and_legal_forms_do_not_matter() {
        all_equal(
            &[
                "上海 华通机电有限公司",
                "上海华通机电股份有限公司",
                "上海华通机电",
                "上海华通机电有限责任公司",
                "上海华通机电集团有限公司",
                "上海华通机电集团股份有限公司",
                "上海华通机电公司",
                "　上海华通机电 有限 公司。",
            ],
            "上海华通机电",
        );
    }

    #[test]
    fn full_width_latin_and_latin_legal_forms_fold() {
        all_equal(
            &[
                "Ｈｕａｗｅｉ Co., Ltd.",
                "huawei",
                "HUAWEI LIMITED",
                "Huawei Inc.",
                "Huawei Corp.",
                "Huawei Corporation",
                "Huawei Company",
                "Huawei Co.,Ltd",
            ],
            "huawei",
        );
    }

    #[test]
    fn parenthesised_qualifiers_are_dropped() {
        all_equal(
            &[
                "华通（中国）投资有限公司",
                "华通(中国)投资有限公司",
                "华通投资（上海）有限公司",
                "华通投资",
            ],
            "华通投资",
        );
    }

    #[test]
    fn cjk_punctuation_is_removed() {
        assert_eq!(
            normalise_name("【华通】·机电—制造_“上海”《分部》「东区」、第一。厂"),
            "华通机电制造上海分部东区第一"
        );
    }

    #[test]
    fn only_one_suffix_is_removed() {
        assert_eq!(normalise_name("华通集团公司"), "华通集团");
        assert_eq!(normalise_name("上海第一机床厂"), "上海第一机床");
    }

    #[test]
    fn a_name_that_is_only_a_legal_form_keeps_it() {
        assert_eq!(normalise_name("有限公司"), "有限公司");
        assert_eq!(normalise_name("Ltd."), "ltd");
    }

    #[test]
    fn an_unmatched_parenthesis_drops_nothing() {
        assert_eq!(normalise_name("华通（中国投资有限公司"), "华通中国投资");
        assert_eq!(normalise_name("华通)投资"), "华通投资");
    }

    #[test]
    fn different_companies_stay_different() {
        assert_ne!(
            normalise_name("杭州恒远化工有限公司"),
            normalise_name("杭州恒远机电有限公司")
        );
        assert_ne!(
            normalise_name("杭州恒远化工有限公司"),
            normalise_name("苏州恒远化工有限公司")
        );
    }
}
