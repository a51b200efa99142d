//! Rate limits: GCRA token buckets from the `governor` crate, one keyed
//! limiter per budget (reads = GET/HEAD, writes = everything else), keyed
//! on the token's owner when there is one and on the client address
//! otherwise (src/http/client_ip.rs).
//!
//! Memory is bounded twice: a background task drops buckets that are full
//! again (`retain_recent`, then `shrink_to_fit`), and past
//! `RATE_LIMIT_MAX_KEYS` tracked clients, anonymous newcomers share one
//! bucket ([`Key::Overflow`]) until the sweep makes room: a flood of
//! distinct addresses then limits itself (and, for its duration, other new
//! anonymous clients; the WAF holds the global line), while clients
//! already tracked keep their own bucket. Owners are never folded: their
//! number is bounded by the owners table.
//!
//! An anonymous client is its IPv4 address, or its IPv6 /64: one
//! subscriber usually holds a whole /64 (RFC 6177), so keying by the full
//! address would give one client 2^64 buckets.
//!
//! Headers: draft-ietf-httpapi-ratelimit-headers-08 (October 2024; structured fields, a named policy with its parameters):
//! `RateLimit-Policy: "reads";q=600;w=60` and `RateLimit: "reads";r=599;t=0`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::nanos::Nanos;
use governor::state::keyed::{DefaultKeyedStateStore, ShrinkableKeyedStateStore};
use governor::state::StateStore;
use governor::{Quota, RateLimiter};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method};

use crate::config::RateConfig;

pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// How often idle buckets are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// How often (in anonymous checks) the number of tracked keys is looked at
/// between sweeps: `len()` visits every shard, too dear for each request.
const COUNT_EVERY: u32 = 256;

/// Whose bucket a request takes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Owner(Arc<str>),
    Ip(IpAddr),
    /// Every anonymous client not yet tracked while the limiter is full.
    Overflow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    Reads,
    Writes,
    /// Database lookups of tokens the cache does not know, per address,
    /// charged before the lookup (as many a minute as reads): a flood of
    /// forged tokens is refused without database work, while anonymous
    /// reads that exhaust an address (a NAT) do not keep its owners from
    /// being verified.
    Lookups,
}

impl Budget {
    pub fn of(method: &Method) -> Budget {
        if method == Method::GET || method == Method::HEAD {
            Budget::Reads
        } else {
            Budget::Writes
        }
    }

    fn name(self) -> &'static str {
        match self {
            Budget::Reads => "reads",
            Budget::Writes => "writes",
            Budget::Lookups => "token-lookups",
        }
    }
}

impl Key {
    /// An anonymous client's key: its IPv4 address, its IPv6 /64.
    pub fn address(ip: IpAddr) -> Key {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Key::Ip(IpAddr::V6(prefix.into()))
            }
            v4 => Key::Ip(v4),
        }
    }
}

/// governor's keyed store, shared with [`Limits`] so that it can ask
/// whether a client is tracked already (governor only checks, and
/// `check_key` inserts): a new type because the store is the limiter's.
#[derive(Clone, Default)]
struct Store(Arc<DefaultKeyedStateStore<Key>>);

impl StateStore for Store {
    type Key = Key;

    fn measure_and_replace<T, F, E>(&self, key: &Key, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<Key> for Store {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&*self.0, drop_below)
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&*self.0)
    }

    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&*self.0)
    }

    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&*self.0)
    }
}

type Keyed = RateLimiter<Key, Store, DefaultClock, StateInformationMiddleware>;

struct Bucket {
    limiter: Keyed,
    store: Store,
    per_minute: u32,
    /// Seconds per request regained.
    interval: f64,
    policy: HeaderValue,
}

impl Bucket {
    fn new(budget: Budget, per_minute: u32) -> Bucket {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let store = Store::default();
        Bucket {
            limiter: RateLimiter::<_, _, _, NoOpMiddleware<<DefaultClock as Clock>::Instant>>::new(
                Quota::per_minute(n),
                store.clone(),
                DefaultClock::default(),
            )
            .with_middleware(),
            store,
            per_minute: n.get(),
            interval: 60.0 / f64::from(n.get()),
            policy: HeaderValue::from_str(&format!("\"{}\";q={};w=60", budget.name(), n.get()))
                .expect("ASCII"),
        }
    }
}

/// The outcome of one check: headers for the response, and whether it may
/// go on.
pub struct Decision {
    pub allowed: bool,
    /// Whole seconds until a request would be allowed (0 when allowed).
    pub retry_after: u64,
    headers: [(HeaderName, HeaderValue); 2],
}

impl Decision {
    /// `RateLimit-Policy` and `RateLimit`. A refusal's `Retry-After` comes
    /// with its problem (`ApiError::TooManyRequests` in problem.rs).
    pub fn apply(self, h: &mut HeaderMap) {
        for (k, v) in self.headers {
            h.insert(k, v);
        }
    }
}

pub struct Limits {
    reads: Bucket,
    writes: Bucket,
    lookups: Bucket,
    max_keys: usize,
    /// Set when a budget tracks `max_keys` keys; cleared by a sweep.
    full: AtomicBool,
    anonymous_checks: AtomicU32,
}

impl Limits {
    pub fn new(cfg: &RateConfig) -> Arc<Limits> {
        Arc::new(Limits {
            reads: Bucket::new(Budget::Reads, cfg.reads_per_minute),
            writes: Bucket::new(Budget::Writes, cfg.writes_per_minute),
            lookups: Bucket::new(Budget::Lookups, cfg.reads_per_minute),
            max_keys: cfg.max_keys,
            full: AtomicBool::new(false),
            anonymous_checks: AtomicU32::new(0),
        })
    }

    fn bucket(&self, budget: Budget) -> &Bucket {
        match budget {
            Budget::Reads => &self.reads,
            Budget::Writes => &self.writes,
            Budget::Lookups => &self.lookups,
        }
    }

    /// Tracked keys in the largest budget.
    pub fn len(&self) -> usize {
        [&self.reads, &self.writes, &self.lookups]
            .iter()
            .map(|b| b.limiter.len())
            .max()
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bucket an anonymous client at `ip` takes from in `budget`: its
    /// own (by [`Key::address`]), unless the limiter is full and the
    /// client is not tracked yet.
    pub fn anonymous(&self, budget: Budget, ip: IpAddr) -> Key {
        if self.anonymous_checks.fetch_add(1, Relaxed) % COUNT_EVERY == 0 {
            self.full.store(self.len() >= self.max_keys, Relaxed);
        }
        let key = Key::address(ip);
        if self.full.load(Relaxed) && !self.bucket(budget).store.0.contains_key(&key) {
            Key::Overflow
        } else {
            key
        }
    }

    /// Takes one request from `key`'s `budget`.
    pub fn check(&self, budget: Budget, key: &Key) -> Decision {
        let b = self.bucket(budget);
        let (allowed, remaining, reset) = match b.limiter.check_key(key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                // Until the whole quota is back: one interval per used request.
                let used = f64::from(b.per_minute.saturating_sub(remaining));
                (true, remaining, (used * b.interval).floor() as u64)
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(b.limiter.clock().now());
                (
                    false,
                    0,
                    wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                )
            }
        };
        let retry_after = if allowed { 0 } else { reset.max(1) };
        let value = format!(
            "\"{}\";r={remaining};t={}",
            budget.name(),
            if allowed { reset } else { retry_after }
        );
        Decision {
            allowed,
            retry_after,
            headers: [
                (RATELIMIT_POLICY, b.policy.clone()),
                (RATELIMIT, HeaderValue::from_str(&value).expect("ASCII")),
            ],
        }
    }

    /// Drops the buckets that are full again (a client seen again starts
    /// from a full bucket, which is what it would have), and their memory.
    pub fn sweep(&self) {
        for b in [&self.reads, &self.writes, &self.lookups] {
            b.limiter.retain_recent();
            b.limiter.shrink_to_fit();
        }
        self.full.store(self.len() >= self.max_keys, Relaxed);
    }

    /// Sweeps every [`SWEEP_EVERY`] until the limits are dropped.
    pub fn spawn_sweeper(limits: &Arc<Limits>) {
        let weak: Weak<Limits> = Arc::downgrade(limits);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(l) => l.sweep(),
                    None => return,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::RETRY_AFTER;

    fn limits(reads: u32, writes: u32, max_keys: usize) -> Arc<Limits> {
        Limits::new(&RateConfig {
            reads_per_minute: reads,
            writes_per_minute: writes,
            max_keys,
        })
    }

    fn header(d: Decision, name: HeaderName) -> String {
        let mut h = HeaderMap::new();
        d.apply(&mut h);
        h.get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn budgets_and_headers() {
        let l = limits(600, 2, 1000);
        let k = Key::Owner("a".into());
        let d = l.check(Budget::Reads, &k);
        assert!(d.allowed);
        assert_eq!(header(d, RATELIMIT_POLICY), "\"reads\";q=600;w=60");
        assert_eq!(
            header(l.check(Budget::Reads, &k), RATELIMIT),
            "\"reads\";r=598;t=0"
        );
        assert_eq!(
            header(l.check(Budget::Writes, &k), RATELIMIT),
            "\"writes\";r=1;t=30"
        );
        assert!(l.check(Budget::Writes, &k).allowed);
        let d = l.check(Budget::Writes, &k);
        assert!(!d.allowed);
        assert!((1..=30).contains(&d.retry_after), "{}", d.retry_after);
        let ra = d.retry_after;
        let mut h = HeaderMap::new();
        d.apply(&mut h);
        assert!(h.get(RETRY_AFTER).is_none(), "the problem writes it");
        assert_eq!(h[RATELIMIT], format!("\"writes\";r=0;t={ra}"));
        // Another key, its own bucket.
        assert!(l.check(Budget::Writes, &Key::Owner("b".into())).allowed);
        assert_eq!(Budget::of(&Method::HEAD), Budget::Reads);
        assert_eq!(Budget::of(&Method::OPTIONS), Budget::Writes);
    }

    #[test]
    fn past_the_cap_newcomers_share_one_bucket_until_a_sweep() {
        let l = limits(600, 60, 100);
        let tracked = IpAddr::from([10, 0, 0, 0]);
        for i in 0..=COUNT_EVERY {
            let key = l.anonymous(
                Budget::Reads,
                IpAddr::from([10, 0, (i >> 8) as u8, i as u8]),
            );
            assert!(l.check(Budget::Reads, &key).allowed);
        }
        let key = l.anonymous(Budget::Reads, IpAddr::from([192, 0, 2, 1]));
        assert_eq!(key, Key::Overflow);
        // Bounded: at most COUNT_EVERY past the cap.
        assert!(l.len() <= 100 + COUNT_EVERY as usize + 1);
        // Issue 30, finding 5: a client tracked before keeps its bucket…
        assert_eq!(l.anonymous(Budget::Reads, tracked), Key::Ip(tracked));
        // …in the budget where it is tracked.
        assert_eq!(l.anonymous(Budget::Writes, tracked), Key::Overflow);
    }

    /// Issue 30, finding 4: IPv6 clients are keyed by their /64; an
    /// IPv4-mapped address is its IPv4 address.
    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let k = Key::address(ip("2001:db8:1:1::1"));
        assert_eq!(k, Key::Ip(ip("2001:db8:1:1::")));
        assert_eq!(Key::address(ip("2001:db8:1:1::2")), k);
        assert_eq!(Key::address(ip("2001:db8:1:1:ffff:ffff:ffff:fffe")), k);
        assert_ne!(Key::address(ip("2001:db8:1:2::1")), k);
        assert_eq!(
            Key::address(ip("::ffff:192.0.2.7")),
            Key::Ip(ip("192.0.2.7"))
        );
        assert_eq!(Key::address(ip("192.0.2.7")), Key::Ip(ip("192.0.2.7")));
        let l = limits(2, 60, 1000);
        for _ in 0..2 {
            assert!(
                l.check(
                    Budget::Reads,
                    &l.anonymous(Budget::Reads, ip("2001:db8:1:1::1"))
                )
                .allowed
            );
        }
        let other = l.anonymous(Budget::Reads, ip("2001:db8:1:1:ffff:ffff:ffff:fffe"));
        assert!(
            !l.check(Budget::Reads, &other).allowed,
            "the same /64, the same bucket"
        );
    }
}
