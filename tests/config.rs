//! Configuration: settings that cannot make a cache are refused when it is
//! built, by `try_build` with a `ConfigError` that names the setting and
//! by `build` with a panic that says the same.

use std::{panic, time::Duration};

use strcache::{ConfigError, StrCache};

/// The message `build` panics with for `builder`'s settings.
fn build_panic(builder: strcache::Builder<String, ahash::RandomState>) -> String {
    let panic = panic::catch_unwind(panic::AssertUnwindSafe(|| builder.build()))
        .expect_err("the settings are refused");
    panic
        .downcast_ref::<String>()
        .expect("a formatted message")
        .clone()
}

#[test]
fn a_zero_bound_is_refused_and_named() {
    let builder = StrCache::<String>::builder;
    let refused = [
        ("max_entries", builder().max_entries(0).try_build()),
        ("max_bytes", builder().max_bytes(0).try_build()),
    ];
    for (setting, built) in refused {
        let err = built.unwrap_err();
        assert_eq!(err, ConfigError::ZeroBound { setting });
        assert!(
            err.to_string().starts_with(&format!("{setting}(0): ")),
            "{err}"
        );
    }
}

#[test]
fn a_zero_weight_bound_holds_only_weightless_entries() {
    let cache = StrCache::<u32>::builder()
        .max_weight(0, |_, value: &str| value.len() as u64)
        .try_build()
        .expect("a weigher may weigh entries 0");
    cache.insert(1, "").unwrap();
    let err = cache.insert(2, "x").unwrap_err();
    assert_eq!(err, strcache::Error::TooLarge { weight: 1, max: 0 });
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.get_str(&1).unwrap(), "");
}

#[test]
fn two_different_bounds_are_refused_naming_both() {
    let err = StrCache::<String>::builder()
        .max_entries(100)
        .max_bytes(4096)
        .try_build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_entries(100) and max_bytes(4096): a cache has one bound; keep the one you mean"
    );
    let err = StrCache::<String>::builder()
        .max_entries(100)
        .max_entries(200)
        .try_build()
        .unwrap_err();
    let expected = ConfigError::TwoBounds {
        first: "max_entries(100)".into(),
        second: "max_entries(200)".into(),
    };
    assert_eq!(err, expected);
    let weigher = |_: &String, value: &str| value.len() as u64;
    let err = StrCache::<String>::builder()
        .max_weight(10, weigher)
        .max_weight(10, weigher)
        .try_build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::TwoBounds { .. }), "{err}");
    // Only the first conflict is reported.
    let err = StrCache::<String>::builder()
        .max_bytes(1)
        .max_entries(2)
        .max_entries(3)
        .try_build()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("max_bytes(1) and max_entries(2)"),
        "{err}"
    );
}

#[test]
fn the_same_bound_twice_is_one_bound() {
    let cache = StrCache::<u32>::builder()
        .max_entries(2)
        .max_entries(2)
        .try_build()
        .expect("not a contradiction");
    for i in 0..10 {
        cache.insert(i, "v").unwrap();
    }
    assert_eq!(cache.len(), 2);
}

#[test]
fn a_zero_time_to_live_is_refused() {
    let err = StrCache::<String>::builder()
        .time_to_live(Duration::ZERO)
        .try_build()
        .unwrap_err();
    assert_eq!(err, ConfigError::ZeroTimeToLive);
    assert!(err.to_string().starts_with("time_to_live(0s): "), "{err}");
    let cache = StrCache::<String>::builder()
        .time_to_live(Duration::from_nanos(1))
        .try_build();
    assert!(cache.is_ok(), "any time to live above zero is kept");
}

#[test]
fn shards_must_number_one_to_65536() {
    let err = StrCache::<String>::builder()
        .shards(0)
        .try_build()
        .unwrap_err();
    assert_eq!(err, ConfigError::ZeroShards);
    let err = StrCache::<String>::builder()
        .shards((1 << 16) + 1)
        .try_build()
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::TooManyShards {
            shards: 65_537,
            max: 65_536
        }
    );
    assert_eq!(
        err.to_string(),
        "shards(65537): a cache has at most 65536 shards"
    );
    let cache = StrCache::<String>::builder().shards(3).try_build().unwrap();
    assert_eq!(cache.shard_count(), 4);
}

#[test]
fn build_panics_with_the_message_that_names_the_setting() {
    let message = build_panic(StrCache::builder().max_entries(0));
    assert!(
        message.starts_with("invalid cache settings: max_entries(0): "),
        "{message}"
    );
    let message = build_panic(StrCache::builder().time_to_live(Duration::ZERO));
    assert!(message.contains("time_to_live(0s)"), "{message}");
    let message = build_panic(StrCache::builder().max_entries(1).max_bytes(1));
    assert!(
        message.contains("max_entries(1) and max_bytes(1)"),
        "{message}"
    );
}

#[test]
fn a_config_error_is_a_std_error() {
    let err: Box<dyn std::error::Error + Send + Sync> = Box::new(ConfigError::ZeroShards);
    assert!(err.source().is_none());
    assert_eq!(
        err.to_string(),
        "shards(0): a cache needs at least one shard"
    );
}

/// The freshness settings: each contradiction is refused by name, before
/// any worker thread starts.
#[test]
fn contradictory_freshness_settings_are_refused_and_named() {
    use strcache::Pipeline;

    let secs = Duration::from_secs;
    let builder = || StrCache::<String>::builder().time_to_live(secs(60));
    let load = |_: &String| Ok::<_, ()>("v");
    let refused = [
        (
            builder()
                .refresh_after(secs(60))
                .refresh_pipeline(Pipeline::threads(1)),
            ConfigError::RefreshAfterTtl {
                refresh_after: secs(60),
                ttl: secs(60),
            },
            "refresh_after(60s)",
        ),
        (
            builder()
                .refresh_after(Duration::ZERO)
                .refresh_pipeline(Pipeline::threads(1)),
            ConfigError::ZeroWindow {
                setting: "refresh_after",
            },
            "refresh_after(0s)",
        ),
        (
            builder()
                .serve_stale_for(Duration::ZERO)
                .refresh_pipeline(Pipeline::threads(1)),
            ConfigError::ZeroWindow {
                setting: "serve_stale_for",
            },
            "serve_stale_for(0s)",
        ),
        (
            builder().cache_failures_for(Duration::ZERO),
            ConfigError::ZeroWindow {
                setting: "cache_failures_for",
            },
            "cache_failures_for(0s)",
        ),
        (
            builder().serve_stale_for(secs(5)),
            ConfigError::NoPipeline {
                setting: "serve_stale_for",
            },
            "serve_stale_for: ",
        ),
        (
            builder().refresh_pipeline(Pipeline::threads(1)),
            ConfigError::IdlePipeline,
            "refresh_pipeline: ",
        ),
        (
            builder()
                .refresh_after(secs(5))
                .refresh_pipeline(Pipeline::threads(0)),
            ConfigError::ZeroPipeline { setting: "threads" },
            "refresh_pipeline: ",
        ),
        (
            builder()
                .refresh_after(secs(5))
                .refresh_pipeline(Pipeline::threads(1).queue(0)),
            ConfigError::ZeroPipeline { setting: "queue" },
            "refresh_pipeline: ",
        ),
    ];
    for (settings, expected, named) in refused {
        let err = settings.try_build_loading(load).unwrap_err();
        assert_eq!(err, expected);
        assert!(err.to_string().starts_with(named), "{err}");
    }
    // Freshness needs a loader: `build` refuses it.
    let err = builder().refresh_after(secs(5)).try_build().unwrap_err();
    assert_eq!(
        err,
        ConfigError::NeedsLoader {
            setting: "refresh_after"
        }
    );
    assert!(build_panic(builder().refresh_after(secs(5))).contains("build_loading(loader)"));
}

#[cfg(feature = "async")]
#[test]
fn a_pipeline_of_the_wrong_kind_is_refused() {
    use strcache::Pipeline;

    let stale = || StrCache::<String>::builder().serve_stale_for(Duration::from_secs(5));
    let err = stale()
        .refresh_pipeline(Pipeline::spawn(drop))
        .try_build_loading(|_: &String| Ok::<_, ()>("v"))
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::PipelineKind {
            expected: "Pipeline::threads"
        }
    );
    let err = stale()
        .refresh_pipeline(Pipeline::threads(1))
        .try_build_loading_async(|_: &String| async { Ok::<_, ()>("v") })
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::PipelineKind {
            expected: "Pipeline::spawn"
        }
    );
}
