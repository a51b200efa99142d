//! The domain's one face: what the HTTP layer may ask of snippets. It owns
//! the pool handle, the coalescers (id lookups, creates), the search
//! slots and word statistics, and the settings the rules need (quotas,
//! expiry); every read goes through the visibility rules of access.rs.
//! The modules behind it (store, lookups, creates, revisions, forks,
//! transfer) are reached only through here.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::creates::{Creates, NewRow as NewSnippet};
use super::lookups::Lookups;
use super::revisions::{Revision, RevisionQuery};
use super::searches::Searches;
use super::transfer::{ExportPage, NewRow, Outcome};
use super::words::Words;
use super::{
    expiry, forks, quota, revisions, store, transfer, Cursor, ForkedFrom, ListQuery, Precondition,
    Snippet, SnippetError, SnippetInput, Visibility,
};
use crate::auth::{Caller, Scope};
use crate::config::{Quota, SearchLimits};
use crate::db::DbPool;

type Result<T> = std::result::Result<T, SnippetError>;

/// The rules' settings, from the configuration (src/config/mod.rs).
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// `QUOTA_MAX_SNIPPETS`, `QUOTA_MAX_BYTES`.
    pub quota: Quota,
    /// `MAX_EXPIRY_SECONDS`.
    pub max_expiry: Duration,
    /// `SEARCH_PER_CLIENT`, `SEARCH_TIMEOUT_MS`.
    pub search: SearchLimits,
}

pub struct Snippets {
    pool: DbPool,
    lookups: Lookups,
    creates: Creates,
    searches: Searches,
    words: Words,
    rules: Rules,
}

impl Snippets {
    pub fn new(pool: DbPool, rules: Rules) -> Snippets {
        super::validate::warm_up();
        Snippets {
            lookups: Lookups::new(pool.clone()),
            creates: Creates::new(pool.clone()),
            searches: Searches::new(pool.search_slots(), pool.timeout(), rules.search.per_client),
            words: Words::new(),
            pool,
            rules,
        }
    }

    /// Readiness: one round trip through the pool.
    pub async fn ping(&self) -> Result<()> {
        store::ping(&self.pool).await
    }

    /// One snippet as the caller may see it (coalesced with concurrent
    /// lookups); `NotFound` for another owner's private one. Its
    /// `forkedFrom` is not yet checked: [`Snippets::show_sources`].
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Snippet> {
        self.lookups.get_for(caller, id).await
    }

    /// `forkedFrom.id` cleared where the caller may not read the source.
    pub async fn show_sources(&self, caller: &Caller, rows: &mut [Snippet]) -> Result<()> {
        forks::show_sources(&self.pool, caller, rows).await
    }

    /// A page of the list; `true` when there is a next one. A search (tags
    /// or text) may be slow: it waits for a search slot first, so that
    /// searches queue behind each other and never take the connections
    /// lookups and writes need. A plain page, or one language alone, is a
    /// walk of 21 rows of a btree in page order: no slot.
    /// `client` names who asks (an owner, or an address /64): one client
    /// runs at most its share of the searches at once (searches.rs).
    pub async fn list(
        &self,
        caller: &Caller,
        client: &str,
        q: &ListQuery,
    ) -> Result<(Vec<Snippet>, bool)> {
        let search = !q.tags.is_empty() || q.q.is_some();
        let _slot = match search {
            true => Some(self.searches.slot(client).await?),
            false => None,
        };
        let timeout = search.then_some(self.rules.search.timeout);
        let (mut rows, more) = store::list(&self.pool, &self.words, caller, q, timeout).await?;
        self.show_sources(caller, &mut rows).await?;
        Ok((rows, more))
    }

    /// POST: a body (any JSON) checked against the create schema and the
    /// expiry rules, then inserted with the caller's quota.
    pub async fn create(&self, caller: &Caller, body: Value) -> Result<Snippet> {
        let input = expiry::input(body, self.rules.max_expiry)?;
        self.insert(caller, input, None).await
    }

    /// A new snippet owned by the caller (`snippets:write`), recording the
    /// fork's source when there is one. In open mode it is unowned and
    /// public, as every snippet was before owners. Inserted by the
    /// coalescer (creates.rs), with whatever other creates wait at the same
    /// moment, in one statement; the owner's quota is checked under its
    /// quota lock in that statement.
    async fn insert(
        &self,
        caller: &Caller,
        input: SnippetInput,
        source: Option<ForkedFrom>,
    ) -> Result<Snippet> {
        caller.require(Scope::SnippetsWrite)?;
        let visibility = match caller {
            Caller::Open => Visibility::Public,
            _ => input.visibility.unwrap_or_default(),
        };
        let row = NewSnippet {
            // v7: time-ordered, so new rows land at the right edge of the index.
            id: Uuid::now_v7(),
            input,
            owner: caller.handle().map(str::to_string),
            visibility,
            forked_from: source.map(|f| (f.id, f.version)),
            checked: quota::owner_of(caller).map(|_| self.rules.quota),
        };
        self.creates.create(row).await
    }

    /// PUT: a full replacement.
    pub async fn replace(
        &self,
        caller: &Caller,
        id: Uuid,
        body: Value,
        pre: &Precondition,
    ) -> Result<Snippet> {
        let input = expiry::input(body, self.rules.max_expiry)?;
        let mut s = store::replace(&self.pool, caller, id, &input, pre, self.rules.quota).await?;
        self.show_sources(caller, std::slice::from_mut(&mut s))
            .await?;
        Ok(s)
    }

    /// PATCH: a merge patch; one that changes nothing writes nothing.
    pub async fn patch(
        &self,
        caller: &Caller,
        id: Uuid,
        mut body: Value,
        pre: &Precondition,
    ) -> Result<Snippet> {
        let now = time::OffsetDateTime::now_utc();
        let change =
            expiry::take(&mut body, self.rules.max_expiry, now).map_err(SnippetError::Invalid)?;
        let quota = self.rules.quota;
        let mut s = store::patch(&self.pool, caller, id, &body, change, pre, quota).await?;
        self.show_sources(caller, std::slice::from_mut(&mut s))
            .await?;
        Ok(s)
    }

    pub async fn delete(&self, caller: &Caller, id: Uuid, pre: &Precondition) -> Result<()> {
        store::delete(&self.pool, caller, id, pre).await
    }

    /// A copy of a snippet the caller may read (another owner's private
    /// one is a 404, as on GET), as a create of the caller's: its scope and
    /// quota apply. The fork keeps the source's visibility: a copy is never
    /// more visible than what it was copied from.
    pub async fn fork(&self, caller: &Caller, id: Uuid) -> Result<Snippet> {
        let source = self.get(caller, id).await?;
        let from = ForkedFrom {
            id: source.id,
            version: source.version,
        };
        let mut s = self
            .insert(caller, SnippetInput::from(&source), Some(from))
            .await?;
        self.show_sources(caller, std::slice::from_mut(&mut s))
            .await?;
        Ok(s)
    }

    /// A page of a snippet's history the caller may read, newest first,
    /// the current version included; `true` when there is a next page.
    pub async fn history(
        &self,
        caller: &Caller,
        id: Uuid,
        q: RevisionQuery,
    ) -> Result<(Snippet, Vec<Revision>, bool)> {
        let current = self.get(caller, id).await?;
        let (rows, more) = revisions::page(&self.pool, caller, &current, q).await?;
        Ok((current, rows, more))
    }

    /// One version the caller may read, with the visibility it was written
    /// with, and the snippet as it is now.
    pub async fn version(
        &self,
        caller: &Caller,
        id: Uuid,
        version: i64,
    ) -> Result<(Snippet, Revision, Visibility)> {
        let current = self.get(caller, id).await?;
        let (rev, written) = revisions::get(&self.pool, caller, &current, version).await?;
        Ok((current, rev, written))
    }

    /// Whose snippets the caller exports, and a reader of its pages.
    pub fn exporter(&self, caller: &Caller, revisions: bool) -> Result<Exporter> {
        Ok(Exporter {
            pool: self.pool.clone(),
            owner: transfer::exporter(caller)?,
            revisions,
        })
    }

    /// One import line, checked as a create (an admin's keeps its
    /// server-owned fields and history).
    pub fn check_import_line(
        &self,
        line: usize,
        body: Value,
        caller: &Caller,
    ) -> std::result::Result<NewRow, Outcome> {
        transfer::check_line(line, body, caller, self.rules.max_expiry)
    }

    /// Checked lines written in one transaction (each alone if the batch
    /// meets a constraint): one outcome per line.
    pub async fn import_batch(&self, caller: &Caller, rows: Vec<NewRow>) -> Vec<Outcome> {
        transfer::import_batch(&self.pool, caller, rows, self.rules.quota).await
    }
}

/// An export in progress: reads one keyset page at a time, each with its
/// own connection check-out (a slow reader holds none).
#[derive(Clone)]
pub struct Exporter {
    pool: DbPool,
    owner: Option<String>,
    revisions: bool,
}

impl Exporter {
    pub async fn page(&self, after: Option<Cursor>) -> Result<ExportPage> {
        transfer::export_page(&self.pool, self.owner.as_deref(), after, self.revisions).await
    }
}
