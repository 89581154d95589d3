//! The JSON path: serializing a value at insert, with serde_json (what
//! `insert_json` uses) and with simd-json's serde serializer, and
//! validating raw JSON with `try_insert_json_bytes` (simd-json) against
//! serde_json's `from_slice::<IgnoredAny>`.
//!
//! Groups:
//! - `serialize/{map_20_fields,struct_1k}`: each serializer into a reused
//!   buffer, and `insert_json` end to end (serialization, the one
//!   exact-size copy, the insert).
//! - `validate/{small,100k}`: bytes per second through each validator, on
//!   the 20-field map and on 100 of the 1 KiB structs (101 KiB).
//!
//! Run with `cargo bench --bench json`; it takes about a minute.

use std::{collections::BTreeMap, hint::black_box, time::Duration};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::{de::IgnoredAny, Serialize};
use serde_json::{json, Value};
use strcache::StrCache;

/// A map of 20 fields of mixed kinds, like a typical API object.
fn map_20_fields() -> BTreeMap<String, Value> {
    (0..20)
        .map(|i| {
            let value = match i % 4 {
                0 => json!(i * 1_000_003),
                1 => json!(format!("text value number {i}")),
                2 => json!(i % 3 == 0),
                _ => json!([i, i + 1, 2.5]),
            };
            (format!("field_{i:02}"), value)
        })
        .collect()
}

/// A struct that serializes to about 1 KiB.
#[derive(Serialize)]
struct Order {
    id: u64,
    customer: String,
    email: String,
    lines: Vec<Line>,
    note: String,
    paid: bool,
}

#[derive(Serialize)]
struct Line {
    sku: String,
    quantity: u32,
    price: f64,
}

fn struct_1k() -> Order {
    Order {
        id: 982_451_653,
        customer: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        lines: (0..12)
            .map(|i| Line {
                sku: format!("SKU-{i:05}-BLUE"),
                quantity: i + 1,
                price: 19.99 + f64::from(i),
            })
            .collect(),
        note: "leave at the door, ring twice; ".repeat(10),
        paid: true,
    }
}

fn serialize<T: Serialize>(c: &mut Criterion, name: &str, value: &T) {
    let len = serde_json::to_vec(value).unwrap().len();
    let mut g = c.benchmark_group(format!("serialize/{name}"));
    g.throughput(Throughput::Bytes(len as u64));
    let mut buf = Vec::with_capacity(2 * len);
    g.bench_function("serde_json", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(value)).unwrap();
            buf.len()
        })
    });
    g.bench_function("simd_json", |b| {
        b.iter(|| {
            buf.clear();
            simd_json::serde::to_writer(&mut buf, black_box(value)).unwrap();
            buf.len()
        })
    });
    let cache: StrCache<u32> = StrCache::builder().build();
    g.bench_function("insert_json", |b| {
        b.iter(|| cache.insert_json(1, black_box(value)).unwrap())
    });
    g.finish();
}

fn validate(c: &mut Criterion, name: &str, json: &Bytes) {
    let mut g = c.benchmark_group(format!("validate/{name}"));
    g.throughput(Throughput::Bytes(json.len() as u64));
    let cache: StrCache<u32> = StrCache::builder().build();
    g.bench_function("try_insert_json_bytes", |b| {
        b.iter(|| cache.try_insert_json_bytes(1, json.clone()).unwrap())
    });
    g.bench_function("serde_json_ignored_any", |b| {
        b.iter(|| serde_json::from_slice::<IgnoredAny>(black_box(json)).unwrap())
    });
    g.finish();
}

fn json(c: &mut Criterion) {
    serialize(c, "map_20_fields", &map_20_fields());
    serialize(c, "struct_1k", &struct_1k());
    let small = Bytes::from(serde_json::to_vec(&map_20_fields()).unwrap());
    validate(c, "small", &small);
    let orders: Vec<Order> = (0..100).map(|_| struct_1k()).collect();
    let large = Bytes::from(serde_json::to_vec(&orders).unwrap());
    assert!(large.len() > 100_000, "{} bytes", large.len());
    validate(c, "100k", &large);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = json
}
criterion_main!(benches);
