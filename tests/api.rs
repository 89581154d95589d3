//! Behaviour as documented, checked like `std::collections::HashMap`.

use std::{
    hash::{Hash, Hasher},
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use bytes::Bytes;
use strcache::{Error, InsertOutcome, StrCache, Utf8Bytes};

#[test]
fn insert_get_replace_remove() {
    let cache: StrCache = StrCache::new();
    assert_eq!(cache.insert("a".into(), "1"), Ok(InsertOutcome::Inserted));
    assert_eq!(
        cache.insert("a".into(), String::from("2")),
        Ok(InsertOutcome::Replaced)
    );
    assert_eq!(cache.get_str("a").unwrap(), "2");
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.remove("a").unwrap().as_str(), "2");
    assert!(cache.get_str("a").is_none());
    assert!(cache.remove("a").is_none());
    assert!(cache.is_empty());
    assert_eq!(cache.insert("a".into(), "3"), Ok(InsertOutcome::Inserted));
    assert_eq!(cache.get_str("a").unwrap(), "3");
}

/// `insert` copies text of up to 4 KiB into the entry and keeps longer
/// text's buffer; `try_insert_bytes` keeps any buffer. Every form reads
/// back the same, and `get_bytes` shares what the entry holds.
#[test]
fn short_text_is_copied_long_text_and_bytes_are_kept() {
    let cache: StrCache = StrCache::new();
    // The copy is made while the caller's buffer is still allocated, so it
    // cannot land at the same address.
    let copied = |key: &str, ptr: *const u8, text: &str| {
        let read = cache.get_str(key).unwrap();
        assert_eq!(read, text);
        assert_ne!(read.as_ptr(), ptr, "{key}: text of up to 4 KiB is copied");
        let shared = cache.get_bytes(key).unwrap();
        assert_eq!(
            shared.as_ptr(),
            read.as_ptr(),
            "{key}: get_bytes shares the copy"
        );
    };
    let owned = String::from("owned");
    let ptr = owned.as_ptr();
    cache.insert("string".into(), owned).unwrap();
    copied("string", ptr, "owned");

    let boxed: Box<str> = "boxed".into();
    let ptr = boxed.as_ptr();
    cache.insert("box".into(), boxed).unwrap();
    copied("box", ptr, "boxed");

    let arc: Arc<str> = "arc".into();
    let ptr = arc.as_ptr();
    cache.insert("arc".into(), Arc::clone(&arc)).unwrap();
    copied("arc", ptr, "arc");
    assert_eq!(Arc::strong_count(&arc), 1, "the cache let go of the Arc");

    static TEXT: &str = "static";
    cache.insert("static".into(), TEXT).unwrap();
    copied("static", TEXT.as_ptr(), TEXT);

    for len in [4096, 4097] {
        let text = "y".repeat(len);
        let ptr = text.as_ptr();
        cache.insert("long".into(), text).unwrap();
        let read = cache.get_str("long").unwrap();
        assert_eq!(read.len(), len);
        assert_eq!(read.as_ptr() == ptr, len > 4096, "{len} bytes");
    }

    let bytes = Bytes::from(vec![b'x'; 64]);
    let ptr = bytes.as_ptr();
    cache.try_insert_bytes("bytes".into(), bytes).unwrap();
    assert_eq!(cache.get_str("bytes").unwrap().as_ptr(), ptr);
    assert_eq!(
        cache.get_bytes("bytes").unwrap().as_ptr(),
        ptr,
        "get_bytes shares the buffer"
    );
}

#[test]
fn invalid_utf8_is_rejected_and_changes_nothing() {
    let cache: StrCache = StrCache::new();
    cache.insert("k".into(), "previous").unwrap();
    let err = cache
        .try_insert_bytes("k".into(), Bytes::from_static(b"abc\xffdef"))
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidUtf8 {
            valid_up_to: 3,
            error_len: Some(1)
        }
    );
    assert!(err.to_string().contains("byte offset 3"), "{err}");
    assert_eq!(cache.get_str("k").unwrap(), "previous");
    assert_eq!(cache.len(), 1);

    let err = cache
        .try_insert_bytes("new".into(), Bytes::from_static(b"\xe2\x82"))
        .unwrap_err();
    assert!(err.to_string().contains("end of input"), "{err}");
    assert!(!cache.contains_key("new"));
}

#[test]
fn empty_values_are_distinct_from_absence() {
    let cache: StrCache = StrCache::new();
    cache.insert("empty".into(), "").unwrap();
    assert_eq!(cache.get_str("empty").unwrap(), "");
    assert!(cache.contains_key("empty"));
    assert!(cache.get_str("absent").is_none());
    cache.try_insert_bytes("b".into(), Bytes::new()).unwrap();
    assert_eq!(cache.get_bytes("b").unwrap().len(), 0);
}

#[test]
fn borrowed_lookups_like_hashmap() {
    let cache: StrCache<Vec<u8>> = StrCache::builder().build();
    cache.insert(b"key".to_vec(), "v").unwrap();
    assert_eq!(cache.get_str(&b"key"[..]).unwrap(), "v");

    let cache: StrCache<Box<str>> = StrCache::builder().build();
    cache.insert("key".into(), "v").unwrap();
    assert!(cache.contains_key("key"));
}

#[test]
fn cached_str_keeps_its_value_across_replace_remove_and_clear() {
    let cache: StrCache = StrCache::new();
    cache.insert("k".into(), String::from("first")).unwrap();
    let first = cache.get_str("k").unwrap();
    cache.insert("k".into(), "second").unwrap();
    let second = cache.get_str("k").unwrap();
    cache.remove("k");
    cache.insert("other".into(), "x").unwrap();
    cache.clear();
    assert_eq!(first, "first");
    assert_eq!(second, "second");
    assert!(cache.is_empty());
    assert!(cache.get_str("other").is_none());
}

#[test]
fn cached_str_traits() {
    let cache: StrCache = StrCache::new();
    cache.insert("k".into(), "value").unwrap();
    let v = cache.get_str("k").unwrap();
    assert_eq!(&*v, "value");
    assert_eq!(v.as_ref() as &str, "value");
    assert_eq!(v, "value");
    assert!("value" == v);
    assert_eq!(v, String::from("value"));
    assert_eq!(v.to_string(), "value");
    assert_eq!(format!("{v:?}"), "\"value\"");
    assert_eq!(v, cache.get_str("k").unwrap());
}

#[test]
fn pinned_reads_many_keys() {
    let cache: StrCache<u32> = StrCache::builder().build();
    for i in 0..100 {
        cache.insert(i, i.to_string()).unwrap();
    }
    let pinned = cache.pin();
    let total: usize = (0..100).map(|i| pinned.get_str(&i).unwrap().len()).sum();
    assert_eq!(total, 10 + 90 * 2);
    assert!(pinned.contains_key(&5));
    assert_eq!(pinned.get_str(&100), None);
}

#[test]
fn grows_across_many_resizes_and_shrinks_after_removal() {
    let n = if cfg!(miri) { 300 } else { 20_000 };
    let cache: StrCache<u64> = StrCache::builder().shards(2).build();
    for i in 0..n {
        assert_eq!(cache.insert(i, i.to_string()), Ok(InsertOutcome::Inserted));
    }
    assert_eq!(cache.len(), n as usize);
    for i in 0..n {
        assert_eq!(cache.get_str(&i).unwrap(), i.to_string());
    }
    for i in (0..n).filter(|i| i % 3 != 0) {
        assert!(cache.remove(&i).is_some());
    }
    // Tombstones are dropped by later resizes; lookups stay correct.
    for i in n..n + n / 2 {
        cache.insert(i, "new").unwrap();
    }
    for i in 0..n {
        assert_eq!(cache.contains_key(&i), i % 3 == 0, "key {i}");
    }
    assert_eq!(cache.len(), (n as usize).div_ceil(3) + n as usize / 2);
}

#[test]
fn retain_keeps_what_the_predicate_keeps_and_may_reenter() {
    let cache: StrCache<u32> = StrCache::builder().build();
    for i in 0..50 {
        cache.insert(i, i.to_string()).unwrap();
    }
    cache.retain(|k, v| {
        // The predicate runs without locks, so reading the cache is fine.
        assert_eq!(cache.get_str(k).unwrap(), v);
        k % 2 == 0
    });
    assert_eq!(cache.len(), 25);
    assert!((0..50).all(|i| cache.contains_key(&i) == (i % 2 == 0)));
}

#[test]
fn iter_yields_every_key_once() {
    let cache: StrCache<u32> = StrCache::builder().build();
    for i in 0..200 {
        cache.insert(i, i.to_string()).unwrap();
    }
    let mut owned: Vec<(u32, String)> = cache.iter().map(|(k, v)| (k, v.to_string())).collect();
    owned.sort();
    assert_eq!(
        owned,
        (0..200).map(|i| (i, i.to_string())).collect::<Vec<_>>()
    );

    let pinned = cache.pin();
    let mut borrowed: Vec<u32> = pinned
        .iter()
        .map(|(k, v)| {
            assert_eq!(v, k.to_string());
            *k
        })
        .collect();
    borrowed.sort();
    assert_eq!(borrowed, (0..200).collect::<Vec<_>>());
}

#[test]
fn builder_settings() {
    let cache: StrCache<u8> = StrCache::builder().shards(1).build();
    assert_eq!(cache.shard_count(), 1);
    if !cfg!(miri) {
        // 65,536 shards: too slow to build under Miri.
        let cache: StrCache<u8> = StrCache::builder().shards(1 << 16).build();
        assert_eq!(cache.shard_count(), 1 << 16);
    }
    let cache: StrCache<u8> = StrCache::builder().build();
    assert!(cache.shard_count().is_power_of_two());
    assert!(format!("{cache:?}").contains("StrCache"));
    let _ = StrCache::default().len();
}

#[test]
fn is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<StrCache>();
    check::<StrCache<u64>>();
    check::<Utf8Bytes>();
}

/// Keys that all collide, so every write runs `Eq`; `Hash` panics for key
/// 999 and `Eq` panics on any call while the matching flag is set.
#[derive(Debug)]
struct Fragile(u32);

static HASH_ARMED: AtomicBool = AtomicBool::new(false);
static EQ_ARMED: AtomicBool = AtomicBool::new(false);

impl Hash for Fragile {
    fn hash<H: Hasher>(&self, state: &mut H) {
        assert!(
            !(HASH_ARMED.load(Ordering::Relaxed) && self.0 == 999),
            "hash panicked"
        );
        0u32.hash(state);
    }
}

impl PartialEq for Fragile {
    fn eq(&self, other: &Self) -> bool {
        assert!(!EQ_ARMED.load(Ordering::Relaxed), "eq panicked");
        self.0 == other.0
    }
}

impl Eq for Fragile {}

#[test]
fn panicking_hash_or_eq_leaves_the_cache_usable() {
    let cache: StrCache<Fragile> = StrCache::builder().shards(1).build();
    cache.insert(Fragile(1), "one").unwrap();

    HASH_ARMED.store(true, Ordering::Relaxed);
    let r = catch_unwind(AssertUnwindSafe(|| cache.insert(Fragile(999), "x")));
    HASH_ARMED.store(false, Ordering::Relaxed);
    assert!(r.is_err());

    EQ_ARMED.store(true, Ordering::Relaxed);
    let r = catch_unwind(AssertUnwindSafe(|| cache.insert(Fragile(2), "two")));
    EQ_ARMED.store(false, Ordering::Relaxed);
    assert!(r.is_err());

    // Nothing stayed locked and nothing changed.
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.get_str(&Fragile(1)).unwrap(), "one");
    assert_eq!(cache.insert(Fragile(2), "two"), Ok(InsertOutcome::Inserted));
    assert!(cache.remove(&Fragile(1)).is_some());
    assert_eq!(cache.get_str(&Fragile(2)).unwrap(), "two");
}
