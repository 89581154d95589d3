//! Keys and values shared by `benches/hot_path.rs` and
//! `examples/throughput/`, so both measure the same data.

/// Size of every value, in bytes.
pub(crate) const VALUE_LEN: usize = 128;

/// The `i`th key: 10 to 22 bytes, with a few realistic prefixes.
pub(crate) fn key(i: usize) -> String {
    const PREFIXES: [&str; 4] = ["key", "user:id", "session:tok", "tenant:0042:obj"];
    format!("{}:{i:06}", PREFIXES[i % PREFIXES.len()])
}

/// A `VALUE_LEN`-byte JSON object naming `key`.
pub(crate) fn value_for(key: &str) -> String {
    let mut text = format!(r#"{{"key":"{key}","data":""#);
    text.extend(std::iter::repeat_n('x', VALUE_LEN - 2 - text.len()));
    text.push_str(r#""}"#);
    debug_assert_eq!(text.len(), VALUE_LEN);
    text
}

/// Reads what a reader of a cached value would: its length and first byte.
#[inline]
pub(crate) fn touch(value: &[u8]) -> usize {
    value.len() + value.first().map_or(0, |&b| usize::from(b))
}
