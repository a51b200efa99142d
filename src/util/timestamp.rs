//! Timestamps as the API writes them: JavaScript's `toISOString()` form,
//! shared by the snippets, the tokens and the CLI's listings.

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

/// Timestamps as JavaScript's `toISOString()` writes them (the guide's
/// clients parse these): UTC, milliseconds, `Z`.
pub fn iso_millis(t: OffsetDateTime) -> String {
    with_iso_millis(t, str::to_string)
}

/// Calls `f` with [`iso_millis`]'s text, from a stack buffer when the
/// year has four digits.
pub fn with_iso_millis<R>(t: OffsetDateTime, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 24];
    match iso_millis_in(t, &mut buf) {
        Some(s) => f(s),
        None => f(&iso_millis_fmt(t)),
    }
}

/// [`iso_millis`] by `format!`: any year.
fn iso_millis_fmt(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// [`iso_millis`] written into `buf`, for years 0–9999 (`None` for the
/// others, whose width varies). A page of 20 snippets serializes 40–60 of
/// these: `format!` was an allocation and a formatter walk each
/// (docs/performance.md).
fn iso_millis_in(t: OffsetDateTime, buf: &mut [u8; 24]) -> Option<&str> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, u8::from(t.month()).into());
    put(8, 2, t.day().into());
    put(11, 2, t.hour().into());
    put(14, 2, t.minute().into());
    put(17, 2, t.second().into());
    put(20, 3, t.millisecond().into());
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        buf[i] = c;
    }
    std::str::from_utf8(buf).ok()
}

/// A timestamp serialized as [`iso_millis`] without allocating.
pub struct IsoMillis(pub OffsetDateTime);

impl Serialize for IsoMillis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        with_iso_millis(self.0, |v| s.serialize_str(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn timestamps_written_in_place_are_the_formatted_ones(
            micros in -377_705_030_400_000_000i64..253_402_214_400_000_000,
            offset in -86_399i32..86_400,
        ) {
            let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
                .unwrap()
                .to_offset(time::UtcOffset::from_whole_seconds(offset).unwrap());
            let mut buf = [0u8; 24];
            let want = iso_millis_fmt(t);
            match iso_millis_in(t, &mut buf) {
                Some(got) => proptest::prop_assert_eq!(got, want.as_str()),
                None => proptest::prop_assert!(!(0..=9999).contains(&t.to_offset(time::UtcOffset::UTC).year())),
            }
            proptest::prop_assert_eq!(
                serde_json::to_string(&IsoMillis(t)).unwrap(),
                serde_json::to_string(&want).unwrap()
            );
        }
    }

    #[test]
    fn timestamps_look_like_javascript() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_764_300_000_123_456_000).unwrap();
        assert_eq!(iso_millis(t), "2025-11-28T03:20:00.123Z");
    }
}
