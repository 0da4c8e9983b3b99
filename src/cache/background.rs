//! A small runtime for the refresh's source reads, whose threads run at a lower CPU priority
//! than request handling: a refresh that re-hashes thousands of artifacts then takes CPU only
//! when the request handlers leave it idle, so cached reads stay fast while it runs.

use std::future::Future;

/// Runs futures on the low-priority runtime (or, if it could not be built, in place).
pub struct BackgroundReads {
    runtime: Option<tokio::runtime::Runtime>,
}

impl BackgroundReads {
    /// One worker thread plus its blocking pool, all at nice 10 on Linux.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("skillmeat-refresh")
            .on_thread_start(lower_priority)
            .enable_all()
            .build();
        if let Err(e) = &runtime {
            tracing::warn!(error = %e, "no low-priority runtime for refresh reads; they share the request threads");
        }
        Self {
            runtime: runtime.ok(),
        }
    }

    /// Runs `work` to completion on the low-priority runtime. Work that spawns blocking tasks
    /// (the filesystem source's hashing) gets that runtime's low-priority blocking threads.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, String> {
        match &self.runtime {
            Some(rt) => rt.spawn(work).await.map_err(|e| e.to_string()),
            None => Ok(work.await),
        }
    }
}

impl Default for BackgroundReads {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for BackgroundReads {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside async code; this does not block.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // Linux keeps a nice value per thread, and `who = 0` names the calling thread. Raising
    // one's own nice value needs no privilege; a failure leaves the default priority.
    // SAFETY: setpriority reads only its integer arguments.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}
