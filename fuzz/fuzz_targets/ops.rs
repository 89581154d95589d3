//! Operation sequences against a HashMap model, with the invariant walk after each step.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strcache::check::ops(data);
});
