//! Scopes a token carries, and the `Caller` the domain receives.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read the caller's own private and unlisted snippets in lists.
    SnippetsRead,
    /// Create snippets, and modify the caller's own.
    SnippetsWrite,
    /// List, create and revoke the caller's own tokens.
    TokensWrite,
    /// Everything: owners, other owners' snippets and unowned rows.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::SnippetsRead,
        Scope::SnippetsWrite,
        Scope::TokensWrite,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SnippetsRead => "snippets:read",
            Scope::SnippetsWrite => "snippets:write",
            Scope::TokensWrite => "tokens:write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    pub fn of(list: &[Scope]) -> Scopes {
        Scopes(list.iter().fold(0, |acc, s| acc | s.bit()))
    }

    /// From the database's `text[]`: an unknown name (written by a newer
    /// server) grants nothing.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Scopes {
        Scopes::of(
            &names
                .iter()
                .filter_map(|n| Scope::parse(n.as_ref()))
                .collect::<Vec<_>>(),
        )
    }

    /// Parses names given by a client; the first unknown one is the error.
    pub fn parse_names<S: AsRef<str>>(names: &[S]) -> Result<Scopes, String> {
        let mut out = Scopes::default();
        for n in names {
            let s = Scope::parse(n.as_ref()).ok_or_else(|| n.as_ref().to_string())?;
            out.0 |= s.bit();
        }
        Ok(out)
    }

    /// Literally holds `s` (see [`Scopes::allows`] for what admin implies).
    pub fn contains(self, s: Scope) -> bool {
        self.0 & s.bit() != 0
    }

    /// Holds `s`, or admin, which implies every scope.
    pub fn allows(self, s: Scope) -> bool {
        self.contains(s) || self.contains(Scope::Admin)
    }

    pub fn is_subset_of(self, other: Scopes) -> bool {
        other.contains(Scope::Admin) || self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn names(self) -> Vec<String> {
        self.iter().map(|s| s.as_str().to_string()).collect()
    }
}

/// Who is asking. Built by the HTTP layer from `Authorization`, passed to
/// every domain call that reads or writes snippets or tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No token (an invalid token is never downgraded to this).
    Anonymous,
    /// A valid token's owner.
    Owner {
        handle: Arc<str>,
        token_id: Uuid,
        scopes: Scopes,
        expires_at: Option<OffsetDateTime>,
    },
    /// `AUTH_MODE=open`: the guide's behaviour, no identity at all. Anyone
    /// may do anything; new snippets are public and unowned.
    Open,
}

impl Caller {
    pub fn handle(&self) -> Option<&str> {
        match self {
            Caller::Owner { handle, .. } => Some(handle),
            _ => None,
        }
    }

    pub fn scopes(&self) -> Scopes {
        match self {
            Caller::Owner { scopes, .. } => *scopes,
            _ => Scopes::default(),
        }
    }

    /// Admin, or open mode: may read and modify every snippet.
    pub fn is_admin(&self) -> bool {
        match self {
            Caller::Open => true,
            Caller::Owner { scopes, .. } => scopes.contains(Scope::Admin),
            Caller::Anonymous => false,
        }
    }

    /// Ok when the caller holds `scope` (or admin, or open mode); else the
    /// error says whether a token is missing or only the scope.
    pub fn require(&self, scope: Scope) -> Result<(), Denied> {
        match self {
            Caller::Open => Ok(()),
            Caller::Anonymous => Err(Denied::Unauthenticated),
            Caller::Owner { scopes, .. } if scopes.allows(scope) => Ok(()),
            Caller::Owner { .. } => Err(Denied::MissingScope(scope)),
        }
    }
}

/// Why the caller may not do something, before any row is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("this request needs a bearer token")]
    Unauthenticated,
    #[error("the token lacks the scope {0}")]
    MissingScope(Scope),
    /// A write named the caller as owner, and that owner's row is gone
    /// (deleted while this process still trusted a cached token): the
    /// token is dead, so a 401 `invalid_token`, never a 500. Raised from
    /// the owner foreign keys' violation (`crate::snippets::error`).
    #[error("the token's owner no longer exists")]
    OwnerGone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_imply() {
        let s = Scopes::parse_names(&["snippets:read", "tokens:write"]).unwrap();
        assert!(s.contains(Scope::SnippetsRead) && !s.allows(Scope::SnippetsWrite));
        assert_eq!(s.names(), ["snippets:read", "tokens:write"]);
        assert_eq!(
            Scopes::parse_names(&["snippets:read", "root"]),
            Err("root".into())
        );
        let admin = Scopes::of(&[Scope::Admin]);
        assert!(Scope::ALL.iter().all(|x| admin.allows(*x)));
        assert!(s.is_subset_of(admin));
        assert!(!admin.is_subset_of(s));
        assert!(Scopes::of(&[Scope::SnippetsRead]).is_subset_of(s));
        assert_eq!(Scopes::from_names(&["nope", "admin"]), admin);
    }

    #[test]
    fn callers_require_scopes() {
        let owner = Caller::Owner {
            handle: "a".into(),
            token_id: Uuid::nil(),
            scopes: Scopes::of(&[Scope::SnippetsRead]),
            expires_at: None,
        };
        assert_eq!(owner.require(Scope::SnippetsRead), Ok(()));
        assert_eq!(
            owner.require(Scope::SnippetsWrite),
            Err(Denied::MissingScope(Scope::SnippetsWrite))
        );
        assert_eq!(
            Caller::Anonymous.require(Scope::SnippetsRead),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(Caller::Open.require(Scope::Admin), Ok(()));
    }
}
