//! The EMF recorder's instruments: counters and gauges that keep their
//! delta and peak per interval, histograms as log-linear buckets.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use metrics::{CounterFn, GaugeFn, HistogramFn};

/// A counter that remembers what the last flush reported.
#[derive(Debug, Default)]
pub struct EmfCounter {
    total: AtomicU64,
    reported: AtomicU64,
}

impl CounterFn for EmfCounter {
    fn increment(&self, value: u64) {
        self.total.fetch_add(value, Relaxed);
    }

    fn absolute(&self, value: u64) {
        self.total.fetch_max(value, Relaxed);
    }
}

impl EmfCounter {
    pub(super) fn take_delta(&self) -> u64 {
        let total = self.total.load(Relaxed);
        total.saturating_sub(self.reported.swap(total, Relaxed))
    }
}

/// A gauge (f64 bits) and its highest value since the last flush. Every
/// gauge snippetd records is ≥ 0, where the order of the bit patterns is
/// the order of the values, so the peak is one `fetch_max`.
#[derive(Debug, Default)]
pub struct EmfGauge {
    value: AtomicU64,
    peak: AtomicU64,
}

impl EmfGauge {
    fn raise(&self, v: f64) {
        if v >= 0.0 {
            // + 0.0 turns -0.0 (a huge bit pattern) into 0.0.
            self.peak.fetch_max((v + 0.0).to_bits(), Relaxed);
        }
    }

    fn add(&self, delta: f64) {
        let prev = self
            .value
            .fetch_update(Relaxed, Relaxed, |b| {
                Some((f64::from_bits(b) + delta).to_bits())
            })
            .unwrap_or_else(|b| b);
        self.raise(f64::from_bits(prev) + delta);
    }

    pub(super) fn value(&self) -> f64 {
        f64::from_bits(self.value.load(Relaxed))
    }

    /// The highest value since the last call; the next interval starts at
    /// the current value.
    pub(super) fn take_peak(&self) -> f64 {
        let now = self.value().max(0.0) + 0.0;
        f64::from_bits(self.peak.swap(now.to_bits(), Relaxed)).max(now)
    }
}

impl GaugeFn for EmfGauge {
    fn increment(&self, value: f64) {
        self.add(value);
    }

    fn decrement(&self, value: f64) {
        self.add(-value);
    }

    fn set(&self, value: f64) {
        self.value.store(value.to_bits(), Relaxed);
        self.raise(value);
    }
}

/// Values are kept in millionths (microseconds for seconds): exact below
/// 16, then 8 buckets per power of two, up to 2^40 (12 days of latency).
pub(super) const LINEAR: usize = 16;
pub(super) const BUCKETS: usize = LINEAR + (40 - 4) * 8;

pub(super) fn bucket(v: u64) -> usize {
    if v < LINEAR as u64 {
        return v as usize;
    }
    let octave = 63 - v.leading_zeros();
    let sub = (v >> (octave - 3)) & 7;
    (LINEAR + (octave as usize - 4) * 8 + sub as usize).min(BUCKETS - 1)
}

/// The smallest value of bucket `i` (and the end of bucket `i - 1`).
pub(super) fn lower(i: usize) -> u64 {
    if i < LINEAR {
        return i as u64;
    }
    let octave = (i - LINEAR) / 8 + 4;
    let sub = ((i - LINEAR) % 8) as u64;
    (8 + sub) << (octave - 3)
}

#[derive(Debug)]
pub struct EmfHistogram {
    sum: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Default for EmfHistogram {
    fn default() -> Self {
        EmfHistogram {
            sum: AtomicU64::new(0),
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl HistogramFn for EmfHistogram {
    fn record(&self, value: f64) {
        // `as` saturates: NaN and negatives count as 0.
        let v = (value * 1e6).round() as u64;
        self.sum.fetch_add(v, Relaxed);
        self.buckets[bucket(v)].fetch_add(1, Relaxed);
    }
}

impl EmfHistogram {
    pub(super) fn take(&self) -> Snapshot {
        Snapshot {
            sum: self.sum.swap(0, Relaxed),
            buckets: self.buckets.iter().map(|b| b.swap(0, Relaxed)).collect(),
        }
    }
}

/// One interval of a histogram (or several merged).
#[derive(Clone, Debug)]
pub struct Snapshot {
    sum: u64,
    buckets: Vec<u64>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            sum: 0,
            buckets: vec![0; BUCKETS],
        }
    }
}

impl Snapshot {
    pub(super) fn merge(&mut self, other: &Snapshot) {
        self.sum += other.sum;
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    pub fn mean(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            n => self.sum as f64 / n as f64 / 1e6,
        }
    }

    /// The `q` quantile (0 < q ≤ 1), interpolated within its bucket; 0
    /// when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            if c == 0 {
                continue;
            }
            if seen + c >= rank {
                let (lo, hi) = (lower(i) as f64, lower(i + 1) as f64);
                let within = if i < LINEAR {
                    0.0
                } else {
                    (rank - seen) as f64 / c as f64 * (hi - lo)
                };
                return (lo + within) / 1e6;
            }
            seen += c;
        }
        0.0
    }
}
