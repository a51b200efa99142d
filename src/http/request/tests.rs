use super::*;
use hyper::header::HeaderValue;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn content_types() {
    let j = [Json::Plain];
    assert!(content_type(&headers(&[("content-type", "application/json")]), &j).is_ok());
    assert!(content_type(
        &headers(&[("content-type", "Application/JSON; charset=UTF-8")]),
        &j
    )
    .is_ok());
    assert!(content_type(
        &headers(&[("content-type", "application/json; charset=latin1")]),
        &j
    )
    .is_err());
    assert!(content_type(&headers(&[("content-type", "text/plain")]), &j).is_err());
    assert!(content_type(&headers(&[]), &j).is_err());
    assert!(content_type(
        &headers(&[("content-type", "application/merge-patch+json")]),
        &j
    )
    .is_err());
}

#[test]
fn preconditions() {
    let p = |pairs: &[(&'static str, &str)]| precondition(&headers(pairs)).unwrap();
    assert_eq!(p(&[]), Precondition::default());
    assert_eq!(p(&[("if-match", "*")]).if_match, Some(Tags::Any));
    assert_eq!(
        p(&[("if-match", "\"3\", W/\"4\", \"x\"")]).if_match,
        Some(Tags::Versions(vec![3]))
    );
    let nm = p(&[("if-none-match", "W/\"3\"")]);
    assert!(!nm.holds(3) && nm.holds(4));
    assert!(!p(&[("if-none-match", "*")]).holds(1));
    assert!(if_none_match(&headers(&[("if-none-match", "W/\"3\"")]), 3).unwrap());
    assert!(!if_none_match(&headers(&[("if-none-match", "\"2\"")]), 3).unwrap());
}

#[test]
fn list_parameters() {
    assert_eq!(list_query(None).unwrap().limit, 20);
    let q = list_query(Some(
        "limit=5&tag=b&tag=a&tag=b&q=hello+world&language=rust",
    ))
    .unwrap();
    assert_eq!(q.limit, 5);
    assert_eq!(q.tags, vec!["a", "b"]);
    assert_eq!(q.q.as_deref(), Some("hello world"));
    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=zz",
        "cursor=-zLC1Uu3AAAAAAAAAAAAAAAAAAAAAAAA",
        "tag=-a",
        "tag=A",
        "q=",
        "language=",
        "foo=1",
        "limit=1&limit=2",
        "q=%FF",
        "q=a+b+c+d+e+f+g+h+i",
        "q=a+or+b+or+c+or+d+or+e",
    ] {
        assert!(list_query(Some(bad)).is_err(), "{bad}");
    }
    // The most a search may carry.
    assert!(list_query(Some("q=a+b+c+d+e+f+g+h")).is_ok());
    assert!(list_query(Some("q=a+or+b+OR+c+or+d")).is_ok());
}

proptest::proptest! {
    /// Any query string parses or is refused: never a panic.
    #[test]
    fn any_query_string_parses_or_is_refused(q in "[a-z=&%+0-9A-F_-]{0,60}") {
        let _ = list_query(Some(&q));
    }

    #[test]
    fn valid_filters_always_parse(limit in 1u32..=100, tags in proptest::collection::vec("[a-z0-9][a-z0-9-]{0,31}", 0..20)) {
        let mut qs = format!("limit={limit}");
        for t in &tags {
            qs.push_str(&format!("&tag={t}"));
        }
        let q = list_query(Some(&qs)).unwrap();
        proptest::prop_assert_eq!(q.limit, limit);
    }
}
