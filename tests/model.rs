//! Random operation sequences applied to strcache and to a `HashMap` model,
//! results compared after every step.

use std::collections::HashMap;

use bytes::Bytes;
use proptest::prelude::*;
use strcache::{CompactString, InsertOutcome, StrCache};

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, String),
    TryInsertBytes(u8, Vec<u8>),
    Get(u8),
    GetBytes(u8),
    Remove(u8),
    /// Keep keys whose value length is not divisible by the modulus.
    Retain(u8),
    Clear,
    PinnedBatch(Vec<u8>),
    Iter,
}

fn op() -> impl Strategy<Value = Op> {
    // Few distinct keys, so keys are replaced, removed and re-inserted often.
    let key = 0u8..48;
    prop_oneof![
        8 => (key.clone(), "[a-z{}\":,é]{0,12}").prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (key.clone(), proptest::collection::vec(any::<u8>(), 0..8))
            .prop_map(|(k, v)| Op::TryInsertBytes(k, v)),
        6 => key.clone().prop_map(Op::Get),
        2 => key.clone().prop_map(Op::GetBytes),
        4 => key.clone().prop_map(Op::Remove),
        1 => (1u8..5).prop_map(Op::Retain),
        1 => Just(Op::Clear),
        2 => proptest::collection::vec(key, 0..6).prop_map(Op::PinnedBatch),
        1 => Just(Op::Iter),
    ]
}

fn key(k: u8) -> CompactString {
    strcache::compact_str::format_compact!("key-{k}")
}

fn apply(cache: &StrCache, model: &mut HashMap<CompactString, String>, op: Op) {
    match op {
        Op::Insert(k, v) => {
            let expected = if model.insert(key(k), v.clone()).is_some() {
                InsertOutcome::Replaced
            } else {
                InsertOutcome::Inserted
            };
            assert_eq!(cache.insert(key(k), v), Ok(expected));
        }
        Op::TryInsertBytes(k, bytes) => {
            let result = cache.try_insert_bytes(key(k), Bytes::from(bytes.clone()));
            match String::from_utf8(bytes) {
                Ok(text) => {
                    let expected = if model.insert(key(k), text).is_some() {
                        InsertOutcome::Replaced
                    } else {
                        InsertOutcome::Inserted
                    };
                    assert_eq!(result, Ok(expected));
                }
                Err(e) => {
                    let err = result.unwrap_err();
                    assert_eq!(
                        err,
                        strcache::Error::InvalidUtf8 {
                            valid_up_to: e.utf8_error().valid_up_to(),
                            error_len: e.utf8_error().error_len(),
                        }
                    );
                }
            }
        }
        Op::Get(k) => {
            assert_eq!(
                cache.get_str(&key(k)).as_deref(),
                model.get(&key(k)).map(String::as_str)
            );
        }
        Op::GetBytes(k) => {
            assert_eq!(
                cache.get_bytes(&key(k)),
                model.get(&key(k)).map(|v| Bytes::from(v.clone()))
            );
        }
        Op::Remove(k) => {
            assert_eq!(
                cache.remove(&key(k)).map(|v| v.to_string()),
                model.remove(&key(k))
            );
        }
        Op::Retain(m) => {
            let keep = |v: &str| !v.len().is_multiple_of(usize::from(m));
            cache.retain(|_, v| keep(v));
            model.retain(|_, v| keep(v));
        }
        Op::Clear => {
            cache.clear();
            model.clear();
        }
        Op::PinnedBatch(keys) => {
            let pinned = cache.pin();
            for k in keys {
                assert_eq!(
                    pinned.get_str(&key(k)),
                    model.get(&key(k)).map(String::as_str)
                );
                assert_eq!(pinned.contains_key(&key(k)), model.contains_key(&key(k)));
            }
        }
        Op::Iter => {
            let mut seen: Vec<(CompactString, String)> =
                cache.iter().map(|(k, v)| (k, v.to_string())).collect();
            seen.sort();
            let mut expected: Vec<(CompactString, String)> =
                model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            expected.sort();
            assert_eq!(seen, expected);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 256 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn matches_hashmap(shards in 1usize..4, ops in proptest::collection::vec(op(), 1..if cfg!(miri) { 40 } else { 300 })) {
        let cache: StrCache = StrCache::builder().shards(shards).build();
        let mut model = HashMap::new();
        for op in ops {
            apply(&cache, &mut model, op);
            prop_assert_eq!(cache.len(), model.len());
        }
        for (k, v) in &model {
            let got = cache.get_str(k);
            prop_assert_eq!(got.as_deref(), Some(v.as_str()));
        }
    }
}
