//! Checking functions shared by the fuzz targets in `fuzz/` and by
//! `cargo test`, which replays the committed corpus through them.
//!
//! Each function decodes raw fuzzer input with `arbitrary`, drives a cache
//! with it, and panics when the cache disagrees with a model or breaks an
//! invariant ([`StrCache::validate`]): a differential or invariant check,
//! never a bare "does not crash". Each returns the number of operations it
//! applied, so a replay can tell that it exercised something. Compiled only
//! for tests and under `cfg(fuzzing)`.

#[cfg(feature = "json")]
mod json;
mod ops;
mod threads;
mod utf8;

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

#[cfg(test)]
mod tests {
    use std::{fs, path::Path};

    use super::*;

    /// A checking function: input in, operations applied out.
    type Check = fn(&[u8]) -> usize;

    /// Each fuzz target's name and checking function.
    const TARGETS: &[(&str, Check)] = &[
        ("ops", ops),
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
