//! How common each search word is in public rows, from PostgreSQL's own
//! statistics of the public search index (`pg_stats.most_common_elems`,
//! refreshed by ANALYZE; see [`STATS_SQL`]), so
//! that a text search for a rare word can run as a cached prepared statement
//! with a fixed plan (the GIN index, then a sort of its few matches) instead
//! of being parsed and planned for its values on every request, and a
//! search for common words can look for its page in page order first
//! (list.rs).
//!
//! Why: planning the text search for its values cost PostgreSQL 0.12 ms of a
//! 0.28 ms search, and `make bench`'s search fell from 3,660 (ca19f70) to
//! 2,715 req/s (docs/performance.md, "The rare-word search statement"). The
//! planner needs the values only to tell a rare word (sort its matches) from
//! a common one (walk the newest-first index until a page is full); these
//! statistics are the ones it reads to tell them apart (`tsmatchsel` in
//! PostgreSQL's src/backend/tsearch/ts_selfuncs.c), read here once a minute
//! instead of once per search.
//!
//! A wrong guess costs time, never rows: both plans return the same page.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::{Array, Double, Float4, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// How old the statistics may be before a search reads them again.
const REFRESH_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Words {
    /// The statistics and when they were read; `None` before the first read.
    stats: Mutex<Option<(Instant, Arc<Stats>)>>,
    /// A search is reading them: the others use what there is meanwhile.
    reading: AtomicBool,
}

/// `most_common_elems` of public rows' `search` with their frequencies
/// (share of rows), the smallest listed frequency (a word not listed is
/// rarer) and the estimated count of public rows.
#[derive(Debug, Default)]
struct Stats {
    freq: HashMap<String, f32>,
    min_freq: f32,
    rows: f64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Array<Text>)]
    elems: Vec<String>,
    #[diesel(sql_type = Array<Float4>)]
    freqs: Vec<f32>,
    #[diesel(sql_type = Double)]
    rows: f64,
}

/// One row when the index of public rows has been analyzed; none before.
/// ANALYZE keeps statistics of an index's expression over the index's
/// rows alone (PostgreSQL's src/backend/commands/analyze.c,
/// `compute_index_stats`, checks a partial index's predicate), so these
/// are the frequencies of words in public rows: what private rows contain
/// never changes which plan a search takes (issue 31). The frequencies
/// array ends with three extra numbers (min, max, null share: PostgreSQL's
/// docs, "pg_stats"); rows are the index's (public rows).
const STATS_SQL: &str = "SELECT most_common_elems::text::text[] AS elems, \
    most_common_elem_freqs AS freqs, \
    coalesce((SELECT greatest(reltuples, 0)::float8 FROM pg_class \
      WHERE oid = to_regclass('snippets_public_filters_idx')), 0) AS rows \
    FROM pg_stats WHERE schemaname = current_schema() \
    AND tablename = 'snippets_public_filters_idx' \
    AND attname = 'expr' AND most_common_elems IS NOT NULL";

impl Words {
    pub fn new() -> Words {
        Words::default()
    }

    /// What the statistics say of the rows the text search `text` matches:
    /// at most, and as expected. `None` when that bounds nothing (no
    /// statistics yet, a side with no plain word).
    pub async fn estimate(&self, c: &mut AsyncPgConnection, text: &str) -> Option<Estimate> {
        let groups = or_groups(text)?;
        let stats = self.stats(c).await?;
        stats.estimate(&groups)
    }

    /// The current statistics, read again (on `c`, by one search at a time)
    /// when missing or older than [`REFRESH_EVERY`]. A failed read keeps
    /// what there was and is tried again a minute later.
    async fn stats(&self, c: &mut AsyncPgConnection) -> Option<Arc<Stats>> {
        let held = self.lock().clone();
        let fresh = held
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < REFRESH_EVERY);
        if fresh || self.reading.swap(true, Ordering::AcqRel) {
            return held.map(|(_, s)| s);
        }
        let read = diesel::sql_query(STATS_SQL).load::<Row>(c).await;
        let stats = match read {
            Ok(mut rows) => Some(Arc::new(rows.pop().map(Stats::from).unwrap_or_default())),
            Err(e) => {
                log::warn!(target: "snippetd::search", "reading the word statistics: {e}");
                held.map(|(_, s)| s)
            }
        };
        if let Some(s) = &stats {
            *self.lock() = Some((Instant::now(), s.clone()));
        }
        self.reading.store(false, Ordering::Release);
        stats
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<Stats>)>> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl From<Row> for Stats {
    fn from(r: Row) -> Stats {
        let n = r.elems.len();
        Stats {
            min_freq: r.freqs.get(n).copied().unwrap_or(0.0),
            freq: r.elems.into_iter().zip(r.freqs).collect(),
            rows: r.rows,
        }
    }
}

impl Stats {
    /// The sum over OR sides of the side's rarest word (at most), and of
    /// the product of its words' frequencies (expected, as if words were
    /// independent). No statistics (never analyzed, or an empty table):
    /// nothing is known.
    fn estimate(&self, groups: &[Vec<String>]) -> Option<Estimate> {
        if self.freq.is_empty() || self.rows <= 0.0 {
            return None;
        }
        let f = |w: &String| f64::from(self.freq.get(w).copied().unwrap_or(self.min_freq));
        let (mut at_most, mut expected) = (0.0, 0.0);
        for g in groups {
            at_most += g.iter().map(f).reduce(f64::min)? * self.rows;
            expected += g.iter().map(f).product::<f64>() * self.rows;
        }
        Some(Estimate {
            at_most,
            expected,
            rows: self.rows,
        })
    }
}

/// Rows of a text search, by the statistics of public rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// No more can match: an AND matches at most what its rarest word
    /// does, an OR at most the sum of its sides.
    pub at_most: f64,
    /// As many would match if words were independent.
    pub expected: f64,
    /// Public rows.
    pub rows: f64,
}

/// The sides of `text`'s ORs under `websearch_to_tsquery('simple', …)`,
/// each with the plain words (ASCII letters and digits: each its own
/// lexeme, lower-cased) it must contain. Negated words and words the
/// parser may split (punctuation, non-ASCII) are left out: they only
/// narrow a side. `None` when a side keeps no word (nothing bounds it),
/// or a quote meets a `-` (a negated phrase reads differently).
fn or_groups(text: &str) -> Option<Vec<Vec<String>>> {
    if text.contains('"') && text.contains('-') {
        return None;
    }
    let mut groups = vec![Vec::new()];
    for token in text.split_ascii_whitespace() {
        if token.eq_ignore_ascii_case("or") {
            groups.push(Vec::new());
            continue;
        }
        let word = token.trim_matches('"').to_ascii_lowercase();
        if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric()) {
            groups.last_mut().expect("one group at least").push(word);
        }
    }
    groups.iter().all(|g| !g.is_empty()).then_some(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ors_split_into_sides_of_plain_words() {
        let g = |t: &str| or_groups(t);
        let v = |s: &[&[&str]]| -> Option<Vec<Vec<String>>> {
            Some(
                s.iter()
                    .map(|g| g.iter().map(|w| w.to_string()).collect())
                    .collect(),
            )
        };
        assert_eq!(g("Sym17  fn"), v(&[&["sym17", "fn"]]));
        assert_eq!(g("a or b c"), v(&[&["a"], &["b", "c"]]));
        assert_eq!(g("a OR b"), v(&[&["a"], &["b"]]));
        assert_eq!(g("\"a b\" c"), v(&[&["a", "b", "c"]]));
        assert_eq!(g("a -b"), v(&[&["a"]]));
        assert_eq!(g("a é.b"), v(&[&["a"]]));
        for t in ["", "  ", "-a", "a or", "or b", "é", "a.b", "-\"a b\" c"] {
            assert_eq!(g(t), None, "{t:?}");
        }
    }

    #[test]
    fn a_search_matches_at_most_its_rarest_words() {
        let s = Stats {
            freq: [("fn".to_string(), 0.9f32), ("sym1".to_string(), 0.01)]
                .into_iter()
                .collect(),
            min_freq: 0.005,
            rows: 10_000.0,
        };
        let n = |t: &str| {
            s.estimate(&or_groups(t).unwrap())
                .map(|e| (e.at_most.round(), e.expected.round()))
        };
        assert_eq!(n("fn"), Some((9000.0, 9000.0)));
        assert_eq!(n("sym1"), Some((100.0, 100.0)));
        assert_eq!(n("fn sym1"), Some((100.0, 90.0)));
        assert_eq!(n("fn or sym1"), Some((9100.0, 9100.0)));
        // Not listed: rarer than the least common listed word.
        assert_eq!(n("unlisted"), Some((50.0, 50.0)));
        assert_eq!(n("unlisted fn"), Some((50.0, 45.0)));
        assert_eq!(Stats::default().estimate(&or_groups("sym1").unwrap()), None);
    }
}
