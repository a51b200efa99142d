//! Abuse controls: rate limits, the proxies whose client address is
//! believed, quotas (docs/api.md, "Rate limits" and "Quotas").

use std::net::IpAddr;

use clap::builder::RangedU64ValueParser;
use clap::value_parser;

use super::Switch;

/// Rate limits, the client address they key on, and quotas (docs/api.md,
/// "Rate limits" and "Quotas").
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Abuse controls")]
pub struct LimitArgs {
    /// on, or off (no rate limits at all: load tests, local experiments; warns at startup)
    #[arg(long, env = "RATE_LIMITS", value_enum, default_value = "on")]
    pub rate_limits: Switch,
    /// GET and HEAD requests per minute per client (owner, or IP when anonymous); also the burst
    #[arg(long, env = "RATE_LIMIT_READS_PER_MINUTE", default_value_t = 600, value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_reads_per_minute: u32,
    /// Other requests per minute per client; also the burst
    #[arg(long, env = "RATE_LIMIT_WRITES_PER_MINUTE", default_value_t = 60, value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_writes_per_minute: u32,
    /// Distinct clients tracked per budget; beyond it, anonymous newcomers share one bucket
    #[arg(long, env = "RATE_LIMIT_MAX_KEYS", default_value_t = 100_000, value_parser = RangedU64ValueParser::<usize>::new().range(100..=10_000_000))]
    pub rate_limit_max_keys: usize,
    /// Comma-separated CIDRs of proxies whose CloudFront-Viewer-Address / X-Forwarded-For are believed (the VPC range on AWS); empty: the TCP peer is the client
    #[arg(long, env = "TRUSTED_PROXIES", value_parser = parse_cidrs)]
    pub trusted_proxies: Option<Cidrs>,
    /// Most snippets one owner may have
    #[arg(long, env = "QUOTA_MAX_SNIPPETS", default_value_t = 10_000, value_parser = value_parser!(i64).range(1..))]
    pub quota_max_snippets: i64,
    /// Most bytes (UTF-8 of title + description + code, summed) one owner may store
    #[arg(long, env = "QUOTA_MAX_BYTES", default_value_t = 104_857_600, value_parser = value_parser!(i64).range(1..))]
    pub quota_max_bytes: i64,
    /// Searches (tag or q) one client (owner, or address /64) may run or wait for at once; more get 429. 0 = a quarter of SEARCH_CONCURRENCY, at least 1
    #[arg(long, env = "SEARCH_PER_CLIENT", default_value_t = 0, value_parser = value_parser!(u32).range(0..=1000))]
    pub search_per_client: u32,
    /// Database time each statement of a search may take; past it, 503 search-timeout
    #[arg(long, env = "SEARCH_TIMEOUT_MS", default_value_t = 1000, value_parser = value_parser!(u64).range(10..=60_000))]
    pub search_timeout_ms: u64,
}

/// An IP network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // u128 arithmetic for both families; v4 occupies the low 32 bits.
        let (net, ip, bits) = match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(n.to_bits()), u128::from(i.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (n.to_bits(), i.to_bits(), 128),
            _ => return false,
        };
        let host_bits = bits - u32::from(self.prefix);
        host_bits >= bits || (net ^ ip) >> host_bits == 0
    }
}

/// `TRUSTED_PROXIES`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cidrs(pub Vec<Cidr>);

pub fn parse_cidrs(raw: &str) -> Result<Cidrs, String> {
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = || format!("{item:?} is not a CIDR like 10.0.0.0/16 or 2001:db8::/32");
        let (addr, prefix) = match item.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (item, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        // An IPv4-mapped network (::ffff:10.0.0.0/104) is its IPv4 network.
        let canonical = addr.to_canonical();
        let prefix = if canonical.is_ipv4() && addr.is_ipv6() {
            prefix.saturating_sub(96)
        } else {
            prefix
        };
        out.push(Cidr {
            addr: canonical,
            prefix,
        });
    }
    Ok(Cidrs(out))
}

/// Rate limits and quotas, validated.
#[derive(Clone, Debug)]
pub struct LimitsConfig {
    /// `None`: `RATE_LIMITS=off`.
    pub rate: Option<RateConfig>,
    pub trusted_proxies: Vec<Cidr>,
    pub quota: Quota,
    pub search: SearchLimits,
}

/// What one search may take (src/snippets/searches.rs, list.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchLimits {
    /// `SEARCH_PER_CLIENT`; 0: a quarter of the search slots.
    pub per_client: u32,
    /// `SEARCH_TIMEOUT_MS`: PostgreSQL's statement_timeout for searches.
    pub timeout: std::time::Duration,
}

#[derive(Clone, Copy, Debug)]
pub struct RateConfig {
    pub reads_per_minute: u32,
    pub writes_per_minute: u32,
    pub max_keys: usize,
}

/// Per-owner storage limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub max_snippets: i64,
    pub max_bytes: i64,
}

impl From<&LimitArgs> for LimitsConfig {
    fn from(a: &LimitArgs) -> LimitsConfig {
        LimitsConfig {
            rate: (a.rate_limits == Switch::On).then_some(RateConfig {
                reads_per_minute: a.rate_limit_reads_per_minute,
                writes_per_minute: a.rate_limit_writes_per_minute,
                max_keys: a.rate_limit_max_keys,
            }),
            trusted_proxies: a.trusted_proxies.clone().unwrap_or_default().0,
            quota: Quota {
                max_snippets: a.quota_max_snippets,
                max_bytes: a.quota_max_bytes,
            },
            search: SearchLimits {
                per_client: a.search_per_client,
                timeout: std::time::Duration::from_millis(a.search_timeout_ms),
            },
        }
    }
}
