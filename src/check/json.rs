//! [`json_ingress`]: arbitrary bytes into `try_insert_json_bytes`, judged
//! against serde_json.

use bytes::Bytes;
use serde::de::IgnoredAny;

use crate::{Error, StrCache};

/// Feeds arbitrary byte strings (separated by 0xff) to
/// `try_insert_json_bytes`: each is
/// accepted exactly when `serde_json::from_slice::<IgnoredAny>` accepts it
/// (but for [`DIFFERENCES`]), kept without a copy when accepted, and
/// refused with an offset inside the input otherwise, leaving the previous
/// value in place.
///
/// # Panics
/// When the verdicts differ outside [`DIFFERENCES`], or a refused write
/// changed anything.
pub fn json_ingress(data: &[u8]) -> usize {
    if data.is_empty() {
        return 0;
    }
    let cache: StrCache<u8> = StrCache::builder().shards(1).build();
    let mut applied = 0;
    // Documents are separated by 0xff, a byte no UTF-8 text holds, so a
    // seed is readable JSON; they go to 4 keys in turn.
    for (i, bytes) in data.split(|&b| b == SEPARATOR).enumerate() {
        let key = (i % 4) as u8;
        let value = Bytes::copy_from_slice(bytes);
        let before = cache.get_bytes(&key);
        let result = cache.try_insert_json_bytes(key, value.clone());
        let serde = serde_json::from_slice::<IgnoredAny>(bytes);
        match (&result, &serde) {
            (Ok(_), Ok(_)) => {
                let stored = cache
                    .get_bytes(&key)
                    .expect("an accepted value is readable");
                assert_eq!(
                    stored.as_ptr(),
                    value.as_ptr(),
                    "the buffer is kept, not copied"
                );
            }
            (Err(e), Err(_)) => {
                if let Error::InvalidJson { offset, .. } = e {
                    assert!(*offset <= bytes.len(), "{e} is past the end");
                } else {
                    assert!(matches!(e, Error::InvalidUtf8 { .. }), "{e}");
                }
                assert_eq!(
                    cache.get_bytes(&key),
                    before,
                    "a refused write changed the value"
                );
            }
            (accepted, rejected) => assert!(
                deliberate(bytes, accepted.is_ok()),
                "simd-json says {accepted:?}, serde_json says {rejected:?}, for {:?}",
                String::from_utf8_lossy(bytes)
            ),
        }
        applied += 1;
        cache.validate();
    }
    applied
}

/// Separates the documents of one input.
const SEPARATOR: u8 = 0xff;

/// Where the two verdicts may differ, on purpose: in what `IgnoredAny`
/// skips without decoding, a number beyond the range of `f64` (`1e400`) or
/// a string escape no Rust string can hold (a lone UTF-16 surrogate,
/// `"\ud800"`). simd-json refuses both, as serde_json does when it decodes
/// them (into a `serde_json::Value`). Nesting is limited alike (127 levels).
pub const DIFFERENCES: &str = "numbers beyond f64 and lone surrogate escapes";

/// Whether the verdicts on `json` (`accepted` by simd-json or not) may
/// differ under one of the [`DIFFERENCES`].
fn deliberate(json: &[u8], accepted: bool) -> bool {
    !accepted && serde_json::from_slice::<serde_json::Value>(json).is_err()
}
