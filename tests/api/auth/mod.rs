//! Owners, tokens and visibility (issue 14) against a real PostgreSQL with
//! real tokens: the authorization matrix, lists across pages and filters,
//! the token endpoints, SHA-256 at rest, revocation across processes, the
//! CLI and the open mode.

use crate::common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{mint, mint_with, Client, InProcApp, Response};
use serde_json::{json, Value};

mod matrix;
mod servers;
mod tokens;

const NEVER: &str = "/snippets/00000000-0000-4000-8000-000000000000";

/// Every kind of caller of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Owner,
    OtherOwner,
    Admin,
    WrongScope,
    Expired,
    Revoked,
    Malformed,
    BadChecksum,
}

const EVERYONE: [Who; 9] = [
    Who::Anonymous,
    Who::Owner,
    Who::OtherOwner,
    Who::Admin,
    Who::WrongScope,
    Who::Expired,
    Who::Revoked,
    Who::Malformed,
    Who::BadChecksum,
];

/// Every kind of target snippet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Public,
    Unlisted,
    Private,
    /// owner NULL: written before owners existed.
    Unowned,
}

const TARGETS: [Target; 4] = [
    Target::Public,
    Target::Unlisted,
    Target::Private,
    Target::Unowned,
];

struct World {
    app: InProcApp,
    /// alice, with snippets:read, snippets:write, tokens:write.
    owner: Client,
    clients: Vec<(Who, Client)>,
}

fn bad_checksum(token: &str) -> String {
    let mut b = token.as_bytes().to_vec();
    let i = 10;
    b[i] = if b[i] == b'a' { b'b' } else { b'a' };
    String::from_utf8(b).unwrap()
}

fn world() -> World {
    let app = InProcApp::new();
    let db = &app.db;
    let full = ["snippets:read", "snippets:write", "tokens:write"];
    let anon = app.anon();
    let owner = anon.with_token(&mint(db, "alice", &full));
    let clients = EVERYONE
        .iter()
        .map(|w| {
            let c = match w {
                Who::Anonymous => anon.clone(),
                Who::Owner => owner.clone(),
                Who::OtherOwner => anon.with_token(&mint(db, "bob", &full)),
                Who::Admin => anon.with_token(&mint(db, "root", &["admin"])),
                Who::WrongScope => anon.with_token(&mint(db, "alice", &["tokens:write"])),
                Who::Expired => anon.with_token(&mint_with(
                    db,
                    "alice",
                    &full,
                    &[("expires_at", "now() - interval '1 minute'")],
                )),
                Who::Revoked => {
                    anon.with_token(&mint_with(db, "alice", &full, &[("revoked_at", "now()")]))
                }
                Who::Malformed => anon.with_token("snp_not-a-token"),
                Who::BadChecksum => anon.with_token(&bad_checksum(&mint(db, "alice", &full))),
            };
            (*w, c)
        })
        .collect();
    World {
        app,
        owner,
        clients,
    }
}

const SECRET: &str = "SECRET-TITLE-7f3a";

impl World {
    /// A fresh target snippet; its path.
    fn target(&self, t: Target) -> String {
        let id = match t {
            Target::Unowned => {
                let out = self.app.db.psql(&format!(
                    "INSERT INTO snippets (id, title, language, code) \
                     VALUES (gen_random_uuid(), '{SECRET}', 'sql', 'select 1') RETURNING id"
                ));
                out.lines()
                    .map(str::trim)
                    .find(|l| l.len() == 36)
                    .unwrap_or_else(|| panic!("no id in {out:?}"))
                    .to_string()
            }
            _ => {
                let vis = match t {
                    Target::Public => "public",
                    Target::Unlisted => "unlisted",
                    _ => "private",
                };
                let r = self.owner.json(
                    "POST",
                    "/snippets",
                    &json!({"title": SECRET, "language": "rust", "code": "fn secret() {}", "visibility": vis}),
                );
                assert_eq!(r.status, 201, "{}", r.text());
                assert_eq!(r.json()["owner"], "alice");
                assert_eq!(r.json()["visibility"], vis);
                r.json()["id"].as_str().unwrap().to_string()
            }
        };
        format!("/snippets/{id}")
    }
}

fn send(c: &Client, method: &str, path: &str) -> Response {
    match method {
        "GET" | "DELETE" => c.send(method, path, &[], None),
        "PUT" => c.json(
            "PUT",
            path,
            &json!({"title": "replaced", "language": "rust", "code": "x"}),
        ),
        "PATCH" => c.send(
            "PATCH",
            path,
            &[("Content-Type", "application/merge-patch+json")],
            Some(br#"{"title":"patched"}"#),
        ),
        _ => unreachable!(),
    }
}

/// The statuses of issue 14, for one snippet route.
fn expected(who: Who, method: &str, t: Target) -> u16 {
    let read = method == "GET";
    let ok = if method == "DELETE" { 204 } else { 200 };
    match who {
        Who::Expired | Who::Revoked | Who::Malformed | Who::BadChecksum => 401,
        Who::Admin => ok,
        Who::Anonymous => match (read, t) {
            (true, Target::Private) => 404,
            (true, _) => 200,
            (false, _) => 401,
        },
        // alice's token without snippets:read/write: private is hidden
        // from it, and writes lack the scope before any row is read.
        Who::WrongScope => match (read, t) {
            (true, Target::Private) => 404,
            (true, _) => 200,
            (false, _) => 403,
        },
        Who::Owner => match (read, t) {
            (true, _) => 200,
            (false, Target::Unowned) => 403,
            (false, _) => ok,
        },
        Who::OtherOwner => match (read, t) {
            (_, Target::Private) => 404,
            (true, _) => 200,
            (false, _) => 403,
        },
    }
}
