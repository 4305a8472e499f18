//! [`LatencySketch`]: the latencies of many checks in a few bytes, mergeable exactly, with
//! quantiles within 1 % of the true value.
//!
//! Rollup rows (per minute, per hour) must answer p50, p95 and max of any span of rows, and
//! an average of per-row percentiles is not a percentile. So each row keeps a sketch in the
//! manner of DDSketch (Masson, Rim, Lee 2019): latencies in microseconds fall into logarithmic
//! buckets, key `ceil(log_γ(µs))` with `γ = (1 + α) / (1 − α)`, `α = 1 %`, and the middle of a
//! bucket is within α of every value in it. Merging adds counts of equal keys, so a merged
//! sketch is *exactly* the sketch of all the values, whatever the grouping. Count, minimum and
//! maximum are kept exactly.
//!
//! ## Why no crate
//! `sketches-ddsketch` (0.3) has no byte encoding and no access to its bins: its only
//! persistence is serde of its dense store (a `Vec<u64>` over the whole key range, plus its
//! configuration and floats), far beyond the <100 bytes a minute row may take when we keep
//! millions of rows. Its quantile, min and max are `f64`, it has no `PartialEq`, and it keeps
//! a `sum` we do not need. The mapping and the walk to a rank are a few lines; the encoding is
//! the part that matters, so the whole sketch is here.
//!
//! ## Encoding (version 1)
//! ```text
//! u8      version (1)
//! varint  how many latencies were under 1 µs
//! varint  n, the number of buckets
//! if any latency:  varint min (ns), varint max − min (ns)
//! if n > 0:        varint zigzag(first key), then a bit stream, most significant bit first:
//!                  γ(count₀), then γ(key gap) γ(count) for each next bucket,
//!                  zero bits to the end of the byte
//! ```
//! Numbers are LEB128 varints; γ(n) is the Elias gamma code of n ≥ 1 (n = 1 takes one bit).
//! Key gaps and counts are almost always 1 or 2 within a minute, so a bucket takes 2 to 4
//! *bits*. 60 checks spread over 1–3 ms fall in 35 to 50 buckets: 80 to 110 bytes with a
//! byte-aligned varint pair per bucket, 28 bytes like this. The encoding is canonical (no
//! overlong varint, padding zero, nothing after it): decoding then encoding gives back the
//! input.

use std::time::Duration;

/// Relative accuracy of every quantile: 1 %.
const RELATIVE_ACCURACY: f64 = 0.01;

/// The first byte of every encoding. A new layout gets a new number; rows already stored stay
/// readable as long as their version still decodes.
const ENCODING_VERSION: u8 = 1;

/// Why bytes are not a sketch. Rows are read back from disk, which may be damaged or written
/// by another version: decoding reports, it never panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SketchError {
    #[error("the latency sketch ends early")]
    Truncated,
    #[error("unknown latency sketch encoding version {0}")]
    UnknownVersion(u8),
    #[error(
        "a number in the latency sketch is longer than 64 bits or written with needless bytes"
    )]
    BadNumber,
    #[error("bucket key {0} is outside the latencies a sketch holds")]
    KeyOutOfRange(i64),
    #[error("the latency sketch's counts add up to more than 2^64")]
    CountOverflow,
    #[error("the latency sketch's maximum is beyond 2^64 ns")]
    MaxOutOfRange,
    #[error("bytes after the end of the latency sketch")]
    TrailingData,
}

/// Latencies of many checks: count, exact minimum and maximum, quantiles within 1 %.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencySketch {
    /// `(key, count)`, sorted by key, every count at least 1. Sparse: a minute of checks
    /// touches a few dozen of the ~1 900 keys between 1 µs and 584 years.
    buckets: Vec<(i32, u64)>,
    /// Latencies under 1 µs, where a logarithm would give ever more keys for no useful
    /// precision.
    below_one_micro: u64,
    /// Every latency added, `below_one_micro` included.
    count: u64,
    /// `None` exactly when `count` is 0, so two empty sketches are equal.
    extremes: Option<Extremes>,
}

/// The exact smallest and largest latency, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extremes {
    min: u64,
    max: u64,
}

impl Extremes {
    fn including(self, other: Extremes) -> Extremes {
        Extremes {
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}

impl LatencySketch {
    /// Counts one latency. Latencies beyond 2^64 ns (584 years) count as 2^64 ns.
    pub fn add(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        match key_of(nanos) {
            None => self.below_one_micro = self.below_one_micro.saturating_add(1),
            Some(key) => match self.buckets.binary_search_by_key(&key, |&(k, _)| k) {
                Ok(index) => {
                    let count = &mut self.buckets[index].1;
                    *count = count.saturating_add(1);
                }
                Err(index) => self.buckets.insert(index, (key, 1)),
            },
        }
        self.count = self.count.saturating_add(1);
        let this = Extremes {
            min: nanos,
            max: nanos,
        };
        self.extremes = Some(self.extremes.map_or(this, |seen| seen.including(this)));
    }

    /// Adds every latency of `other`: the result equals the sketch of both sets of values.
    pub fn merge(&mut self, other: &LatencySketch) {
        if other.count == 0 {
            return;
        }
        let mut merged = Vec::with_capacity(self.buckets.len() + other.buckets.len());
        let (mut mine, mut theirs) = (
            self.buckets.iter().peekable(),
            other.buckets.iter().peekable(),
        );
        loop {
            let next = match (mine.peek(), theirs.peek()) {
                (Some(&&(a, count_a)), Some(&&(b, count_b))) if a == b => {
                    mine.next();
                    theirs.next();
                    (a, count_a.saturating_add(count_b))
                }
                (Some(&&a), Some(&&b)) if a.0 < b.0 => {
                    mine.next();
                    a
                }
                (_, Some(&&b)) => {
                    theirs.next();
                    b
                }
                (Some(&&a), None) => {
                    mine.next();
                    a
                }
                (None, None) => break,
            };
            merged.push(next);
        }
        self.buckets = merged;
        self.below_one_micro = self.below_one_micro.saturating_add(other.below_one_micro);
        self.count = self.count.saturating_add(other.count);
        self.extremes = match (self.extremes, other.extremes) {
            (Some(a), Some(b)) => Some(a.including(b)),
            (a, b) => a.or(b),
        };
    }

    /// How many latencies were added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q`-quantile (`q` clamped to `[0, 1]`): the latency of rank `⌊q·(count − 1)⌋` in
    /// sorted order, within 1 % (within 1 µs below 1 µs). `q = 0` and `q = 1` give the exact
    /// minimum and maximum. `None` when empty, or when `q` is NaN: no rank to answer for.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let Extremes { min, max } = self.extremes?;
        if q.is_nan() {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        if q == 0.0 {
            return Some(Duration::from_nanos(min));
        }
        if q == 1.0 {
            return Some(Duration::from_nanos(max));
        }
        // Floating point is exact here up to 2^53 latencies, far more than a row holds.
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        let mut seen = self.below_one_micro;
        if rank < seen {
            return Some(Duration::from_nanos(min));
        }
        for &(key, count) in &self.buckets {
            seen = seen.saturating_add(count);
            if rank < seen {
                // The bucket's middle is within 1 % of the value; the exact extremes bound
                // the value too, and clamping can only bring the answer closer.
                let nanos = representative_nanos(key).max(min).min(max);
                return Some(Duration::from_nanos(nanos));
            }
        }
        Some(Duration::from_nanos(max))
    }

    /// The exact smallest latency added.
    pub fn min(&self) -> Option<Duration> {
        self.extremes.map(|e| Duration::from_nanos(e.min))
    }

    /// The exact largest latency added.
    pub fn max(&self) -> Option<Duration> {
        self.extremes.map(|e| Duration::from_nanos(e.max))
    }

    /// The compact encoding described in the module header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![ENCODING_VERSION];
        write_varint(&mut out, self.below_one_micro);
        write_varint(&mut out, self.buckets.len() as u64);
        if let Some(Extremes { min, max }) = self.extremes {
            write_varint(&mut out, min);
            write_varint(&mut out, max - min);
        }
        let Some(&(first_key, first_count)) = self.buckets.first() else {
            return out;
        };
        write_varint(&mut out, zigzag(i64::from(first_key)));
        let mut bits = BitWriter::new(out);
        bits.write_gamma(first_count);
        for pair in self.buckets.windows(2) {
            let (previous, (key, count)) = (pair[0].0, pair[1]);
            // Keys are sorted and distinct, so the gap is at least 1.
            bits.write_gamma((i64::from(key) - i64::from(previous)) as u64);
            bits.write_gamma(count);
        }
        bits.finish()
    }

    /// Reads what [`LatencySketch::to_bytes`] wrote; anything else is an error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<LatencySketch, SketchError> {
        let mut input = ByteReader { bytes, position: 0 };
        let version = input.byte()?;
        if version != ENCODING_VERSION {
            return Err(SketchError::UnknownVersion(version));
        }
        let below_one_micro = input.varint()?;
        let bucket_count = input.varint()?;
        let extremes = if below_one_micro > 0 || bucket_count > 0 {
            let min = input.varint()?;
            let max = min
                .checked_add(input.varint()?)
                .ok_or(SketchError::MaxOutOfRange)?;
            Some(Extremes { min, max })
        } else {
            None
        };
        let mut sketch = LatencySketch {
            buckets: Vec::new(),
            below_one_micro,
            count: below_one_micro,
            extremes,
        };
        if bucket_count == 0 {
            return match input.rest() {
                [] => Ok(sketch),
                _ => Err(SketchError::TrailingData),
            };
        }
        let mut key = unzigzag(input.varint()?);
        let mut bits = BitReader::new(input.rest());
        // Every bucket takes at least one bit: a count read from damaged bytes must not
        // reserve more memory than the input could describe.
        let plausible = usize::try_from(bucket_count)
            .unwrap_or(usize::MAX)
            .min(bits.remaining());
        sketch.buckets.reserve(plausible);
        let keys = 0..=highest_key();
        for index in 0..bucket_count {
            if index > 0 {
                key = key.saturating_add_unsigned(bits.read_gamma()?);
            }
            let count = bits.read_gamma()?;
            let valid_key = i32::try_from(key)
                .ok()
                .filter(|k| keys.contains(k))
                .ok_or(SketchError::KeyOutOfRange(key))?;
            sketch.count = sketch
                .count
                .checked_add(count)
                .ok_or(SketchError::CountOverflow)?;
            sketch.buckets.push((valid_key, count));
        }
        bits.finish()?;
        Ok(sketch)
    }
}

/// γ, the ratio of a bucket's upper bound to its lower bound.
fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

/// `ln γ`, the width of a bucket on a logarithmic scale.
fn ln_gamma() -> f64 {
    gamma().ln()
}

/// The bucket of a latency: `ceil(log_γ(µs))`, or `None` under 1 µs.
fn key_of(nanos: u64) -> Option<i32> {
    let micros = nanos as f64 / 1000.0;
    // At most ~1 900 for 2^64 ns, so the cast cannot saturate.
    (micros >= 1.0).then(|| (micros.ln() / ln_gamma()).ceil() as i32)
}

/// The key of the longest latency a sketch holds; a decoded key beyond it is damage.
fn highest_key() -> i32 {
    key_of(u64::MAX).unwrap_or(i32::MAX)
}

/// The value within α of everything in bucket `key`, `(γ^(key−1), γ^key]`: `2γ^key / (γ+1)`.
fn representative_nanos(key: i32) -> u64 {
    let gamma = gamma();
    let micros = 2.0 * gamma.powi(key) / (gamma + 1.0);
    // Rounded to the nanosecond; `as` saturates for the few keys near 2^64 ns.
    (micros * 1000.0).round() as u64
}

/// Maps signed to unsigned so that small magnitudes of either sign stay small varints.
fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

struct ByteReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> ByteReader<'a> {
    fn byte(&mut self) -> Result<u8, SketchError> {
        let byte = *self
            .bytes
            .get(self.position)
            .ok_or(SketchError::Truncated)?;
        self.position += 1;
        Ok(byte)
    }

    /// A LEB128 varint of at most 64 bits, in as few bytes as it needs.
    fn varint(&mut self) -> Result<u64, SketchError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let payload = u64::from(byte & 0x7f);
            // The tenth byte holds only the 64th bit.
            if shift == 63 && payload > 1 {
                return Err(SketchError::BadNumber);
            }
            value |= payload << shift;
            if byte & 0x80 == 0 {
                // A last byte of 0 after others is a needless byte: the encoding would not
                // be canonical.
                if byte == 0 && shift > 0 {
                    return Err(SketchError::BadNumber);
                }
                return Ok(value);
            }
        }
        Err(SketchError::BadNumber)
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.position..).unwrap_or_default()
    }
}

/// Bits, most significant first, padded with zeros to whole bytes.
struct BitWriter {
    out: Vec<u8>,
    current: u8,
    filled: u8,
}

impl BitWriter {
    fn new(out: Vec<u8>) -> BitWriter {
        BitWriter {
            out,
            current: 0,
            filled: 0,
        }
    }

    fn write_bit(&mut self, bit: bool) {
        self.current = (self.current << 1) | u8::from(bit);
        self.filled += 1;
        if self.filled == 8 {
            self.out.push(self.current);
            self.current = 0;
            self.filled = 0;
        }
    }

    /// Elias gamma: as many zeros as `value` has bits after its leading one, then its bits.
    /// `value` is at least 1 (a count or a gap between distinct keys).
    fn write_gamma(&mut self, value: u64) {
        let width = u64::BITS - value.leading_zeros();
        for _ in 1..width {
            self.write_bit(false);
        }
        for bit in (0..width).rev() {
            self.write_bit(value >> bit & 1 == 1);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.filled > 0 {
            self.out.push(self.current << (8 - self.filled));
        }
        self.out
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    /// Index of the next bit, counted from the first byte's most significant bit.
    position: usize,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, position: 0 }
    }

    fn remaining(&self) -> usize {
        (self.bytes.len() * 8).saturating_sub(self.position)
    }

    fn read_bit(&mut self) -> Result<bool, SketchError> {
        let byte = self
            .bytes
            .get(self.position / 8)
            .ok_or(SketchError::Truncated)?;
        let bit = byte >> (7 - self.position % 8) & 1 == 1;
        self.position += 1;
        Ok(bit)
    }

    fn read_gamma(&mut self) -> Result<u64, SketchError> {
        let mut width = 1;
        while !self.read_bit()? {
            width += 1;
            if width > u64::BITS {
                return Err(SketchError::BadNumber);
            }
        }
        let mut value = 1u64;
        for _ in 1..width {
            value = (value << 1) | u64::from(self.read_bit()?);
        }
        Ok(value)
    }

    /// The padding of the last byte must be zeros, and nothing may follow it.
    fn finish(mut self) -> Result<(), SketchError> {
        while !self.position.is_multiple_of(8) {
            if self.read_bit()? {
                return Err(SketchError::TrailingData);
            }
        }
        if self.position / 8 == self.bytes.len() {
            Ok(())
        } else {
            Err(SketchError::TrailingData)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a fixed seed gives the same values on every machine and every run.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn sketch_of(latencies: &[Duration]) -> LatencySketch {
        let mut sketch = LatencySketch::default();
        for &latency in latencies {
            sketch.add(latency);
        }
        sketch
    }

    /// The value of rank `⌊q·(n − 1)⌋`, the one `quantile` estimates.
    fn exact_quantile(sorted: &[Duration], q: f64) -> Duration {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    fn assert_quantiles_within_one_percent(mut latencies: Vec<Duration>) {
        let sketch = sketch_of(&latencies);
        latencies.sort();
        for q in [
            0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0,
        ] {
            let exact = exact_quantile(&latencies, q).as_nanos() as f64;
            let estimate = sketch.quantile(q).map(|d| d.as_nanos() as f64);
            let error = (estimate.unwrap_or(f64::NAN) - exact).abs();
            // 1 ns for the rounding of the bucket's middle to whole nanoseconds.
            assert!(
                error <= exact * RELATIVE_ACCURACY + 1.0,
                "q={q}: estimate {estimate:?} ns, exact {exact} ns"
            );
        }
    }

    #[test]
    fn quantiles_of_a_uniform_distribution_are_within_one_percent() {
        let latencies = (1..=10_000).map(Duration::from_micros).collect();
        assert_quantiles_within_one_percent(latencies);
    }

    #[test]
    fn quantiles_of_a_long_tailed_distribution_are_within_one_percent() {
        // Log-uniform from 10 µs to 10 s, at nanosecond precision: the tail is what p95 and
        // p99 are for.
        let mut random = XorShift(0x0005_eed1_a7e0_c1e5);
        let latencies = (0..20_000)
            .map(|_| Duration::from_secs_f64(1e-5 * 1e6f64.powf(random.unit())))
            .collect();
        assert_quantiles_within_one_percent(latencies);
    }

    #[test]
    fn the_extremes_are_exact_and_q_is_clamped() {
        let sketch = sketch_of(&[
            Duration::from_nanos(1_234_567),
            Duration::from_nanos(2_000_001),
            Duration::from_nanos(9_876_543),
        ]);
        assert_eq!(sketch.count(), 3);
        assert_eq!(sketch.min(), Some(Duration::from_nanos(1_234_567)));
        assert_eq!(sketch.max(), Some(Duration::from_nanos(9_876_543)));
        assert_eq!(sketch.quantile(0.0), sketch.min());
        assert_eq!(sketch.quantile(1.0), sketch.max());
        assert_eq!(sketch.quantile(-3.0), sketch.min());
        assert_eq!(sketch.quantile(7.0), sketch.max());
        assert_eq!(sketch.quantile(f64::NAN), None);
        let median = sketch.quantile(0.5).map(|d| d.as_nanos());
        assert!(
            median.is_some_and(|m| m.abs_diff(2_000_001) <= 20_001),
            "{median:?}"
        );
    }

    #[test]
    fn an_empty_sketch_has_no_quantile() {
        let empty = LatencySketch::default();
        assert_eq!(empty.count(), 0);
        assert_eq!(empty.quantile(0.5), None);
        assert_eq!(empty.max(), None);
        assert_eq!(empty.min(), None);
    }

    #[test]
    fn latencies_under_a_microsecond_are_counted_and_answered_within_a_microsecond() {
        let sketch = sketch_of(&[
            Duration::ZERO,
            Duration::from_nanos(400),
            Duration::from_nanos(999),
            Duration::from_micros(50),
        ]);
        assert_eq!(sketch.count(), 4);
        assert_eq!(sketch.min(), Some(Duration::ZERO));
        assert_eq!(sketch.quantile(0.5), Some(Duration::ZERO));
        assert_eq!(sketch.max(), Some(Duration::from_micros(50)));
    }

    #[test]
    fn a_latency_beyond_what_nanoseconds_hold_counts_as_the_longest() {
        let sketch = sketch_of(&[Duration::MAX, Duration::from_millis(5)]);
        assert_eq!(sketch.max(), Some(Duration::from_nanos(u64::MAX)));
        // Rank ⌊0.5·1⌋ = 0: the 5 ms latency, within 1 %.
        let low = sketch.quantile(0.5).map(|d| d.as_micros());
        assert!(low.is_some_and(|us| us.abs_diff(5_000) <= 50), "{low:?}");
        assert_eq!(LatencySketch::from_bytes(&sketch.to_bytes()), Ok(sketch));
    }

    #[test]
    fn a_merge_is_the_sketch_of_all_the_values() {
        let mut random = XorShift(42);
        let latencies: Vec<Duration> = (0..5_000)
            .map(|_| Duration::from_nanos(random.next() % 50_000_000))
            .collect();
        let all = sketch_of(&latencies);
        // Uneven parts, overlapping key ranges, and an empty part.
        let mut merged = LatencySketch::default();
        for part in [
            &latencies[..1],
            &latencies[1..1_700],
            &[],
            &latencies[1_700..],
        ] {
            merged.merge(&sketch_of(part));
        }
        assert_eq!(merged, all);
        assert_eq!(merged.count(), 5_000);
        // Merging is symmetric.
        let mut other_way = sketch_of(&latencies[2_500..]);
        other_way.merge(&sketch_of(&latencies[..2_500]));
        assert_eq!(other_way, all);
    }

    #[test]
    fn bytes_give_back_the_same_sketch() {
        let mut random = XorShift(7);
        let cases = [
            vec![],
            vec![Duration::from_millis(3)],
            vec![Duration::ZERO, Duration::from_nanos(999)],
            vec![Duration::ZERO, Duration::from_secs(30)],
            (0..10_000)
                .map(|_| Duration::from_nanos(random.next() % 10_000_000_000))
                .collect(),
            vec![Duration::from_micros(1); 100_000],
        ];
        for latencies in cases {
            let sketch = sketch_of(&latencies);
            let bytes = sketch.to_bytes();
            assert_eq!(LatencySketch::from_bytes(&bytes), Ok(sketch));
        }
        assert_eq!(
            LatencySketch::default().to_bytes(),
            [ENCODING_VERSION, 0, 0]
        );
    }

    #[test]
    fn a_minute_of_checks_takes_under_64_bytes() {
        let evenly: Vec<Duration> = (0..60)
            .map(|i| Duration::from_micros(1_000 + i * 2_000 / 59))
            .collect();
        let mut random = XorShift(60);
        let randomly: Vec<Duration> = (0..60)
            .map(|_| Duration::from_nanos(1_000_000 + random.next() % 2_000_000))
            .collect();
        for latencies in [evenly, randomly] {
            let bytes = sketch_of(&latencies).to_bytes();
            assert!(bytes.len() < 64, "{} bytes", bytes.len());
        }
        // One check every 30 s: a minute row of two latencies.
        let sparse = sketch_of(&[Duration::from_micros(1_200), Duration::from_micros(2_900)]);
        assert!(sparse.to_bytes().len() <= 16, "{:?}", sparse.to_bytes());
    }

    #[test]
    fn every_prefix_of_an_encoding_is_an_error() {
        let mut random = XorShift(3);
        let sketch = sketch_of(
            &(0..300)
                .map(|_| Duration::from_nanos(random.next() % 5_000_000_000))
                .chain([Duration::ZERO])
                .collect::<Vec<_>>(),
        );
        let bytes = sketch.to_bytes();
        for end in 0..bytes.len() {
            assert!(
                LatencySketch::from_bytes(&bytes[..end]).is_err(),
                "prefix of {end} bytes"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            LatencySketch::from_bytes(&longer),
            Err(SketchError::TrailingData)
        );
    }

    /// Decoded garbage is either refused or a sketch that encodes back to the same bytes.
    fn assert_refused_or_canonical(bytes: &[u8]) {
        if let Ok(sketch) = LatencySketch::from_bytes(bytes) {
            assert_eq!(sketch.to_bytes(), bytes);
            assert!(sketch.quantile(0.5).is_some() == (sketch.count() > 0));
        }
    }

    #[test]
    fn garbage_is_refused_or_read_consistently_never_a_panic() {
        let mut random = XorShift(0xdead_beef);
        let valid = sketch_of(&(1..200).map(Duration::from_micros).collect::<Vec<_>>()).to_bytes();
        let mut decoded = 0;
        for round in 0..20_000u32 {
            let bytes: Vec<u8> = if round.is_multiple_of(2) {
                // Random bytes behind a valid version, so decoding gets past the first byte.
                let len = (random.next() % 40) as usize;
                std::iter::once(ENCODING_VERSION)
                    .chain((0..len).map(|_| random.next() as u8))
                    .collect()
            } else {
                // A valid encoding with a few bytes changed.
                let mut bytes = valid.clone();
                for _ in 0..=random.next() % 3 {
                    let index = (random.next() % bytes.len() as u64) as usize;
                    bytes[index] = random.next() as u8;
                }
                bytes
            };
            assert_refused_or_canonical(&bytes);
            decoded += usize::from(LatencySketch::from_bytes(&bytes).is_ok());
        }
        // Some garbage must decode, or the consistency check above checked nothing.
        assert!(decoded > 0);
    }

    #[test]
    fn damaged_numbers_and_counts_are_refused() {
        let refused = |bytes: &[u8]| LatencySketch::from_bytes(bytes).err();
        assert_eq!(refused(&[]), Some(SketchError::Truncated));
        assert_eq!(refused(&[2, 0, 0]), Some(SketchError::UnknownVersion(2)));
        // An overlong zero, and a varint of 11 bytes.
        assert_eq!(refused(&[1, 0x80, 0x00, 0]), Some(SketchError::BadNumber));
        let mut too_long = vec![1];
        too_long.extend([0xff; 10]);
        too_long.push(0x01);
        assert_eq!(refused(&too_long), Some(SketchError::BadNumber));
        // 2^64 − 1 latencies under 1 µs plus one bucket of one: more than a count holds.
        let mut huge = vec![1];
        write_varint(&mut huge, u64::MAX);
        huge.extend([1, 0, 0]); // one bucket, min 0, max − min 0
        write_varint(&mut huge, zigzag(100));
        huge.push(0b1000_0000); // γ(1)
        assert_eq!(refused(&huge), Some(SketchError::CountOverflow));
        // A bucket count of 2^64 − 1 with two bytes behind it: refused, without reserving
        // memory for it.
        let mut many = vec![1, 0];
        write_varint(&mut many, u64::MAX);
        many.extend([0, 0]);
        write_varint(&mut many, zigzag(100));
        many.push(0xff);
        assert_eq!(refused(&many), Some(SketchError::Truncated));
        // A key below 1 µs's and one past 2^64 ns.
        let mut negative = vec![1, 0, 1, 0, 0];
        write_varint(&mut negative, zigzag(-1));
        negative.push(0b1000_0000);
        assert_eq!(refused(&negative), Some(SketchError::KeyOutOfRange(-1)));
        let mut beyond = vec![1, 0, 1, 0, 0];
        let past = i64::from(highest_key()) + 1;
        write_varint(&mut beyond, zigzag(past));
        beyond.push(0b1000_0000);
        assert_eq!(refused(&beyond), Some(SketchError::KeyOutOfRange(past)));
        // A maximum of min + delta past 2^64 ns.
        let mut max_past = vec![1, 1, 0];
        write_varint(&mut max_past, u64::MAX);
        write_varint(&mut max_past, 1);
        assert_eq!(refused(&max_past), Some(SketchError::MaxOutOfRange));
        // Padding bits that are not zero.
        let mut padded = vec![1, 0, 1, 0, 0];
        write_varint(&mut padded, zigzag(100));
        padded.push(0b1000_0001);
        assert_eq!(refused(&padded), Some(SketchError::TrailingData));
    }
}
