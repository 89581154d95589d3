//! Reads, writes, clock steps and loader failures against a `LoadingCache` with refresh and stale
//! windows drawn from the input, checked against a model of every value, staleness, age, loader
//! call and refresh counter, with the invariant walk after each step.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strcache::check::fresh(data);
});
