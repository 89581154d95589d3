//! The async loaders: the protocol of the parent module, with a waker list
//! in place of the condition variable.

use std::{
    borrow::Borrow,
    convert::Infallible,
    future::Future,
    hash::{BuildHasher, Hash},
    pin::pin,
    sync::Arc,
    task::Poll,
};

use super::{
    flight::{Status, Tally},
    Role,
};
use crate::{read::CachedStr, stats::bump, Error, LoadError, Loaded, StrCache};

#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
impl<K, S> StrCache<K, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    S: BuildHasher,
{
    /// As [`get_or_insert_with`](Self::get_or_insert_with), for async
    /// code on any executor: `load` is awaited only if this caller leads
    /// the load, and waiting for another caller's load does not block the
    /// thread. Dropping this future while it loads hands the load over to
    /// a waiter, as a panic does. The future is `Send` when `load` is.
    ///
    /// Async loads do not detect recursion: a loader that awaits a load of
    /// its own key waits forever. Bound such waits with
    /// [`try_get_or_insert_with_async_timeout`](Self::try_get_or_insert_with_async_timeout),
    /// or with the executor's timeout, which cancels the load safely.
    ///
    /// The returned [`CachedStr`] holds an epoch pin and is not `Send`:
    /// drop it before the next `.await` of a task that must be `Send`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the loaded value does not fit the bound.
    ///
    /// # Examples
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
    /// #             return v;
    /// #         }
    /// #     }
    /// # }
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// block_on(async {
    ///     let v = cache
    ///         .get_or_insert_with_async("k", async { "loaded" })
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(v, "loaded");
    /// });
    /// ```
    pub async fn get_or_insert_with_async<Q, V: Loaded>(
        &self,
        key: &Q,
        load: impl Future<Output = V>,
    ) -> Result<CachedStr<'_>, Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        let load = async { Ok::<_, Infallible>(load.await) };
        self.try_get_or_insert_with_async(key, load)
            .await
            .map_err(LoadError::into_error)
    }

    /// As [`get_or_insert_with_async`](Self::get_or_insert_with_async),
    /// with a loader that can fail, as
    /// [`try_get_or_insert_with`](Self::try_get_or_insert_with): the error
    /// is not cached, and goes to this caller and to the callers waiting
    /// for its load.
    ///
    /// # Errors
    /// [`LoadError::Load`] with the loader's error, or
    /// [`LoadError::Cache`] as
    /// [`get_or_insert_with_async`](Self::get_or_insert_with_async).
    ///
    /// # Examples
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
    /// #             return v;
    /// #         }
    /// #     }
    /// # }
    /// use strcache::{LoadError, StrCache};
    ///
    /// let cache: StrCache = StrCache::new();
    /// block_on(async {
    ///     let down = cache
    ///         .try_get_or_insert_with_async("k", async { Err::<&str, _>("backend down") })
    ///         .await;
    ///     assert_eq!(down.unwrap_err(), LoadError::Load("backend down".into()));
    ///     let up = cache
    ///         .try_get_or_insert_with_async("k", async { Ok::<_, &str>("loaded") })
    ///         .await;
    ///     assert_eq!(up.unwrap(), "loaded");
    /// });
    /// ```
    pub async fn try_get_or_insert_with_async<Q, V: Loaded, E: Send + Sync + 'static>(
        &self,
        key: &Q,
        load: impl Future<Output = Result<V, E>>,
    ) -> Result<CachedStr<'_>, LoadError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        self.load_async(key, std::future::pending(), load).await
    }

    /// As [`try_get_or_insert_with_async`](Self::try_get_or_insert_with_async),
    /// but a caller waiting for another caller's load gives up when
    /// `timeout` completes: a timer of the program's executor, such as
    /// `tokio::time::sleep(Duration::from_millis(50))` (strcache depends on
    /// no runtime). As with [`get_or_insert_with_timeout`](Self::get_or_insert_with_timeout),
    /// only the wait is bounded: the load waited for carries on and still
    /// publishes its value, and a caller that runs the loader itself is
    /// not interrupted. (To bound the loader too, wrap the whole call in
    /// the executor's timeout, which cancels it safely: its load passes to
    /// a waiter.)
    ///
    /// # Errors
    /// [`Error::Timeout`] (as [`LoadError::Cache`]) once `timeout`
    /// completes while waiting, or as
    /// [`try_get_or_insert_with_async`](Self::try_get_or_insert_with_async).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{Error, LoadError, StrCache};
    ///
    /// # let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    /// # runtime.block_on(async {
    /// let cache: StrCache = StrCache::new();
    /// let slow = cache.try_get_or_insert_with_async("k", async {
    ///     tokio::time::sleep(Duration::from_secs(1)).await;
    ///     Ok::<_, ()>("slow")
    /// });
    /// let impatient = cache.try_get_or_insert_with_async_timeout(
    ///     "k",
    ///     tokio::time::sleep(Duration::from_millis(10)),
    ///     async { Ok::<_, ()>("never run: it waits for `slow`") },
    /// );
    /// let (slow, impatient) = tokio::join!(slow, impatient);
    /// assert_eq!(slow.unwrap(), "slow");
    /// assert_eq!(impatient.unwrap_err(), LoadError::Cache(Error::Timeout));
    /// # });
    /// ```
    pub async fn try_get_or_insert_with_async_timeout<Q, V: Loaded, E: Send + Sync + 'static>(
        &self,
        key: &Q,
        timeout: impl Future<Output = ()>,
        load: impl Future<Output = Result<V, E>>,
    ) -> Result<CachedStr<'_>, LoadError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        self.load_async(key, timeout, load).await
    }

    /// The protocol of the parent module, awaiting `load` if this caller
    /// leads, and giving up waiting for another caller's load when
    /// `timeout` completes.
    async fn load_async<Q, V: Loaded, E: Send + Sync + 'static>(
        &self,
        key: &Q,
        timeout: impl Future<Output = ()>,
        load: impl Future<Output = Result<V, E>>,
    ) -> Result<CachedStr<'_>, LoadError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        let mut timeout = pin!(timeout);
        if let Some(hit) = self.get_str(key) {
            return Ok(hit);
        }
        loop {
            match self.join(key, None) {
                Role::Wait(flight) => {
                    let end = std::future::poll_fn(|cx| match flight.poll_end(cx.waker()) {
                        Some(status) => Poll::Ready(Some(status)),
                        None => timeout.as_mut().poll(cx).map(|()| None),
                    })
                    .await;
                    let Some(end) = end else {
                        bump(&self.counters(flight.tag).loads_timed_out);
                        return Err(LoadError::Cache(Error::Timeout));
                    };
                    match end {
                        Status::Loaded(value) if flight.key.borrow() == key => {
                            bump(&self.counters(flight.tag).loads_waited);
                            return Ok(self.hold(value));
                        }
                        Status::Failed(error) => {
                            if let Some(error) = self.shared_failure(&flight, key, error) {
                                return Err(LoadError::Load(error));
                            }
                        }
                        _ => {}
                    }
                }
                Role::Lead(leader) => {
                    if let Some(hit) = self.recheck(key) {
                        return Ok(hit);
                    }
                    let tally = Tally::new(self.counters(leader.flight.tag));
                    let result = load.await;
                    tally.ended(result.is_ok());
                    return match result {
                        Ok(loaded) => self.publish(key.to_owned().into(), loaded, Some(leader)),
                        Err(error) => {
                            let error = Arc::new(error);
                            leader.fail(&error, self.failure_until());
                            Err(LoadError::Load(error))
                        }
                    };
                }
            }
            if let Some(hit) = self.recheck(key) {
                return Ok(hit);
            }
        }
    }
}
