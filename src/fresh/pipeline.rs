//! The refresh pipeline: its settings ([`Pipeline`]), and the worker
//! threads that run a [`LoadingCache`](crate::LoadingCache)'s reloads.

use std::fmt;
#[cfg(feature = "async")]
use std::{future::Future, pin::Pin, sync::Arc};

use crate::{
    sync::{current_thread, JoinHandle, ThreadBuilder},
    ConfigError,
};

/// A reload as a task for the user's executor.
#[cfg(feature = "async")]
pub(crate) type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The user's hook that spawns a [`Task`] on their executor.
#[cfg(feature = "async")]
pub(crate) type SpawnHook = dyn Fn(Task) + Send + Sync + 'static;

/// Where a [`LoadingCache`](crate::LoadingCache) runs its reloads: a fixed
/// number of worker threads behind a bounded queue. The threads start when
/// the cache is built and are joined when it is dropped; nothing else
/// starts a thread. (An [`AsyncLoadingCache`](crate::AsyncLoadingCache)
/// runs them as tasks on the user's executor instead: [`Pipeline::spawn`].) A read that finds its key due for a reload queues one
/// and returns at once; when the queue is full, the reload is dropped and
/// counted ([`RefreshStats::dropped`](crate::RefreshStats::dropped)) and
/// the read still returns at once. That is the backpressure: a backend
/// that slows down gets at most `threads` reloads at a time, not a thread
/// per stale key.
///
/// # Examples
/// ```
/// let pipeline = strcache::Pipeline::threads(2).queue(256);
/// assert_eq!((pipeline.thread_count(), pipeline.capacity()), (2, 256));
/// ```
#[derive(Clone)]
pub struct Pipeline {
    runner: Runner,
    queue: usize,
}

/// What runs the reloads.
#[derive(Clone)]
pub(crate) enum Runner {
    /// This many worker threads of the pipeline's own.
    Threads(usize),
    /// Tasks spawned by the user's hook.
    #[cfg(feature = "async")]
    Spawn(Arc<SpawnHook>),
}

/// The queue's capacity unless set.
const DEFAULT_QUEUE: usize = 1024;

impl Pipeline {
    /// `threads` worker threads, with a queue of 1,024 reloads. 0 threads
    /// makes the cache's build fail ([`ConfigError::ZeroPipeline`]).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(strcache::Pipeline::threads(4).capacity(), 1024);
    /// ```
    pub fn threads(threads: usize) -> Self {
        Pipeline {
            runner: Runner::Threads(threads),
            queue: DEFAULT_QUEUE,
        }
    }

    /// For an [`AsyncLoadingCache`](crate::AsyncLoadingCache): each reload
    /// is a task that `hook` spawns on the program's executor, such as
    /// `|task| { tokio::spawn(task); }`. strcache depends on no runtime.
    /// The [`queue`](Self::queue) capacity bounds the reloads spawned and
    /// not yet finished (1,024 unless set); a read that would spawn one
    /// more drops it and counts it, as a full queue does.
    ///
    /// # Examples
    /// ```
    /// let pipeline = strcache::Pipeline::spawn(|task| drop(task)).queue(64);
    /// assert_eq!((pipeline.thread_count(), pipeline.capacity()), (0, 64));
    /// ```
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    pub fn spawn(
        hook: impl Fn(Pin<Box<dyn Future<Output = ()> + Send + 'static>>) + Send + Sync + 'static,
    ) -> Self {
        Pipeline {
            runner: Runner::Spawn(Arc::new(hook)),
            queue: DEFAULT_QUEUE,
        }
    }

    /// Room for `capacity` reloads waiting for a worker. 0 makes the
    /// cache's build fail ([`ConfigError::ZeroPipeline`]).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(strcache::Pipeline::threads(1).queue(8).capacity(), 8);
    /// ```
    pub fn queue(mut self, capacity: usize) -> Self {
        self.queue = capacity;
        self
    }

    /// The number of worker threads; 0 for a pipeline that spawns tasks.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(strcache::Pipeline::threads(3).thread_count(), 3);
    /// ```
    pub fn thread_count(&self) -> usize {
        match self.runner {
            Runner::Threads(threads) => threads,
            #[cfg(feature = "async")]
            Runner::Spawn(_) => 0,
        }
    }

    /// Whether its reloads are tasks the user's hook spawns.
    pub(crate) fn spawns(&self) -> bool {
        !matches!(self.runner, Runner::Threads(_))
    }

    /// What runs the reloads.
    pub(crate) fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The most reloads that wait for a worker.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(strcache::Pipeline::threads(1).capacity(), 1024);
    /// ```
    pub fn capacity(&self) -> usize {
        self.queue
    }

    /// Refuses a pipeline with no threads or no queue.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let zero = |setting| Err(ConfigError::ZeroPipeline { setting });
        match (self.thread_count(), &self.runner, self.queue) {
            (0, Runner::Threads(_), _) => zero("threads"),
            (_, _, 0) => zero("queue"),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("Pipeline");
        match &self.runner {
            Runner::Threads(threads) => f.field("threads", threads),
            #[cfg(feature = "async")]
            Runner::Spawn(_) => f.field("spawn", &"<hook>"),
        };
        f.field("queue", &self.queue).finish()
    }
}

/// The running worker threads of a pipeline.
pub(crate) struct Workers {
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// No workers: a cache without a pipeline.
    pub(crate) fn none() -> Self {
        Workers {
            threads: Vec::new(),
        }
    }

    /// Starts `pipeline.thread_count()` threads, each running `work`.
    ///
    /// # Panics
    /// If the operating system refuses a thread. The threads already
    /// started are in `self` by then, and the caller's drop closes their
    /// queue and joins them.
    pub(crate) fn start(&mut self, pipeline: &Pipeline, work: impl Fn() + Clone + Send + 'static) {
        for i in 0..pipeline.thread_count() {
            let worker = ThreadBuilder::new()
                .name(format!("strcache-refresh-{i}"))
                .spawn(work.clone())
                .expect("strcache: failed to start a refresh worker thread");
            self.threads.push(worker);
        }
    }

    /// Waits for every worker to return (their queue is closed). A worker
    /// that is itself dropping the cache (a loader that held the last
    /// handle) is not waited for: it returns once this drop is done.
    pub(crate) fn join(&mut self) {
        let me = current_thread().id();
        for worker in self.threads.drain(..) {
            if worker.thread().id() != me {
                // A worker's panics are caught around each reload, so
                // this only reports a panic that escaped one: ignore it,
                // as a dropped pool does.
                let _ = worker.join();
            }
        }
    }
}

impl fmt::Debug for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.threads.len())
            .finish()
    }
}
