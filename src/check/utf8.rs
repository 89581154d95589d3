//! [`utf8_ingress`]: arbitrary bytes into `try_insert_bytes`, judged
//! against `std::str::from_utf8`.

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;

use crate::{Error, InsertOutcome, StrCache, Utf8Bytes};

/// Feeds arbitrary byte strings to `try_insert_bytes`: each is accepted
/// exactly when `std::str::from_utf8` accepts it, kept without a copy when
/// accepted, and refused with std's offsets otherwise, leaving the previous
/// value in place and readable.
///
/// # Panics
/// When the cache's verdict, error or stored value differs from std's, or
/// a refused write changed anything.
pub fn utf8_ingress(data: &[u8]) -> usize {
    let mut u = Unstructured::new(data);
    // Few keys, so most writes land on a key that already has a value.
    let cache: StrCache<u8> = StrCache::builder().shards(1).build();
    let mut applied = 0;
    while !u.is_empty() {
        let (Ok(key), Ok(bytes), Ok(skip)) = (
            u.int_in_range(0..=3u8),
            <&[u8]>::arbitrary(&mut u),
            u.arbitrary::<u8>(),
        ) else {
            break;
        };
        // A slice that starts inside the buffer: offsets must be relative
        // to the value, not to the allocation.
        let value = Bytes::copy_from_slice(bytes).slice(usize::from(skip) % (bytes.len() + 1)..);
        let before = cache.get_bytes(&key);
        let len_before = cache.len();
        let result = cache.try_insert_bytes(key, value.clone());
        match std::str::from_utf8(&value) {
            Ok(text) => {
                let expected = if before.is_some() {
                    InsertOutcome::Replaced
                } else {
                    InsertOutcome::Inserted
                };
                assert_eq!(result, Ok(expected));
                let stored = cache.get_str(&key).expect("an accepted value is readable");
                assert_eq!(&*stored, text);
                assert_eq!(
                    stored.as_ptr(),
                    value.as_ptr(),
                    "the buffer is kept, not copied"
                );
            }
            Err(e) => {
                let expected = Error::InvalidUtf8 {
                    valid_up_to: e.valid_up_to(),
                    error_len: e.error_len(),
                };
                assert_eq!(result, Err(expected.clone()));
                assert_eq!(Utf8Bytes::try_from(value).unwrap_err(), expected);
                assert!(
                    expected
                        .to_string()
                        .contains(&format!("byte offset {}", e.valid_up_to())),
                    "the message names the offset: {expected}"
                );
                let after = cache.get_bytes(&key);
                assert_eq!(after, before, "a refused write changed the value");
                if let (Some(after), Some(before)) = (&after, &before) {
                    assert_eq!(after.as_ptr(), before.as_ptr(), "the same buffer");
                    assert!(std::str::from_utf8(after).is_ok());
                    assert_eq!(
                        cache.get_str(&key).as_deref().map(str::as_bytes),
                        Some(&after[..])
                    );
                }
                assert_eq!(cache.len(), len_before, "a refused write changed len");
            }
        }
        applied += 1;
        cache.validate();
    }
    applied
}
