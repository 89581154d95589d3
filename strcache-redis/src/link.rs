//! The tracking connection: connecting with RESP3 and `CLIENT TRACKING`,
//! applying invalidation pushes, flushing on a null invalidation, a
//! disconnect or a failed heartbeat, and reconnecting.
//!
//! # Synchronization
//! One `std::sync::Mutex` guards the link's [`State`]: the *generation*
//! and the tracked [`Session`], if tracking is up. A session belongs to
//! the generation that was current when its connection was opened, and is
//! installed only if that generation is still current. Ending a
//! generation (a disconnect or a failed heartbeat, [`Shared::flush`])
//! bumps it and drops the session under the lock, then clears the local
//! tier with the lock released. No `.await` happens under the lock.
//!
//! Pushes are applied by redis-rs's push sender, which it calls on the
//! connection's reader task in wire order, before it hands any later
//! reply to its caller. An invalidation is a `remove` of each key it
//! names, a null invalidation a `clear`; the push for a disconnect ends
//! the connection's generation.
//!
//! Why no stale fill commits (the fill side is `NearCache::fill`):
//! 1. A fill runs as the core's single-flight loader, so its key's flight
//!    is listed in the core from before it takes the session until the
//!    core publishes its value. The core publishes only if the flight is
//!    still listed; a `remove` or `clear` of the key unlists it
//!    (strcache's *writes beat in-flight loads*).
//! 2. The fill takes the session and its generation, sends `GET` and
//!    `PTTL` in one `MULTI`/`EXEC` on the tracked connection, and after
//!    the reply checks, under the lock, that the generation is unchanged;
//!    then it returns to the core with no `.await` in between.
//! 3. A write by anyone to the key after the server ran the fill's `EXEC`
//!    makes the server queue an invalidation on this connection after the
//!    fill's reply (the server is single-threaded and writes a client's
//!    replies and pushes in order). The reader task reads it after the
//!    reply, so after the flight was listed, and removes the key: either
//!    before the publish, which then finds its flight unlisted and does
//!    not cache, or after it, removing the value. Either way the old value
//!    does not stay. A write before the `EXEC` is in the value read.
//! 4. A disconnect loses such pushes. The generation is bumped before the
//!    clear. A fill whose check saw the old generation checked before the
//!    bump, so before the clear, while its flight was listed: the clear
//!    either unlists it (no publish) or removes the published value. A
//!    fill whose check sees the new generation does not hand its value to
//!    the core at all. A fill that starts after the bump sees either no
//!    session, and reads for its caller only, or the next generation's,
//!    whose connection was tracked before it was installed.
//! 5. A null invalidation clears the tier without a generation bump: the
//!    connection is still tracked, and the clear unlists every flight, so
//!    step 3's argument holds for every key at once.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use redis::{
    aio::MultiplexedConnection, AsyncConnectionConfig, Client, PushInfo, PushKind, RedisResult,
    Value,
};
use tokio::sync::Notify;

use crate::{
    near::Shared,
    stats::{bump, Reason},
    Tracking,
};

/// The first and the longest wait between two failed reconnects.
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A tracked connection, and the generation it belongs to.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) conn: MultiplexedConnection,
    pub(crate) generation: u64,
    pub(crate) client_id: i64,
}

struct State {
    generation: u64,
    session: Option<Session>,
}

/// The client and the tracking state of a near-cache.
pub(crate) struct Link {
    pub(crate) client: Client,
    state: Mutex<State>,
    /// Wakes the supervisor when a generation ends.
    wake: Notify,
    /// A connection without tracking, for reads and writes while tracking
    /// is down: made by one caller at a time, so that callers do not storm
    /// the server with connections, and dropped after an error on it and
    /// once tracking is back.
    plain: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl Link {
    pub(crate) fn new(client: Client) -> Self {
        Link {
            client,
            state: Mutex::new(State {
                generation: 0,
                session: None,
            }),
            wake: Notify::new(),
            plain: tokio::sync::Mutex::new(None),
        }
    }

    /// The connection without tracking, made if there is none.
    pub(crate) async fn plain(&self, timeout: Duration) -> RedisResult<MultiplexedConnection> {
        let mut plain = self.plain.lock().await;
        if let Some(conn) = &*plain {
            return Ok(conn.clone());
        }
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config(timeout))
            .await?;
        *plain = Some(conn.clone());
        Ok(conn)
    }

    /// Drops the connection without tracking; the next `plain` makes one.
    pub(crate) async fn drop_plain(&self) {
        *self.plain.lock().await = None;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The lock guards two plain fields that no panic leaves half
        // written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tracked session, if tracking is up.
    pub(crate) fn session(&self) -> Option<Session> {
        self.state().session.clone()
    }

    /// Whether `generation` is still current (module docs, step 2).
    pub(crate) fn is_current(&self, generation: u64) -> bool {
        self.state().generation == generation
    }

    fn generation(&self) -> u64 {
        self.state().generation
    }

    /// Installs `session` if its generation is still current.
    fn install(&self, session: Session) -> bool {
        let mut state = self.state();
        let current = state.generation == session.generation;
        if current {
            state.session = Some(session);
        }
        current
    }

    /// Ends `generation` if it is current: bumps it and drops its session.
    fn end(&self, generation: u64) -> bool {
        let mut state = self.state();
        let current = state.generation == generation;
        if current {
            state.generation += 1;
            state.session = None;
        }
        current
    }
}

impl Shared {
    /// Applies a push from the connection of `generation`, on its reader
    /// task.
    fn on_push(&self, generation: u64, info: PushInfo) {
        match info.kind {
            PushKind::Invalidate => {
                for data in &info.data {
                    match data {
                        Value::Array(keys) => {
                            for key in keys {
                                self.invalidate(key);
                            }
                        }
                        Value::Nil => self.flush(generation, Reason::Null),
                        _ => {}
                    }
                }
            }
            PushKind::Disconnection => self.flush(generation, Reason::Disconnect),
            _ => {}
        }
    }

    fn invalidate(&self, key: &Value) {
        if let Value::BulkString(key) = key {
            // A key that is not UTF-8 was never cached: keys are `&str`.
            if let Ok(key) = std::str::from_utf8(key) {
                self.cache.remove(key);
            }
            // Counted once the removal has run, not before: tests wait on
            // the count to let a fill commit after an invalidation.
            bump(&self.counters.keys_invalidated);
        }
    }

    /// Flushes the local tier. For a disconnect or a failed heartbeat,
    /// only if `generation` is current, which it ends first (module docs,
    /// step 4); a connection's death is reported once however many ways
    /// it shows.
    pub(crate) fn flush(&self, generation: u64, reason: Reason) {
        if reason != Reason::Null {
            if !self.link.end(generation) {
                return;
            }
            self.link.wake.notify_one();
        }
        self.cache.clear();
        self.counters.flushed(reason);
    }
}

/// The `CLIENT TRACKING ON` command for `tracking`.
fn tracking_on(tracking: &Tracking) -> redis::Cmd {
    let mut cmd = redis::cmd("CLIENT");
    cmd.arg("TRACKING").arg("ON");
    match tracking {
        Tracking::Default => {}
        Tracking::OptIn => {
            cmd.arg("OPTIN");
        }
        Tracking::Broadcast { prefixes } => {
            cmd.arg("BCAST");
            for prefix in prefixes {
                cmd.arg("PREFIX").arg(prefix);
            }
        }
    }
    cmd
}

/// Connection settings with the near-cache's timeouts.
pub(crate) fn config(timeout: Duration) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
}

/// Opens a connection for the current generation, enables tracking on it
/// and installs it. `Ok(false)`: the generation ended meanwhile (this very
/// connection died), and nothing was installed.
pub(crate) async fn connect(shared: &Arc<Shared>) -> RedisResult<bool> {
    let generation = shared.link.generation();
    let weak = Arc::downgrade(shared);
    let pushes = move |info: PushInfo| match weak.upgrade() {
        Some(shared) => {
            shared.on_push(generation, info);
            Ok(())
        }
        None => Err(()),
    };
    let config = config(shared.config.timeout).set_push_sender(pushes);
    let mut conn = shared
        .link
        .client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let client_id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut conn)
        .await?;
    tracking_on(&shared.config.tracking)
        .query_async::<Value>(&mut conn)
        .await?;
    Ok(shared.link.install(Session {
        conn,
        generation,
        client_id,
    }))
}

/// Keeps tracking up: PINGs the tracked connection every `heartbeat`,
/// flushing when a PING fails or times out (a half-open connection), and
/// reconnects after a flush, backing off between failed attempts.
pub(crate) async fn supervise(shared: Arc<Shared>) {
    let heartbeat = shared.config.heartbeat;
    let mut backoff = MIN_BACKOFF;
    loop {
        match shared.link.session() {
            Some(mut session) => {
                let woken = tokio::time::timeout(heartbeat, shared.link.wake.notified()).await;
                if woken.is_ok() {
                    continue;
                }
                let ping = redis::cmd("PING");
                let ping = ping.query_async::<Value>(&mut session.conn);
                if !matches!(tokio::time::timeout(heartbeat, ping).await, Ok(Ok(_))) {
                    shared.flush(session.generation, Reason::Heartbeat);
                }
            }
            None => match connect(&shared).await {
                Ok(true) => {
                    bump(&shared.counters.reconnects);
                    backoff = MIN_BACKOFF;
                    shared.link.drop_plain().await;
                }
                Ok(false) => {}
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            },
        }
    }
}
