//! How common each search word is, from PostgreSQL's own statistics of the
//! `search` column (`pg_stats.most_common_elems`, refreshed by ANALYZE), so
//! that a text search for a rare word can run as a cached prepared statement
//! with a fixed plan (the GIN index, then a sort of its few matches) instead
//! of being parsed and planned for its values on every request.
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

/// `most_common_elems` of `snippets.search` with their frequencies (share
/// of rows), the smallest listed frequency (a word not listed is rarer) and
/// the table's estimated row count.
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

/// One row when `snippets.search` has been analyzed; none before. The
/// frequencies array ends with three extra numbers (min, max, null share:
/// PostgreSQL's docs, "pg_stats").
const STATS_SQL: &str = "SELECT most_common_elems::text::text[] AS elems, \
    most_common_elem_freqs AS freqs, \
    (SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = 'snippets'::regclass) AS rows \
    FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'snippets' \
    AND attname = 'search' AND most_common_elems IS NOT NULL";

impl Words {
    pub fn new() -> Words {
        Words::default()
    }

    /// Whether the text search `text` surely matches fewer than `limit`
    /// rows: it is an AND of plain words (what `websearch_to_tsquery`
    /// reads as such) and the statistics say one of them is that rare.
    /// Anything else (no statistics yet, `or`, `-`, quotes, punctuation,
    /// non-ASCII) is `false`: the search is planned for its values.
    pub async fn rare(&self, c: &mut AsyncPgConnection, text: &str, limit: f64) -> bool {
        let Some(words) = plain_words(text) else {
            return false;
        };
        match self.stats(c).await {
            Some(stats) => stats.any_rarer(&words, limit),
            None => false,
        }
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
    /// An AND matches at most what its rarest word matches. No statistics
    /// (never analyzed, or an empty table): nothing is known to be rare.
    fn any_rarer(&self, words: &[String], limit: f64) -> bool {
        if self.freq.is_empty() || self.rows <= 0.0 {
            return false;
        }
        words.iter().any(|w| {
            let f = self.freq.get(w).copied().unwrap_or(self.min_freq);
            f64::from(f) * self.rows < limit
        })
    }
}

/// The lexemes of `text` under `websearch_to_tsquery('simple', …)` when it
/// is an AND of words of ASCII letters and digits (each its own lexeme,
/// lower-cased); `None` for anything else.
fn plain_words(text: &str) -> Option<Vec<String>> {
    let words: Vec<String> = text
        .split_ascii_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let plain = !words.is_empty()
        && words
            .iter()
            .all(|w| w != "or" && w.bytes().all(|b| b.is_ascii_alphanumeric()));
    plain.then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ands_of_plain_words_are_read() {
        assert_eq!(
            plain_words("Sym17  fn"),
            Some(vec!["sym17".into(), "fn".into()])
        );
        for t in [
            "", "  ", "a or b", "a OR b", "-a", "\"a b\"", "a-b", "a_b", "é", "a.b",
        ] {
            assert_eq!(plain_words(t), None, "{t:?}");
        }
    }

    #[test]
    fn an_and_is_as_rare_as_its_rarest_word() {
        let s = Stats {
            freq: [("fn".to_string(), 0.9f32), ("sym1".to_string(), 0.01)]
                .into_iter()
                .collect(),
            min_freq: 0.005,
            rows: 10_000.0,
        };
        let w = |t: &str| plain_words(t).unwrap();
        assert!(!s.any_rarer(&w("fn"), 1000.0));
        assert!(s.any_rarer(&w("sym1"), 1000.0));
        assert!(s.any_rarer(&w("fn sym1"), 1000.0));
        // Not listed: rarer than the least common listed word.
        assert!(s.any_rarer(&w("unlisted"), 1000.0));
        let big = Stats {
            rows: 1_000_000.0,
            ..s
        };
        assert!(!big.any_rarer(&w("sym1"), 1000.0));
        assert!(!Stats::default().any_rarer(&w("sym1"), 1000.0));
    }
}
