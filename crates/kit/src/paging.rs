//! List paging (AIP-158): page sizes and opaque page tokens bound to the filters they were issued
//! for, so a token replayed with other filters is refused instead of paging through the wrong set.

use sha2::{Digest, Sha256};

use crate::problem::Problem;

/// Page size when the caller asks for none.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Largest page; larger requests are clamped.
pub const MAX_PAGE_SIZE: u64 = 500;

/// A validated page request: how many rows from which offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows to return.
    pub size: u64,
    /// Rows to skip.
    pub offset: u64,
    fingerprint: u64,
}

impl Page {
    /// Parses `page_size` and `page_token`; `filters` identifies the query (any stable bytes,
    /// typically the encoded request without its paging fields).
    pub fn parse(page_size: i32, page_token: &str, filters: &[u8]) -> Result<Self, Problem> {
        if page_size < 0 {
            return Err(Problem::invalid("page_size", "must not be negative"));
        }
        let size = match page_size as u64 {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let fingerprint = fingerprint(filters);
        let offset = if page_token.is_empty() {
            0
        } else {
            let (offset, token_fingerprint) = decode_token(page_token).ok_or_else(|| {
                Problem::invalid("page_token", "is not a token this service issued")
            })?;
            if token_fingerprint != fingerprint {
                return Err(Problem::invalid(
                    "page_token",
                    "was issued for a different query",
                ));
            }
            offset
        };
        Ok(Self {
            size,
            offset,
            fingerprint,
        })
    }

    /// The token of the page after this one, or empty when `total` rows are exhausted.
    pub fn next_token(&self, total: u64) -> String {
        let next = self.offset + self.size;
        if next >= total {
            String::new()
        } else {
            hex::encode(format!("{next}:{:016x}", self.fingerprint))
        }
    }
}

fn fingerprint(filters: &[u8]) -> u64 {
    let digest = Sha256::digest(filters);
    u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ])
}

fn decode_token(token: &str) -> Option<(u64, u64)> {
    let raw = String::from_utf8(hex::decode(token).ok()?).ok()?;
    let (offset, fingerprint) = raw.split_once(':')?;
    Some((
        offset.parse().ok()?,
        u64::from_str_radix(fingerprint, 16).ok()?,
    ))
}

/// Converts a count to the `int32 total_size` of a list response.
pub fn total_size(count: u64) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// The bytes identifying a list query: the request without its paging fields, so a page token is
/// honoured only for the query it was issued for (give them to [`Page::parse`]). A macro because
/// the list requests share the field names `page_size` and `page_token` but no type.
#[macro_export]
macro_rules! query_key {
    ($request:expr) => {{
        let mut key = $request.clone();
        key.page_size = 0;
        key.page_token.clear();
        $crate::paging::encode(&key)
    }};
}

/// The encoding of a message (for [`query_key!`](crate::query_key)).
pub fn encode<M: prost::Message>(message: &M) -> Vec<u8> {
    message.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_default_and_clamp() {
        assert_eq!(Page::parse(0, "", b"").expect("ok").size, 50);
        assert_eq!(Page::parse(10_000, "", b"").expect("ok").size, 500);
        assert!(Page::parse(-1, "", b"").is_err());
    }

    #[test]
    fn tokens_walk_pages_and_end() {
        let first = Page::parse(2, "", b"f").expect("ok");
        let token = first.next_token(5);
        let second = Page::parse(2, &token, b"f").expect("ok");
        assert_eq!(second.offset, 2);
        let third = Page::parse(2, &second.next_token(5), b"f").expect("ok");
        assert_eq!(third.offset, 4);
        assert_eq!(third.next_token(5), "");
    }

    #[test]
    fn a_token_of_another_query_or_garbage_is_refused() {
        let token = Page::parse(2, "", b"a").expect("ok").next_token(10);
        assert!(Page::parse(2, &token, b"b").is_err());
        assert!(Page::parse(2, "zz", b"a").is_err());
    }
}
