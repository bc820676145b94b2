//! The threads syncs run on, apart from the threads that answer API requests.
//!
//! A sync is CPU work in bursts: guest code parsing a PMS answer runs on the thread
//! that polls it for up to an epoch slice, and planning a large property takes tens
//! of milliseconds. On the API's own workers that work sits in front of the requests
//! queued behind it (p99 of reads under continuous syncs was about twice the quiet
//! one). On threads of their own, the operating system shares the cores, and the
//! mostly idle API threads are woken first.

use std::future::Future;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A tokio runtime on its own threads, shut down when the last clone is dropped.
pub struct SyncPool {
    handle: Handle,
    /// Dropping it lets the pool's thread drop the runtime (which must not happen
    /// inside an async context, where the pool itself may be dropped).
    _shutdown: oneshot::Sender<()>,
}

impl SyncPool {
    /// `threads` workers (at least one), named `epms-sync`.
    pub fn new(threads: usize) -> std::io::Result<SyncPool> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("epms-sync")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (shutdown, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("epms-sync-owner".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Tasks still running are cancelled here, off any async context.
                drop(runtime);
            })?;
        Ok(SyncPool {
            handle,
            _shutdown: shutdown,
        })
    }

    /// Runs `work` on the pool, detached: it ends when it is done, or when the pool
    /// goes away.
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle.spawn(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn work_runs_on_the_pools_threads_and_stops_with_the_pool() {
        let pool = SyncPool::new(1).unwrap();
        let (tx, rx) = oneshot::channel();
        pool.spawn(async move {
            let _ = tx.send(std::thread::current().name().map(str::to_owned));
        });
        assert_eq!(rx.await.unwrap().as_deref(), Some("epms-sync"));

        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        pool.spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            flag.store(true, Ordering::SeqCst);
        });
        // Dropping the pool inside an async context is fine, and stops its work.
        drop(pool);
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert!(!finished.load(Ordering::SeqCst), "stopped with the pool");
    }
}
