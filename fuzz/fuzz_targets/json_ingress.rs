//! Arbitrary bytes into `try_insert_json_bytes`, judged against serde_json.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strcache::check::json_ingress(data);
});
