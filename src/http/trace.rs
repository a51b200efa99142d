//! Trace context: W3C Trace Context's `traceparent` (accepted when it is
//! well-formed, answered with the same trace id and a parent id of our
//! own), and the ALB's `X-Amzn-Trace-Id` (logged as it came), so that a
//! request can be followed from CloudFront and the ALB into the access log.

use hyper::HeaderMap;

pub const TRACEPARENT: &str = "traceparent";
pub const X_AMZN_TRACE_ID: &str = "x-amzn-trace-id";

/// A valid `traceparent`: trace id and flags (the version and the caller's
/// parent id are not kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 lower-case hex digits, not all zero.
    pub trace_id: String,
    /// 2 lower-case hex digits.
    pub flags: String,
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl TraceParent {
    /// `version-traceid-parentid-flags` as W3C Trace Context level 1 says:
    /// version `00` is exactly 55 characters; a later version may append
    /// `-`-separated fields, which are ignored; `ff`, upper case, all-zero
    /// ids and any other shape are invalid (and then ignored by the caller).
    pub fn parse(value: &str) -> Option<TraceParent> {
        let b = value.as_bytes();
        if b.len() < 55 || !value.is_ascii() {
            return None;
        }
        let (version, trace_id, parent_id, flags) =
            (&value[0..2], &value[3..35], &value[36..52], &value[53..55]);
        let dashes = b[2] == b'-' && b[35] == b'-' && b[52] == b'-';
        let ok = dashes
            && is_lower_hex(version)
            && version != "ff"
            && is_lower_hex(trace_id)
            && trace_id.bytes().any(|c| c != b'0')
            && is_lower_hex(parent_id)
            && parent_id.bytes().any(|c| c != b'0')
            && is_lower_hex(flags)
            && match (version, b.len()) {
                ("00", n) => n == 55,
                (_, 55) => true,
                (_, _) => b[55] == b'-',
            };
        ok.then(|| TraceParent {
            trace_id: trace_id.to_owned(),
            flags: flags.to_owned(),
        })
    }

    /// From the request's headers; a header that appears more than once is
    /// invalid (the specification allows one).
    pub fn from_headers(headers: &HeaderMap) -> Option<TraceParent> {
        let mut all = headers.get_all(TRACEPARENT).iter();
        let first = all.next()?;
        if all.next().is_some() {
            return None;
        }
        TraceParent::parse(first.to_str().ok()?.trim())
    }

    /// The `traceparent` of our span: same trace, a fresh parent id, the
    /// caller's flags, version 00.
    pub fn child(&self) -> String {
        let (hi, lo) = uuid::Uuid::new_v4().as_u64_pair();
        let span = (hi ^ lo.rotate_left(29)).max(1);
        format!("00-{}-{span:016x}-{}", self.trace_id, self.flags)
    }
}

/// `X-Amzn-Trace-Id` when it is printable ASCII of a sane length (the ALB
/// writes `Root=1-…`; clients may send their own, which the ALB extends).
pub fn amzn_trace_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(X_AMZN_TRACE_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 512 && v.bytes().all(|b| (0x20..0x7f).contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specification_examples() {
        let tp = TraceParent::parse(VALID).unwrap();
        assert_eq!(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.flags, "01");
        let child = tp.child();
        let again = TraceParent::parse(&child).unwrap();
        assert_eq!(again.trace_id, tp.trace_id);
        assert_ne!(&child[36..52], "00f067aa0ba902b7");
        // A later version may carry more fields.
        assert!(TraceParent::parse(&format!("01{}-extra", &VALID[2..])).is_some());
    }

    #[test]
    fn malformed_values_are_invalid() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }
}
