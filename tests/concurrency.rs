//! Readers racing writers: every value a reader sees belongs to its key, is
//! complete, and per key never goes back in version. (Under Miri each
//! churns a fixed number of rounds instead of the duration it names.)

use std::time::Duration;

#[path = "support/workers.rs"]
mod workers;

#[test]
fn readers_see_whole_values_of_their_key_in_order() {
    assert!(workers::run(Duration::from_secs(2), 4, 3, None) > 0);
}

#[test]
fn single_shard_under_contention() {
    assert!(workers::run(Duration::from_secs(1), 1, 3, None) > 0);
}

#[test]
fn eviction_under_readers_and_writers() {
    // Fewer entries than keys: writes evict all the time.
    assert!(
        workers::run(
            Duration::from_secs(1),
            4,
            3,
            Some(if cfg!(miri) { 4 } else { 64 })
        ) > 0
    );
}
