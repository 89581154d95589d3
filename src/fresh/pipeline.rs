//! The refresh pipeline: its settings ([`Pipeline`]), and the worker
//! threads that run a [`LoadingCache`](crate::LoadingCache)'s reloads.

use std::{fmt, thread};

use crate::ConfigError;

/// Where a [`LoadingCache`](crate::LoadingCache) runs its reloads: a fixed
/// number of worker threads behind a bounded queue. The threads start when
/// the cache is built and are joined when it is dropped; nothing else
/// starts a thread. A read that finds its key due for a reload queues one
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    threads: usize,
    queue: usize,
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
            threads,
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

    /// The number of worker threads.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(strcache::Pipeline::threads(3).thread_count(), 3);
    /// ```
    pub fn thread_count(&self) -> usize {
        self.threads
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
        match (self.threads, self.queue) {
            (0, _) => zero("threads"),
            (_, 0) => zero("queue"),
            _ => Ok(()),
        }
    }
}

/// The running worker threads of a pipeline.
pub(crate) struct Workers {
    threads: Vec<thread::JoinHandle<()>>,
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
        for i in 0..pipeline.threads {
            let worker = thread::Builder::new()
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
        let me = thread::current().id();
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
