//! A count-min sketch of 4-bit counters estimating how often each key was
//! requested recently, the memory of TinyLFU admission (Einziger, Friedman,
//! Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", 2017; the
//! layout follows Caffeine's `FrequencySketch`).
//!
//! Each key hashes to one counter in each of four rows; its estimate is the
//! least of the four. Every counter is halved from time to time, so old
//! popularity fades: once a sample of `10 x` the tracked entries in
//! additions has passed (Caffeine's period), if the victims that admission
//! compared since the last halving had a mean estimate of at least
//! [`MIN_VICTIM_MEAN_X10`] / 10, and in any case after four samples.
//!
//! The condition on the victims keeps the history that admission needs. A
//! halving takes a count of 1 to 0 and 3 to 1, so when the victims, the
//! entries a candidate must beat, are near the bottom of the counters'
//! range, a halving erases the difference between a key seen once or
//! twice and a key never seen, which is all that admission has to go on
//! when the cache hits rarely. When the victims' counts are higher, halving
//! keeps their order and lets a new popular set of keys overtake one that
//! is no longer requested.

/// How many additions, per tracked entry, make a sample.
const SAMPLE_PER_ENTRY: u64 = 10;
/// Least mean frequency, in tenths, of the victims compared since the last
/// halving that lets a full sample halve the counters.
const MIN_VICTIM_MEAN_X10: u64 = 47;
/// Samples after which the counters are halved whatever the victims.
const MAX_SAMPLES: u64 = 4;
/// Multipliers spreading a fingerprint to each of the four rows.
const SEEDS: [u64; 4] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0xD6E8_FEB8_6659_FD93,
];
/// Every nibble's high bit cleared: halving mask.
const HALF_MASK: u64 = 0x7777_7777_7777_7777;

/// The sketch: `table.len()` words of sixteen 4-bit counters.
///
/// Memory: 8 bytes per word, one word per entry of the size it was sized
/// for (rounded up to a power of two).
#[derive(Debug)]
pub(super) struct Sketch {
    /// The counters; the length is a power of two (or zero before sizing).
    table: Vec<u64>,
    /// Additions since the last halving (halved with the counters).
    additions: u64,
    /// Additions after which a halving may happen.
    sample: u64,
    /// Sum of the estimates of the victims compared since the last halving.
    victim_sum: u64,
    /// Number of victims compared since the last halving.
    victims: u64,
}

impl Sketch {
    /// A sketch with no counters; every estimate is 0 until it is sized.
    pub(super) const fn new() -> Self {
        Self {
            table: Vec::new(),
            additions: 0,
            sample: 0,
            victim_sum: 0,
            victims: 0,
        }
    }

    /// Grows the sketch to at least one word per entry of `entries` (a
    /// power of two, at least 8), keeping every estimate, and the sample to
    /// `10 x entries` additions.
    #[inline]
    pub(super) fn ensure_capacity(&mut self, entries: usize) {
        let sample = SAMPLE_PER_ENTRY * entries as u64;
        // The sample only grows, with the most entries seen: none more now.
        if sample > self.sample {
            self.grow(entries, sample);
        }
    }

    /// `ensure_capacity` for more entries than ever before.
    #[cold]
    fn grow(&mut self, entries: usize, sample: u64) {
        self.sample = sample;
        let words = entries.max(8).next_power_of_two();
        if self.table.len() >= words {
            return;
        }
        if self.table.is_empty() {
            self.table = vec![0; words];
        }
        // A key's word index gains high bits as the table doubles; copying
        // the table into its new halves gives every key its old counters.
        while self.table.len() < words {
            self.table.extend_from_within(..);
        }
    }

    /// Bytes of counters held.
    pub(super) fn memory(&self) -> usize {
        self.table.len() * 8
    }

    /// The word and bit shift of the counter of `fp` in `row` (0..4) of a
    /// table of `mask + 1` words. Row `row` uses nibbles `4*row..4*row+4`
    /// of a word, so the four rows of one key never share a counter.
    #[inline]
    fn slot(fp: u32, row: usize, mask: usize) -> (usize, u32) {
        let spread = u64::from(fp) | (u64::from(fp) << 32);
        let h = spread.wrapping_mul(SEEDS[row]);
        let word = (h >> 32) as usize & mask;
        let nibble = (row as u32) * 4 + ((h >> 30) as u32 & 3);
        (word, nibble * 4)
    }

    /// The estimated number of recent requests of the key with fingerprint
    /// `fp`, 0..=15.
    pub(super) fn frequency(&self, fp: u32) -> u8 {
        let Some(mask) = self.table.len().checked_sub(1) else {
            return 0;
        };
        let mut least = 15;
        for row in 0..SEEDS.len() {
            let (word, shift) = Self::slot(fp, row, mask);
            least = least.min((self.table[word] >> shift) & 15);
        }
        least as u8
    }

    /// Counts `by` requests of the key with fingerprint `fp` (each of its
    /// four counters saturates at 15).
    pub(super) fn increment(&mut self, fp: u32, by: u8) {
        let Some(mask) = self.table.len().checked_sub(1) else {
            return;
        };
        if by == 0 {
            return;
        }
        for row in 0..SEEDS.len() {
            let (word, shift) = Self::slot(fp, row, mask);
            let counter = &mut self.table[word];
            let raised = (((*counter >> shift) & 15) + u64::from(by)).min(15);
            *counter = (*counter & !(15 << shift)) | (raised << shift);
        }
        self.additions += u64::from(by);
        if self.additions >= self.sample && self.aging_due() {
            self.halve();
        }
    }

    /// Records the estimate of a victim that admission compared with a
    /// candidate.
    pub(super) fn record_victim(&mut self, frequency: u8) {
        self.victim_sum += u64::from(frequency);
        self.victims += 1;
    }

    /// Whether a full sample should halve the counters: the victims
    /// compared since the last halving are warm enough to keep their order
    /// (or there were none), or the sample has stretched to its limit.
    fn aging_due(&self) -> bool {
        self.victim_sum * 10 >= MIN_VICTIM_MEAN_X10 * self.victims
            || self.additions >= MAX_SAMPLES * self.sample
    }

    /// Halves every counter (the aging step).
    fn halve(&mut self) {
        for word in &mut self.table {
            *word = (*word >> 1) & HALF_MASK;
        }
        self.additions /= 2;
        self.victim_sum = 0;
        self.victims = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(
        miri,
        ignore = "safe code in long loops; Miri checks the crate's unsafe code"
    )]
    fn counts_saturate_and_estimate_from_above() {
        let mut sketch = Sketch::new();
        assert_eq!(sketch.frequency(1), 0);
        sketch.ensure_capacity(1_000);
        for _ in 0..5 {
            sketch.increment(1, 1);
        }
        sketch.increment(2, 3);
        assert_eq!(sketch.frequency(1), 5);
        assert_eq!(sketch.frequency(2), 3);
        assert_eq!(sketch.frequency(3), 0);
        sketch.increment(1, 3);
        sketch.increment(1, 3);
        sketch.increment(1, 3);
        assert_eq!(sketch.frequency(1), 14);
        sketch.increment(1, 3);
        assert_eq!(sketch.frequency(1), 15);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "safe code in long loops; Miri checks the crate's unsafe code"
    )]
    fn a_sample_halves_every_count() {
        let mut sketch = Sketch::new();
        sketch.ensure_capacity(8);
        sketch.increment(7, 3);
        sketch.increment(7, 3);
        let sample = SAMPLE_PER_ENTRY * 8;
        // One-off keys fill the sample; 7's count halves at its end.
        for fp in 1_000..1_000 + sample as u32 - 6 {
            sketch.increment(fp.wrapping_mul(2_654_435_761), 1);
        }
        assert!(sketch.frequency(7) <= 3 + 1, "{}", sketch.frequency(7));
        assert!(sketch.additions < sample);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "safe code in long loops; Miri checks the crate's unsafe code"
    )]
    fn cold_victims_postpone_the_halving_up_to_a_limit() {
        let sample = SAMPLE_PER_ENTRY * 8;
        let mut sketch = Sketch::new();
        sketch.ensure_capacity(8);
        sketch.record_victim(1);
        sketch.record_victim(2);
        // Victims of mean 1.5: a full sample does not halve.
        for _ in 0..sample {
            sketch.increment(7, 1);
        }
        assert_eq!(sketch.frequency(7), 15);
        // A warm victim lifts the mean to 5: the next addition halves.
        sketch.record_victim(12);
        sketch.increment(7, 1);
        assert_eq!(sketch.frequency(7), 7);
        assert_eq!((sketch.victims, sketch.victim_sum), (0, 0));

        // Cold victims all along: the halving comes after four samples.
        let mut sketch = Sketch::new();
        sketch.ensure_capacity(8);
        sketch.record_victim(0);
        for _ in 1..MAX_SAMPLES * sample {
            sketch.increment(7, 1);
        }
        assert_eq!(sketch.frequency(7), 15);
        sketch.increment(7, 1);
        assert_eq!(sketch.frequency(7), 7);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "safe code in long loops; Miri checks the crate's unsafe code"
    )]
    fn growing_keeps_estimates() {
        let mut sketch = Sketch::new();
        sketch.ensure_capacity(8);
        let fps: Vec<u32> = (0..6u32).map(|i| i.wrapping_mul(0x9E37_79B9)).collect();
        for (i, &fp) in fps.iter().enumerate() {
            sketch.increment(fp, i as u8);
        }
        let before: Vec<u8> = fps.iter().map(|&fp| sketch.frequency(fp)).collect();
        sketch.ensure_capacity(1 << 12);
        assert_eq!(sketch.memory(), 8 << 12);
        let after: Vec<u8> = fps.iter().map(|&fp| sketch.frequency(fp)).collect();
        assert_eq!(before, after);
    }
}
