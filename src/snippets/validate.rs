//! Request validation with the JSON Schemas in `schemas/`: the same files
//! the OpenAPI document publishes, so the contract and the check are one.

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use serde_json::Value;

use super::error::{SnippetError, Violation};
use super::model::SnippetInput;

pub const INPUT_SCHEMA: &str = include_str!("schemas/snippet-input.json");
pub const PATCH_SCHEMA: &str = include_str!("schemas/snippet-patch.json");

/// Fields the server owns: accepted in bodies (clients PUT back what they
/// GET) and ignored.
const SERVER_OWNED: [&str; 5] = ["id", "owner", "forkedFrom", "createdAt", "updatedAt"];

fn compile(src: &str) -> Validator {
    let schema: Value = serde_json::from_str(src).expect("embedded schema is JSON");
    jsonschema::draft202012::new(&schema).expect("embedded schema compiles")
}

static INPUT: LazyLock<Validator> = LazyLock::new(|| compile(INPUT_SCHEMA));
static PATCH: LazyLock<Validator> = LazyLock::new(|| compile(PATCH_SCHEMA));
/// The list filters `language` and `tag`: the input schema's own rules for
/// those fields, so a filter accepts exactly what a snippet can hold.
static FILTERS: LazyLock<Validator> = LazyLock::new(|| {
    let input: Value = serde_json::from_str(INPUT_SCHEMA).expect("embedded schema is JSON");
    let props = &input["properties"];
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"language": props["language"], "tag": props["tags"]},
    });
    jsonschema::draft202012::new(&schema).expect("filter schema compiles")
});

/// Compiles both schemas now, so a broken schema fails at startup and the
/// first request does not pay for it.
pub fn warm_up() {
    LazyLock::force(&INPUT);
    LazyLock::force(&PATCH);
    LazyLock::force(&FILTERS);
}

/// Words (separated by white space, `or` aside) a search may have.
pub const MAX_SEARCH_WORDS: usize = 8;
/// `or`s a search may have.
pub const MAX_SEARCH_ORS: usize = 3;

/// The search text `q`: 1 to 200 characters, not blank, no NUL, at most
/// [`MAX_SEARCH_WORDS`] words and [`MAX_SEARCH_ORS`] `or`s. Each word is a
/// posting list the GIN index reads, each `or` a union of them: bounded,
/// so that one search's cost is (issue 31). The error says which rule.
pub fn search_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() || text.chars().count() > 200 || text.contains('\0') {
        return Err("q must be 1 to 200 characters, not blank".into());
    }
    let ors = text
        .split_whitespace()
        .filter(|w| w.eq_ignore_ascii_case("or"))
        .count();
    let words = text.split_whitespace().count() - ors;
    if words > MAX_SEARCH_WORDS || ors > MAX_SEARCH_ORS {
        return Err(format!(
            "q may have at most {MAX_SEARCH_WORDS} words and {MAX_SEARCH_ORS} `or`s"
        ));
    }
    Ok(())
}

/// Checks `GET /snippets` filters against the snippet schema's rules.
pub fn list_filters(language: Option<&str>, tags: &[String]) -> Result<(), Vec<Violation>> {
    let mut doc = serde_json::Map::new();
    if let Some(l) = language {
        doc.insert("language".into(), l.into());
    }
    if !tags.is_empty() {
        doc.insert("tag".into(), tags.into());
    }
    check(&FILTERS, &Value::Object(doc)).map_err(|e| match e {
        SnippetError::Invalid(v) => v,
        other => vec![Violation {
            pointer: String::new(),
            detail: other.to_string(),
        }],
    })
}

/// Validates a POST/PUT body (any JSON value) into an input. Takes the
/// body by value: the server-owned fields are dropped in place, no copy of
/// up to 100,000 characters of code per request.
pub fn input(mut body: Value) -> Result<SnippetInput, SnippetError> {
    check(&INPUT, &body)?;
    if let Some(obj) = body.as_object_mut() {
        for k in SERVER_OWNED {
            obj.remove(k);
        }
    }
    serde_json::from_value(body).map_err(|e| {
        // Unreachable when the schema and the struct agree; say so loudly.
        SnippetError::Internal(format!("schema-valid body did not deserialize: {e}"))
    })
}

/// Applies a merge patch (RFC 7396) to `current` and validates the result.
pub fn patch(current: &SnippetInput, patch: &Value) -> Result<SnippetInput, SnippetError> {
    check(&PATCH, patch)?;
    let mut merged = serde_json::to_value(current)
        .map_err(|e| SnippetError::Internal(format!("cannot serialize snippet: {e}")))?;
    merge_patch(&mut merged, patch);
    input(merged)
}

/// RFC 7396 JSON Merge Patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let obj = target.as_object_mut().expect("made an object above");
    for (k, v) in patch {
        if v.is_null() {
            obj.remove(k);
        } else {
            merge_patch(obj.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn check(validator: &Validator, body: &Value) -> Result<(), SnippetError> {
    let mut violations: Vec<Violation> = validator
        .iter_errors(body)
        .map(|e| violation(e.instance_path().as_str(), e.kind()))
        .collect();
    if violations.is_empty() {
        return Ok(());
    }
    violations.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    violations.dedup();
    Err(SnippetError::Invalid(violations))
}

/// One violation in words of our own: jsonschema's messages quote the whole
/// offending value, which can be 100,000 characters of someone's code.
fn violation(path: &str, kind: &ValidationErrorKind) -> Violation {
    let field = |name: &str| format!("{path}/{}", escape_pointer(name));
    let at = |detail: String| Violation {
        pointer: path.to_string(),
        detail,
    };
    match kind {
        ValidationErrorKind::Required { property } => Violation {
            pointer: field(property.as_str().unwrap_or_default()),
            detail: "is required".into(),
        },
        ValidationErrorKind::AdditionalProperties { unexpected } => Violation {
            pointer: field(unexpected.first().map(String::as_str).unwrap_or_default()),
            detail: if unexpected.len() == 1 {
                "is not a known field".into()
            } else {
                format!(
                    "is not a known field (nor are {})",
                    unexpected[1..].join(", ")
                )
            },
        },
        ValidationErrorKind::Type { kind } => at(format!("must be of type {}", type_words(kind))),
        ValidationErrorKind::MinLength { limit } => at(if *limit == 1 {
            "must not be empty".into()
        } else {
            format!("must be at least {limit} characters long")
        }),
        ValidationErrorKind::MaxLength { limit } => {
            at(format!("must be at most {limit} characters long"))
        }
        ValidationErrorKind::MaxItems { limit } => at(format!("must have at most {limit} items")),
        ValidationErrorKind::UniqueItems => at("must not repeat an item".into()),
        ValidationErrorKind::Pattern { pattern } => at(pattern_words(path, pattern)),
        other => at(format!("is invalid ({})", keyword(other))),
    }
}

fn pattern_words(path: &str, pattern: &str) -> String {
    if path.starts_with("/tags/") {
        "must be 1 to 32 lower-case letters, digits or '-', not starting with '-'".into()
    } else if pattern.contains("\\s]") {
        "must not be blank and must not contain the NUL character (U+0000)".into()
    } else {
        "must not contain the NUL character (U+0000)".into()
    }
}

fn type_words(kind: &jsonschema::error::TypeKind) -> String {
    match kind {
        jsonschema::error::TypeKind::Single(t) => t.to_string(),
        jsonschema::error::TypeKind::Multiple(ts) => ts
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn keyword(kind: &ValidationErrorKind) -> String {
    // Debug of the kind names the keyword first, e.g. `Enum { .. }`.
    let dbg = format!("{kind:?}");
    dbg.split([' ', '{', '(']).next().unwrap_or("").to_string()
}

/// RFC 6901 escaping for one reference token.
fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn violations(v: Value) -> Vec<Violation> {
        match input(v) {
            Err(SnippetError::Invalid(v)) => v,
            other => panic!("expected violations, got {other:?}"),
        }
    }

    #[test]
    fn valid_input_ignores_server_owned_fields() {
        let i = input(json!({"title":"t","language":"rust","code":"fn main(){}",
            "id":"x","createdAt":"y","updatedAt":"z","forkedFrom":{"id":"x","version":1}}))
        .unwrap();
        assert_eq!(i.title, "t");
        assert!(i.tags.is_empty());
    }

    #[test]
    fn every_violation_is_reported_with_its_pointer() {
        let v = violations(json!({"title":"   ","code":"", "tags":["OK","ok","ok"], "x":1}));
        let pointers: Vec<_> = v.iter().map(|v| v.pointer.as_str()).collect();
        for p in ["/title", "/language", "/code", "/tags", "/tags/0", "/x"] {
            assert!(pointers.contains(&p), "{p} missing from {v:?}");
        }
    }

    #[test]
    fn messages_do_not_echo_values() {
        let code = "y".repeat(100_001);
        let v = violations(json!({"title":"t","language":"l","code":code}));
        assert_eq!(v.len(), 1);
        assert!(v[0].detail.len() < 100, "{}", v[0].detail);
    }

    #[test]
    fn nul_is_a_violation() {
        let v = violations(json!({"title":"a\u{0}b","language":"l","code":"c"}));
        assert_eq!(v[0].pointer, "/title");
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let current = SnippetInput {
            title: "t".into(),
            language: "l".into(),
            code: "c".into(),
            description: Some("d".into()),
            tags: vec!["a".into()],
            visibility: None,
            expiry: Default::default(),
        };
        let p = patch(
            &current,
            &json!({"description": null, "tags": null, "code": "new"}),
        )
        .unwrap();
        assert_eq!(p.description, None);
        assert!(p.tags.is_empty());
        assert_eq!(p.code, "new");
        assert_eq!(p.title, "t");
        assert!(patch(&current, &json!({"title": null})).is_err());
        assert!(patch(&current, &json!([1])).is_err());
    }
}

#[cfg(test)]
mod merge_patch_properties {
    use super::merge_patch;
    use proptest::prelude::*;
    use serde_json::Value;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            "[a-z]{0,4}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// RFC 7396: applying the same patch twice changes nothing more.
        #[test]
        fn merge_patch_is_idempotent(target in json(), patch in json()) {
            let mut once = target.clone();
            merge_patch(&mut once, &patch);
            let mut twice = once.clone();
            merge_patch(&mut twice, &patch);
            prop_assert_eq!(once, twice);
        }

        /// Members set to null are gone; other patched members equal the
        /// patch where it is not an object.
        #[test]
        fn null_removes_and_values_replace(target in json(), patch in json()) {
            let mut out = target.clone();
            merge_patch(&mut out, &patch);
            if let Value::Object(p) = &patch {
                let o = out.as_object().unwrap();
                for (k, v) in p {
                    match v {
                        Value::Null => prop_assert!(!o.contains_key(k)),
                        Value::Object(_) => prop_assert!(o.contains_key(k)),
                        other => prop_assert_eq!(&o[k], other),
                    }
                }
            } else {
                prop_assert_eq!(out, patch);
            }
        }
    }
}
