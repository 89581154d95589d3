//! Operation sequences, under a bound and a time to live drawn from the input, against a
//! HashMap model that checks each eviction report, with the invariant walk after each step.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strcache::check::ops(data);
});
