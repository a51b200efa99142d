//! Unit tests of snippets/transfer.rs.

use super::*;
use crate::auth::Scopes;
use serde_json::json;

fn owner(scopes: &[Scope]) -> Caller {
    Caller::Owner {
        handle: "alice".into(),
        token_id: Uuid::nil(),
        scopes: Scopes::of(scopes),
        expires_at: None,
    }
}

const MAX: std::time::Duration = std::time::Duration::from_secs(86_400);

#[test]
fn admins_keep_server_fields_others_do_not() {
    let line = json!({
        "id": "0192f3c8-7a4e-7b1e-9c1a-0123456789ab",
        "title": "t", "language": "l", "code": "c",
        "owner": "bob", "visibility": "private",
        "createdAt": "2026-01-01T00:00:00.123Z",
        "updatedAt": "2026-01-02T00:00:00.456Z",
        "expiresAt": "2026-01-03T00:00:00Z",
        "revisions": []
    });
    let admin = check_line(1, line.clone(), &owner(&[Scope::Admin]), MAX).unwrap();
    assert_eq!(admin.id.to_string(), "0192f3c8-7a4e-7b1e-9c1a-0123456789ab");
    assert_eq!(admin.owner.as_deref(), Some("bob"));
    assert!(admin.created_at.is_some() && admin.updated_at.is_some());
    assert!(admin.expires_at.is_some(), "kept even when past");
    let writer = owner(&[Scope::SnippetsWrite]);
    // A past expiresAt is a 422 for anyone else…
    let refused = check_line(2, line.clone(), &writer, MAX).unwrap_err();
    assert_eq!(refused.status, 422);
    // …and without it the line gets a new id, now() and the caller.
    let mut fresh = line;
    fresh.as_object_mut().unwrap().remove("expiresAt");
    let row = check_line(3, fresh, &writer, MAX).unwrap();
    assert_ne!(row.id.to_string(), "0192f3c8-7a4e-7b1e-9c1a-0123456789ab");
    assert_eq!(row.owner.as_deref(), Some("alice"));
    assert_eq!(
        (row.created_at, row.updated_at, row.expires_at),
        (None, None, None)
    );
}

#[test]
fn bad_lines_say_where() {
    let admin = owner(&[Scope::Admin]);
    let o = check_line(
        7,
        json!({"title": "", "language": "l", "code": "c", "id": "x"}),
        &admin,
        MAX,
    )
    .unwrap_err();
    assert_eq!((o.line, o.status), (7, 422));
    assert_eq!(o.errors.unwrap()[0].pointer, "/id");
    let o = check_line(
        8,
        json!({"title": "", "language": "l", "code": "c"}),
        &admin,
        MAX,
    )
    .unwrap_err();
    assert_eq!(o.errors.unwrap()[0].pointer, "/title");
    let o = check_line(9, json!([1]), &admin, MAX).unwrap_err();
    assert_eq!(o.status, 422);
}
