//! Conversions between `chrono` and `google.protobuf.Timestamp`, and the calendar-date strings of
//! the API (`YYYY-MM-DD`).

use chrono::{DateTime, NaiveDate, Utc};

use crate::problem::FieldViolation;

/// A UTC time as a protobuf timestamp.
pub fn to_timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// A protobuf timestamp as a UTC time; `field` names it in the error.
pub fn from_timestamp(
    field: &str,
    ts: &prost_types::Timestamp,
) -> Result<DateTime<Utc>, FieldViolation> {
    let nanos = u32::try_from(ts.nanos)
        .map_err(|_| FieldViolation::new(field, "nanos must not be negative"))?;
    DateTime::from_timestamp(ts.seconds, nanos)
        .ok_or_else(|| FieldViolation::new(field, "is out of range"))
}

/// Parses an optional `YYYY-MM-DD` date: empty means none.
pub fn parse_date(field: &str, value: &str) -> Result<Option<NaiveDate>, FieldViolation> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            FieldViolation::new(
                field,
                format!("{value:?} is not a date of the form YYYY-MM-DD"),
            )
        })
}

/// Formats an optional date as `YYYY-MM-DD` (empty for none).
pub fn format_date(date: Option<NaiveDate>) -> String {
    date.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}
