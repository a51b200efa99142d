//! Unit tests of http/snippet.rs.

use super::*;

#[test]
fn next_link_keeps_the_filters() {
    let q = request::list_query(Some("limit=5&tag=a&q=x y&language=c%2B%2B")).unwrap();
    let c = Cursor {
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        id: Uuid::nil(),
    };
    let link = next_link(&q, &c);
    assert!(
        link.starts_with("</snippets?limit=5&language=c%2B%2B&tag=a&q=x%20y&cursor="),
        "{link}"
    );
    assert!(link.ends_with(">; rel=\"next\""));
}
