//! Who may see and modify which snippet: the rules in one place. Queries
//! apply them in SQL (writes and lists: a forgotten check is a missing row);
//! the coalesced id lookup applies [`can_read`] to the row it fetched
//! (docs/architecture.md, "Visibility and the coalesced lookup").

use crate::auth::{Caller, Scope};

use super::model::Visibility;

/// Private snippets exist only for their owner (with `snippets:read`) and
/// admins; public and unlisted ones for anyone who has the id.
pub fn can_read(caller: &Caller, owner: Option<&str>, visibility: Visibility) -> bool {
    visibility != Visibility::Private
        || caller.is_admin()
        || (owns(caller, owner) && caller.scopes().allows(Scope::SnippetsRead))
}

/// An earlier version of a snippet the caller can read now (issue 30,
/// finding 11): readable by whoever could read the snippet when that
/// version was written (`written`, recorded by the revision trigger,
/// migrations/2026-12-06-000010_revision_visibility) and can still read it
/// now. The owner (with `snippets:read`) and admins read every version.
/// Anyone else reads a version only if it was written at least as visible
/// as the snippet is now: written public, while the snippet is public or
/// unlisted; written unlisted, while it is still unlisted (once public,
/// the snippet is found by people who never had the link); written
/// private, never. So publishing publishes the current version only.
pub fn can_read_version(
    caller: &Caller,
    owner: Option<&str>,
    now: Visibility,
    written: Visibility,
) -> bool {
    if !can_read(caller, owner, now) {
        return false;
    }
    sees_everything_of(caller, owner)
        || (now != Visibility::Private && reach(written) >= reach(now))
}

/// The `written` values [`can_read_version`] allows the caller, for the
/// SQL filter of history pages.
pub fn readable_versions(
    caller: &Caller,
    owner: Option<&str>,
    now: Visibility,
) -> Vec<&'static str> {
    [
        Visibility::Public,
        Visibility::Unlisted,
        Visibility::Private,
    ]
    .into_iter()
    .filter(|w| can_read_version(caller, owner, now, *w))
    .map(Visibility::as_str)
    .collect()
}

/// How far a visibility reaches: public, then unlisted, then private.
fn reach(v: Visibility) -> u8 {
    match v {
        Visibility::Public => 2,
        Visibility::Unlisted => 1,
        Visibility::Private => 0,
    }
}

/// Admins, and the owner with `snippets:read`: every visibility.
fn sees_everything_of(caller: &Caller, owner: Option<&str>) -> bool {
    caller.is_admin() || (owns(caller, owner) && caller.scopes().allows(Scope::SnippetsRead))
}

/// Whether a fork may name its source to `caller` (`forkedFrom.id`;
/// issue 30, finding 13): the id of an unlisted snippet is its only
/// secret, so only a public source is named to everyone, any other only
/// to its owner (with `snippets:read`) and admins. `owner` and
/// `visibility` are the source's, as it is now.
pub fn shows_source(caller: &Caller, owner: Option<&str>, visibility: Visibility) -> bool {
    visibility == Visibility::Public || sees_everything_of(caller, owner)
}

/// [`shows_source`] for an export, whose reader is the exporting owner
/// (`reader`, `None` in open mode) with `snippets:read`.
pub fn shows_source_to(reader: Option<&str>, owner: Option<&str>, visibility: Visibility) -> bool {
    visibility == Visibility::Public || (reader.is_some() && reader == owner)
}

/// Modify (PUT, PATCH, DELETE): the owner with `snippets:write`, or an
/// admin; unowned rows (written before owners existed) only an admin. The
/// scope itself is checked before any row is read.
pub fn can_modify(caller: &Caller, owner: Option<&str>) -> bool {
    caller.is_admin() || owns(caller, owner)
}

/// Whether a write's answer may carry the snippet: only to a caller with
/// `snippets:read` (or admin, or open mode). A write-only token gets the
/// id, version and ETag of what it wrote and nothing else (issue 30,
/// finding 12; docs/api.md, "Write-only tokens").
pub fn sees_content(caller: &Caller) -> bool {
    caller.require(Scope::SnippetsRead).is_ok()
}

fn owns(caller: &Caller, owner: Option<&str>) -> bool {
    matches!((caller.handle(), owner), (Some(c), Some(o)) if c == o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scopes;
    use Visibility::*;

    fn owner(handle: &str, scopes: &[Scope]) -> Caller {
        Caller::Owner {
            handle: handle.into(),
            token_id: uuid::Uuid::nil(),
            scopes: Scopes::of(scopes),
            expires_at: None,
        }
    }

    #[test]
    fn versions_are_read_as_they_were_written() {
        let a = owner("a", &[Scope::SnippetsRead]);
        let b = owner("b", &[Scope::SnippetsRead]);
        let admin = owner("root", &[Scope::Admin]);
        let anon = Caller::Anonymous;
        for now in [Public, Unlisted, Private] {
            for written in [Public, Unlisted, Private] {
                assert!(can_read_version(&a, Some("a"), now, written));
                assert!(can_read_version(&admin, Some("a"), now, written));
                let others = !matches!(
                    (now, written),
                    (Private, _) | (_, Private) | (Public, Unlisted)
                );
                for c in [&anon, &b] {
                    assert_eq!(
                        can_read_version(c, Some("a"), now, written),
                        others,
                        "{now:?} {written:?}"
                    );
                }
            }
        }
        assert_eq!(readable_versions(&b, Some("a"), Public), ["public"]);
        assert_eq!(
            readable_versions(&b, Some("a"), Unlisted),
            ["public", "unlisted"]
        );
        assert_eq!(readable_versions(&a, Some("a"), Public).len(), 3);
    }

    #[test]
    fn forks_name_only_sources_the_reader_could_find() {
        let a = owner("a", &[Scope::SnippetsRead]);
        let b = owner("b", &[Scope::SnippetsRead]);
        let admin = owner("root", &[Scope::Admin]);
        for v in [Public, Unlisted, Private] {
            assert!(shows_source(&a, Some("a"), v));
            assert!(shows_source(&admin, Some("a"), v));
            assert_eq!(shows_source(&b, Some("a"), v), v == Public);
            assert_eq!(shows_source(&Caller::Anonymous, Some("a"), v), v == Public);
            assert!(shows_source_to(Some("a"), Some("a"), v));
            assert_eq!(shows_source_to(Some("b"), Some("a"), v), v == Public);
            assert_eq!(shows_source_to(None, None, v), v == Public);
        }
    }

    #[test]
    fn the_rules() {
        let a = owner("a", &[Scope::SnippetsRead, Scope::SnippetsWrite]);
        let a_write_only = owner("a", &[Scope::SnippetsWrite]);
        let b = owner("b", &[Scope::SnippetsRead, Scope::SnippetsWrite]);
        let admin = owner("root", &[Scope::Admin]);
        for v in [Public, Unlisted] {
            assert!(can_read(&Caller::Anonymous, Some("a"), v));
            assert!(can_read(&b, Some("a"), v));
        }
        assert!(!can_read(&Caller::Anonymous, Some("a"), Private));
        assert!(!can_read(&b, Some("a"), Private));
        assert!(!can_read(&a_write_only, Some("a"), Private));
        assert!(can_read(&a, Some("a"), Private));
        assert!(can_read(&admin, Some("a"), Private));
        assert!(can_modify(&a, Some("a")));
        assert!(!can_modify(&b, Some("a")));
        assert!(!can_modify(&a, None), "unowned rows: admin only");
        assert!(can_modify(&admin, None));
        assert!(can_modify(&Caller::Open, None));
        assert!(!can_modify(&Caller::Anonymous, None));
        assert!(sees_content(&a) && sees_content(&admin) && sees_content(&Caller::Open));
        assert!(!sees_content(&a_write_only) && !sees_content(&Caller::Anonymous));
    }
}
