//! `IntoKey`: what a write accepts as a key.

use std::sync::Arc;

use compact_str::CompactString;

/// A value that converts into a key of type `K`: a `K` itself, a `&str`
/// for [`CompactString`] (the default), `String`, `Box<str>` and
/// `Arc<str>` keys, or a `String` for `CompactString` keys. The JSON
/// writes take an `impl IntoKey<K>`, so `cache.insert_json("user:7",
/// &user)` needs no `.to_string()`, and an integer literal is still a
/// `u64` key.
///
/// A `&str` converts into four key types, so the key of a write does not
/// decide the key type of a cache whose type nothing else fixes: the
/// compiler asks for it instead of making `&'static str` the key type,
/// which a first key built with `format!` would then not fit. Give the
/// variable a type (`let cache: StrCache = ...` for the default
/// `CompactString` keys) or name it on the builder
/// (`StrCache::<u64>::builder()`).
///
/// Implement it for a key type of your own that a borrowed form converts
/// into, as `&str` does into `CompactString`.
///
/// # Examples
/// ```
/// use strcache::StrCache;
///
/// let by_name: StrCache = StrCache::builder().max_entries(10_000).build();
/// by_name.insert_json("user:7", &7).unwrap();
/// by_name.insert_json(format!("user:{}", 8), &8).unwrap();
///
/// let by_id = StrCache::<u64>::builder().build();
/// by_id.insert_json(7, &7).unwrap();
/// assert_eq!(by_id.get_str(&7).unwrap(), "7");
/// ```
///
/// Without a type for the cache, the compiler asks for one:
///
/// ```compile_fail,E0283
/// let cache = strcache::StrCache::builder().max_entries(10_000).build();
/// cache.insert_json("user:7", &7).unwrap(); // `K`: type annotations needed
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a key of this cache, whose keys are `{K}`",
    label = "expected a `{K}` here",
    note = "a write takes a `{K}`, or a `&str` when the keys are `String`, `Box<str>` or `Arc<str>`"
)]
pub trait IntoKey<K> {
    /// The key.
    ///
    /// # Examples
    /// ```
    /// use strcache::IntoKey;
    ///
    /// let key: String = "user:7".into_key();
    /// assert_eq!(key, "user:7");
    /// assert_eq!(IntoKey::<u64>::into_key(7), 7);
    /// ```
    fn into_key(self) -> K;
}

impl<K> IntoKey<K> for K {
    #[inline]
    fn into_key(self) -> K {
        self
    }
}

impl IntoKey<CompactString> for &str {
    fn into_key(self) -> CompactString {
        CompactString::from(self)
    }
}

impl IntoKey<CompactString> for String {
    fn into_key(self) -> CompactString {
        CompactString::from(self)
    }
}

impl IntoKey<String> for &str {
    fn into_key(self) -> String {
        self.to_owned()
    }
}

impl IntoKey<Box<str>> for &str {
    fn into_key(self) -> Box<str> {
        Box::from(self)
    }
}

impl IntoKey<Arc<str>> for &str {
    fn into_key(self) -> Arc<str> {
        Arc::from(self)
    }
}
