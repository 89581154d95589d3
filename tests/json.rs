//! JSON: values serialized once at write time, raw JSON validated without
//! being copied, and text read back into types that borrow from it.
#![cfg(feature = "json")]

use std::{
    collections::{HashMap, HashSet},
    error::Error as _,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Mutex,
    },
    thread,
};

use bytes::Bytes;
use proptest::prelude::*;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Value};
use strcache::{Error, StrCache};

#[test]
fn insert_json_writes_compact_json() {
    let cache: StrCache = StrCache::new();
    let value = json!({"id": 7, "tags": ["a", "b"], "name": "Ada \"the\" first"});
    cache.insert_json("k", &value).unwrap();
    let text = cache.get_str("k").unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    assert_eq!(*text, serde_json::to_string(&value).unwrap());
    // The only spaces are the two inside the name.
    assert_eq!(text.matches(' ').count(), 2, "{text}");
}

/// A value whose serialization fails halfway.
struct Failing;

impl Serialize for Failing {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refused by the impl"))
    }
}

#[test]
fn a_failed_serialization_changes_nothing() {
    let cache: StrCache = StrCache::new();
    cache.insert_json("k", &[1, 2]).unwrap();
    let err = cache.insert_json("k", &Failing).unwrap_err();
    assert_eq!(
        err.to_string(),
        "value cannot be serialized to JSON: refused by the impl"
    );
    // serde_json's error is kept whole, as the source.
    let source = err.source().expect("serde_json's error");
    let source = source
        .downcast_ref::<serde_json::Error>()
        .expect("serde_json");
    assert!(source.is_data(), "{source:?}");
    assert_eq!(err.clone(), err);
    let keys: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
    let err = cache.insert_json("k", &keys).unwrap_err();
    assert!(err.to_string().contains("key must be a string"), "{err}");
    let err = cache.insert_json_canonical("k", &keys).unwrap_err();
    assert!(matches!(err, Error::Serialize(_)), "{err}");
    assert_eq!(cache.get_str("k").unwrap(), "[1,2]");
    assert_eq!(cache.len(), 1);
}

#[test]
fn canonical_json_does_not_depend_on_map_order() {
    let cache: StrCache = StrCache::new();
    let entries: Vec<(String, Value)> = (0..50)
        .map(|i| {
            (
                format!("key{i}"),
                json!({"z": i, "a": [i, {"y": 1, "b": 2}]}),
            )
        })
        .collect();
    // Two maps with different hashers iterate in different orders.
    let one: HashMap<_, _> = entries.iter().cloned().collect();
    let two: HashMap<_, _> = entries.iter().rev().cloned().collect();
    cache.insert_json_canonical("one", &one).unwrap();
    cache.insert_json_canonical("two", &two).unwrap();
    let text = cache.get_str("one").unwrap();
    assert_eq!(text, cache.get_str("two").unwrap());
    assert!(
        text.starts_with(r#"{"key0":{"a":[0,{"b":2,"y":1}],"z":0},"key1":"#),
        "{text}"
    );
}

#[test]
fn raw_json_is_validated_and_kept_without_a_copy() {
    let cache: StrCache = StrCache::new();
    let json = Bytes::from_static(b" {\"a\": [1, 2.5, null, true, \"x\"]}\n");
    cache.try_insert_json_bytes("k", json.clone()).unwrap();
    assert_eq!(cache.get_bytes("k").unwrap().as_ptr(), json.as_ptr());
    for (bad, offset) in [
        (&b"{\"a\":1} {}"[..], 8),
        (b"{\"a\":1", 6),
        (b"[1,]", 3),
        (b"{\n  \"a\": trux\n}", 12),
        (b"", 0),
    ] {
        let err = cache
            .try_insert_json_bytes("k", Bytes::from_static(bad))
            .unwrap_err();
        match &err {
            Error::InvalidJson { offset: at, .. } => {
                assert_eq!(*at, offset, "{}: {err}", String::from_utf8_lossy(bad));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("byte offset"), "{err}");
    }
    let err = cache
        .try_insert_json_bytes("k", Bytes::from_static(b"\"\xff\""))
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidUtf8 { valid_up_to: 1, .. }),
        "{err}"
    );
    assert_eq!(cache.get_bytes("k").unwrap().as_ptr(), json.as_ptr());
}

#[derive(Debug, Deserialize, PartialEq)]
struct User<'a> {
    name: &'a str,
    age: u32,
}

#[test]
fn get_json_borrows_from_the_cached_text_under_a_pin() {
    let cache: StrCache = StrCache::new();
    cache
        .insert("u".into(), r#"{"name":"Ada","age":36,"bio":"skipped"}"#)
        .unwrap();
    let pin = cache.pin();
    let user: User = pin.get_json("u").unwrap().unwrap();
    assert_eq!(
        user,
        User {
            name: "Ada",
            age: 36
        }
    );
    let text = pin.get_str("u").unwrap().as_bytes().as_ptr_range();
    assert!(
        text.contains(&user.name.as_ptr()),
        "name copied, not borrowed"
    );
    assert_eq!(pin.get_json::<User>("none").unwrap(), None);
    let err = pin.get_json::<Vec<u8>>("u").unwrap_err();
    let Error::Deserialize(json) = &err else {
        panic!("{err}")
    };
    assert!(json.serde_json().is_data(), "{json:?}");
    let source = err.source().expect("serde_json's error");
    assert!(source.is::<serde_json::Error>(), "{source:?}");
}

/// A value whose serialization inserts another JSON value into the cache,
/// so the per-thread scratch buffer is in use when it is needed again.
struct Reentrant<'a>(&'a StrCache);

impl Serialize for Reentrant<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.insert_json("inner", &["inner"]).unwrap();
        serializer.serialize_str("outer")
    }
}

#[test]
fn a_serializer_may_insert_json_itself() {
    let cache: StrCache = StrCache::new();
    cache.insert_json("outer", &Reentrant(&cache)).unwrap();
    assert_eq!(cache.get_str("outer").unwrap(), r#""outer""#);
    assert_eq!(cache.get_str("inner").unwrap(), r#"["inner"]"#);
}

/// The scenario strcache exists for: threads mutate a shared map and
/// publish its JSON after each change while readers read it, never
/// serializing, never seeing anything but a published version.
#[test]
fn readers_see_only_published_json_while_writers_mutate_a_shared_map() {
    let rounds = if cfg!(miri) { 5 } else { 500 };
    let cache: StrCache = StrCache::new();
    let map: Mutex<HashMap<String, Value>> = Mutex::new(HashMap::new());
    let published: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let writing = AtomicUsize::new(4);
    let reads = AtomicUsize::new(0);
    let checked = AtomicBool::new(false);
    thread::scope(|s| {
        for w in 0..4 {
            let (cache, map, published, writing) = (&cache, &map, &published, &writing);
            s.spawn(move || {
                for round in 0..rounds {
                    let mut map = map.lock().unwrap();
                    map.insert(format!("w{w}"), json!({"round": round, "list": [w, round]}));
                    if round % 3 == 0 {
                        map.remove(&format!("w{}", (w + 1) % 4));
                    }
                    let text = serde_json::to_string(&*map).unwrap();
                    published.lock().unwrap().insert(text);
                    cache.insert_json("state", &*map).unwrap();
                }
                writing.fetch_sub(1, Ordering::Release);
            });
        }
        for _ in 0..4 {
            let (cache, published, writing, reads, checked) =
                (&cache, &published, &writing, &reads, &checked);
            s.spawn(move || loop {
                let done = writing.load(Ordering::Acquire) == 0;
                if let Some(text) = cache.get_str("state") {
                    let parsed: Value = serde_json::from_str(&text).expect("whole JSON");
                    assert!(parsed.is_object());
                    assert!(
                        published.lock().unwrap().contains(&*text),
                        "a version never published: {text}"
                    );
                    reads.fetch_add(1, Ordering::Relaxed);
                    checked.store(true, Ordering::Relaxed);
                }
                if done {
                    break;
                }
            });
        }
    });
    assert!(checked.load(Ordering::Relaxed));
    assert!(
        reads.load(Ordering::Relaxed) >= 4,
        "every reader read at least once"
    );
}

/// Any JSON value, with finite numbers (JSON has no others).
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".*".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::hash_map(".*", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 256 },
        // Miri's isolation forbids the files a failure would be saved in.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_value_round_trips(value in any_json()) {
        let cache: StrCache = StrCache::new();
        cache.insert_json("v", &value).unwrap();
        prop_assert_eq!(cache.get_json::<Value>("v").unwrap(), Some(value.clone()));
        cache.insert_json_canonical("c", &value).unwrap();
        prop_assert_eq!(cache.get_json::<Value>("c").unwrap(), Some(value.clone()));
        let text = cache.get_bytes("v").unwrap();
        cache.try_insert_json_bytes("raw", text).unwrap();
    }
}

#[test]
fn nesting_is_limited_as_serde_json_limits_it() {
    let cache: StrCache = StrCache::new();
    for depth in [1, 127, 128, 129, 1_000] {
        let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let ours = cache.try_insert_json_bytes("k", Bytes::from(json.clone()));
        let theirs = serde_json::from_str::<Value>(&json);
        assert_eq!(
            ours.is_ok(),
            theirs.is_ok(),
            "depth {depth}: {ours:?} {theirs:?}"
        );
    }
}
