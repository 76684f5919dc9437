//! The archive catalogue (档案目录, seed 004): five numbered categories, catalogue numbers
//! `<category>-<sequence>`, and the checks on a filed document's content.

use super::classification::classification_enum;
use serde::{Deserialize, Serialize};

classification_enum! {
    /// The five categories of the catalogue.
    DocumentCategory {
        /// 1 客户基础资料.
        Basic = 1, "basic";
        /// 2 合同与订单.
        Contracts = 2, "contracts";
        /// 3 欠款与还款.
        Debts = 3, "debts";
        /// 4 交易记录.
        Trade = 4, "trade";
        /// 5 退赔折价.
        Returns = 5, "returns";
    }
}

/// Default largest document, in bytes.
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// The catalogue number of the `sequence`-th document of `category`: `1-003`.
pub fn catalogue_number(category: DocumentCategory, sequence: i32) -> String {
    format!("{}-{sequence:03}", category.number())
}

/// The content types the archive keeps, with the leading bytes that identify each. Scans and
/// office documents are what the paper archive held; executables and archives are refused.
const ACCEPTED: &[(&str, &[&[u8]])] = &[
    ("application/pdf", &[b"%PDF-"]),
    ("image/png", &[b"\x89PNG\r\n\x1a\n"]),
    ("image/jpeg", &[b"\xff\xd8\xff"]),
    ("image/tiff", &[b"II*\x00", b"MM\x00*"]),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &[b"PK\x03\x04"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &[b"PK\x03\x04"],
    ),
    ("application/msword", &[b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"]),
    (
        "application/vnd.ms-excel",
        &[b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"],
    ),
    ("text/plain", &[]),
];

/// Checks a document's declared type against its content and the size limit. The error is a
/// reason for the field `content` or `document.content_type`.
pub fn check_content(
    content_type: &str,
    content: &[u8],
    max_bytes: usize,
) -> Result<(), (&'static str, String)> {
    if content.is_empty() {
        return Err(("content", "is empty".into()));
    }
    if content.len() > max_bytes {
        return Err((
            "content",
            format!("is {} bytes; the limit is {max_bytes}", content.len()),
        ));
    }
    let declared = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((_, signatures)) = ACCEPTED.iter().find(|(name, _)| *name == declared) else {
        let names: Vec<&str> = ACCEPTED.iter().map(|(name, _)| *name).collect();
        return Err((
            "document.content_type",
            format!("{declared:?} is not accepted; one of {}", names.join(", ")),
        ));
    };
    let matches = if signatures.is_empty() {
        // Plain text: valid UTF-8 with no NUL bytes.
        std::str::from_utf8(content).is_ok() && !content.contains(&0)
    } else {
        signatures.iter().any(|sig| content.starts_with(sig))
    };
    if matches {
        Ok(())
    } else {
        Err(("content", format!("does not look like {declared}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_numbers_name_category_and_sequence() {
        assert_eq!(catalogue_number(DocumentCategory::Basic, 3), "1-003");
        assert_eq!(catalogue_number(DocumentCategory::Returns, 12), "5-012");
    }

    #[test]
    fn content_must_match_its_declared_type() {
        assert!(check_content("application/pdf", b"%PDF-1.7 ...", 100).is_ok());
        assert!(check_content("application/pdf", b"MZ\x90\x00", 100).is_err());
        assert!(check_content("text/plain; charset=utf-8", "营业执照".as_bytes(), 100).is_ok());
        assert!(check_content("application/x-msdownload", b"MZ", 100).is_err());
        assert!(check_content("application/pdf", b"", 100).is_err());
        assert!(check_content("application/pdf", b"%PDF-1.7 ...", 4).is_err());
    }
}
