//! Readers racing writers: every value a reader sees belongs to its key, is
//! complete, and per key never goes back in version.

use std::time::Duration;

#[path = "support/workers.rs"]
mod workers;

#[test]
fn readers_see_whole_values_of_their_key_in_order() {
    let ms = if cfg!(miri) { 50 } else { 2_000 };
    assert!(workers::run(Duration::from_millis(ms), 4, 3, None) > 0);
}

#[test]
fn single_shard_under_contention() {
    let ms = if cfg!(miri) { 50 } else { 1_000 };
    assert!(workers::run(Duration::from_millis(ms), 1, 3, None) > 0);
}

#[test]
fn eviction_under_readers_and_writers() {
    let ms = if cfg!(miri) { 50 } else { 1_000 };
    // Fewer entries than keys: writes evict all the time.
    assert!(
        workers::run(
            Duration::from_millis(ms),
            4,
            3,
            Some(if cfg!(miri) { 4 } else { 64 })
        ) > 0
    );
}
