//! Arbitrary bytes into `try_insert_bytes`, judged against `std::str::from_utf8`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strcache::check::utf8_ingress(data);
});
