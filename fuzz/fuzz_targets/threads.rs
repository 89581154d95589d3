//! Two or three threads of operations on one cache, every value read checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strcache::check::threads(data);
});
