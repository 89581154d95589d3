//! Checking functions shared by the fuzz targets in `fuzz/` and by
//! `cargo test`, which replays the committed corpus through them.
//!
//! Each function decodes raw fuzzer input with `arbitrary`, drives a cache
//! with it, and panics when the cache disagrees with a model or breaks an
//! invariant ([`StrCache::validate`]): a differential or invariant check,
//! never a bare "does not crash". Each returns the number of operations it
//! applied, so a replay can tell that it exercised something. Compiled only
//! for tests and under `cfg(fuzzing)`.

use std::hash::{BuildHasher, Hasher};

mod fresh;
#[cfg(feature = "json")]
mod json;
mod ops;
mod threads;
mod utf8;

pub use fresh::fresh;
#[cfg(feature = "json")]
pub use json::{json_ingress, DIFFERENCES};
pub use ops::ops;
pub use threads::threads;
pub use utf8::utf8_ingress;

/// The default hasher with keys drawn from the input rather than at random,
/// so an input places its keys in the same slots on every run.
fn seeded(seed: u64) -> ahash::RandomState {
    ahash::RandomState::with_seeds(seed, !seed, seed.rotate_left(32), 0x5eed)
}

/// The hashing of a checked cache: [`seeded`], and for a quarter of the
/// seeds, folded onto one of `1..=4` values, so that many keys share a
/// hash. Colliding hashes are legal under the `Hash` contract (equal keys
/// must hash alike, nothing more), and the cache must give the same
/// results with them, only slower. Hashes 0 and 1 are among the folded
/// values: they differ, but share a slot tag.
#[derive(Clone, Debug)]
pub(crate) struct Hashing {
    keys: ahash::RandomState,
    /// How many hash values all keys share, if they collide.
    values: Option<u64>,
}

impl Hashing {
    pub(crate) fn new(seed: u64) -> Self {
        Hashing {
            keys: seeded(seed),
            values: seed.is_multiple_of(4).then_some((seed >> 2) % 4 + 1),
        }
    }
}

impl BuildHasher for Hashing {
    type Hasher = Folded;

    fn build_hasher(&self) -> Folded {
        Folded {
            inner: self.keys.build_hasher(),
            values: self.values,
        }
    }
}

/// The hasher of [`Hashing`].
#[derive(Debug)]
pub(crate) struct Folded {
    inner: ahash::AHasher,
    values: Option<u64>,
}

impl Hasher for Folded {
    fn write(&mut self, bytes: &[u8]) {
        self.inner.write(bytes);
    }

    fn finish(&self) -> u64 {
        let hash = self.inner.finish();
        match self.values.map(|n| hash % n) {
            None => hash,
            Some(folded @ (0 | 1)) => folded,
            // Spread over the bits that choose a shard and a slot.
            Some(folded) => folded.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{fs, path::Path};

    use super::*;

    /// A checking function: input in, operations applied out.
    type Check = fn(&[u8]) -> usize;

    /// Each fuzz target's name and checking function.
    const TARGETS: &[(&str, Check)] = &[
        ("ops", ops),
        ("fresh", fresh),
        ("utf8_ingress", utf8_ingress),
        ("threads", threads),
        #[cfg(feature = "json")]
        ("json_ingress", json_ingress),
    ];

    #[test]
    #[cfg_attr(miri, ignore = "reads files, which Miri's isolation forbids")]
    fn fuzz_corpus_replays() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        for (target, check) in TARGETS {
            let (mut files, mut applied) = (0, 0);
            for file in fs::read_dir(corpus.join(target)).expect("the target's corpus directory") {
                let path = file.expect("a corpus entry").path();
                applied += check(&fs::read(&path).expect("a corpus file"));
                files += 1;
            }
            assert!(files > 0, "no corpus files for {target}");
            assert!(applied > 0, "the corpus of {target} applied no operation");
        }
    }

    /// Deterministic pseudo-random bytes (xorshift64), so the checks also
    /// run where files cannot be read, as under Miri.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    }

    /// Runs `check` over generated inputs, asserting each applied something.
    fn generated(check: Check) {
        let (inputs, len) = if cfg!(miri) { (2, 96) } else { (64, 2048) };
        for seed in 1..=inputs {
            assert!(check(&noise(seed, len)) > 0, "seed {seed} applied nothing");
        }
    }

    #[test]
    fn ops_on_generated_input() {
        generated(ops);
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_ingress_on_generated_input() {
        generated(json_ingress);
    }

    #[test]
    fn utf8_ingress_on_generated_input() {
        generated(utf8_ingress);
    }

    /// Long generated inputs often iterate while another thread removes
    /// and re-inserts a key.
    #[test]
    fn threads_on_generated_input() {
        generated(threads);
    }

    #[test]
    fn empty_input_applies_nothing() {
        for (target, check) in TARGETS {
            assert_eq!(check(&[]), 0, "{target}");
        }
    }
}
