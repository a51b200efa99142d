//! env_logger with one JSON object per line (CloudWatch, `LOG_FORMAT=json`)
//! or a plain line for humans (`LOG_FORMAT=text`). Structured fields travel
//! as `log` key-values: `log::info!(target: "access", status = 200; "...")`.
//!
//! Every line written while a request is being served carries its
//! `request_id`, wherever it is logged from (handlers, `snippets`, `db`):
//! the HTTP layer runs each request inside [`with_request_id`], and the
//! formatter reads the task-local.

use std::fmt::Write as _;
use std::io::Write;

use log::kv::{Key, Value, VisitSource};

use crate::config::{LogConfig, LogFormat};

pub mod sink;

pub use sink::flush;

tokio::task_local! {
    static REQUEST_ID: std::sync::Arc<str>;
}

/// Runs `fut` with `id` as the request id of every line it logs.
pub fn with_request_id<F: std::future::Future>(
    id: std::sync::Arc<str>,
    fut: F,
) -> tokio::task::futures::TaskLocalFuture<std::sync::Arc<str>, F> {
    REQUEST_ID.scope(id, fut)
}

/// The request id of the request being served on this task, if any.
pub fn current_request_id() -> Option<std::sync::Arc<str>> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

/// Installs the global logger, writing through [`sink`]. Safe to call more
/// than once (tests).
pub fn init(cfg: &LogConfig) {
    let format = cfg.format;
    let sink = sink::install(cfg.flush_every);
    let _ = env_logger::Builder::new()
        .parse_filters(&cfg.filter)
        .format(move |buf, record| {
            let line = render(format, record);
            sink::mark(record.level());
            buf.write_all(line.as_bytes())
        })
        .target(env_logger::Target::Pipe(Box::new(sink::Target(sink))))
        .try_init();
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn render(format: LogFormat, record: &log::Record<'_>) -> String {
    let mut out = String::with_capacity(256);
    match format {
        LogFormat::Json => {
            out.push_str("{\"time\":");
            push_json_str(&mut out, &now());
            out.push_str(",\"level\":");
            push_json_str(&mut out, record.level().as_str());
            out.push_str(",\"target\":");
            push_json_str(&mut out, record.target());
            if let Some(id) = current_request_id() {
                out.push_str(",\"request_id\":");
                push_json_str(&mut out, &id);
            }
            out.push_str(",\"msg\":");
            push_json_str(&mut out, &record.args().to_string());
            let _ = record.key_values().visit(&mut JsonFields(&mut out));
            out.push_str("}\n");
        }
        LogFormat::Text => {
            let _ = write!(
                out,
                "{} {:<5} {}: {}",
                now(),
                record.level(),
                record.target(),
                record.args()
            );
            if let Some(id) = current_request_id() {
                let _ = write!(out, " request_id={id}");
            }
            let _ = record.key_values().visit(&mut TextFields(&mut out));
            out.push('\n');
        }
    }
    out
}

struct JsonFields<'a>(&'a mut String);

impl<'kvs> VisitSource<'kvs> for JsonFields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        self.0.push(',');
        push_json_str(self.0, key.as_str());
        self.0.push(':');
        // A borrowed string first, and without a copy: most fields are
        // (method, path, trace ids), and each failed cast is a dispatch
        // through value_bag; trying the numbers first and then
        // `to_string()` cost ~6,600 instructions per access line (callgrind,
        // docs/performance.md, "The batched log sink").
        if let Some(s) = value.to_borrowed_str() {
            push_json_str(self.0, s);
        } else if let Some(n) = value.to_u64() {
            let _ = write!(self.0, "{n}");
        } else if let Some(n) = value.to_i64() {
            let _ = write!(self.0, "{n}");
        } else if let Some(f) = value.to_f64() {
            // serde_json: shortest digits (ryu), and `null` for NaN and
            // infinities, which `{f}` would write as invalid JSON.
            let _ = serde_json::to_writer(StrWriter(self.0), &f);
        } else if let Some(b) = value.to_bool() {
            let _ = write!(self.0, "{b}");
        } else {
            push_json_str(self.0, &value.to_string());
        }
        Ok(())
    }
}

struct TextFields<'a>(&'a mut String);

impl<'kvs> VisitSource<'kvs> for TextFields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}

/// Appends `s` as a JSON string literal, escaped by serde_json.
pub fn push_json_str(out: &mut String, s: &str) {
    // Most values (methods, paths, ids, durations) need no escape: copied
    // as they are, which callgrind counts at a third of serde_json's
    // writer path for an access line (docs/performance.md).
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    serde_json::to_writer(StrWriter(out), s).expect("a str always serializes");
}

/// `io::Write` into a `String`. serde_json writes a string literal as
/// slices of the (valid UTF-8) input cut at ASCII escapes, and ASCII
/// escapes, so each write is checked on its own: linear, where re-checking
/// the whole line after each value was not (callgrind: 1,600 instructions
/// per access line).
struct StrWriter<'a>(&'a mut String);

impl std::io::Write for StrWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let s = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
        self.0.push_str(s);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An error and all its causes, joined by ": ". tokio-postgres' own Display
/// is only "db error" or "error performing TLS handshake": the cause that
/// matters is further down the chain.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_escapes_and_carries_fields() {
        let record = log::Record::builder()
            .args(format_args!("a \"quoted\"\nline"))
            .level(log::Level::Info)
            .target("access")
            .key_values(&[("status", 200u64)])
            .build();
        let line = render(LogFormat::Json, &record);
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["msg"], "a \"quoted\"\nline");
        assert_eq!(v["status"], 200);
        assert_eq!(v["level"], "INFO");
    }

    /// Every kind of field value makes valid JSON of the same value.
    #[test]
    fn json_fields_of_every_kind() {
        use log::kv::Value;
        let ip = std::net::IpAddr::from([10, 0, 0, 1]);
        let kv: [(&str, Value<'_>); 8] = [
            ("path", Value::from("/a \"b\"\n")),
            ("status", Value::from(404u16)),
            ("delta", Value::from(-3i64)),
            ("ms", Value::from(1.25f64)),
            ("whole", Value::from(2.0f64)),
            ("nan", Value::from(f64::NAN)),
            ("ok", Value::from(true)),
            ("client_ip", Value::from_display(&ip)),
        ];
        let fields = &kv[..];
        let line = render(
            LogFormat::Json,
            &log::Record::builder()
                .args(format_args!("m"))
                .key_values(&fields)
                .build(),
        );
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["path"], "/a \"b\"\n");
        assert_eq!(v["status"], 404);
        assert_eq!(v["delta"], -3);
        assert_eq!(v["ms"], 1.25);
        assert_eq!(v["whole"], 2.0);
        assert!(v["nan"].is_null(), "{line}");
        assert_eq!(v["ok"], true);
        assert_eq!(v["client_ip"], "10.0.0.1");
    }

    #[test]
    fn json_strings_round_trip() {
        for s in [
            "",
            "plain",
            "a\"b\\c",
            "\n\r\t\u{0}\u{1f}",
            "é ✓ 𝄞\u{7f}",
            "x\u{1}y\"z",
        ] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s, "{out}");
        }
    }

    proptest::proptest! {
        /// The fast path and serde_json write the very same bytes.
        #[test]
        fn json_strings_are_serde_jsons(s in "\\PC*|[\\x00-\\x7f]{0,40}") {
            let mut out = String::new();
            push_json_str(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
        }
    }
}
