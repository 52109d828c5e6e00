//! A background thread that runs a job every interval until dropped: the node's continuous
//! archiver and its scheduled batch-view runs.

use std::sync::Arc;

use std::thread::JoinHandle;
use std::time::Duration;
use strata_log::sync::unmodelled::{Condvar, Mutex};

/// A job running on its own thread every `interval`; dropping it (or [`Periodic::stop`])
/// stops the thread after the current run.
#[derive(Debug)]
pub struct Periodic {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Periodic {
    /// Starts `job` now and then every `interval` (measured from the end of a run).
    ///
    /// # Panics
    /// If the OS cannot spawn a thread.
    pub fn start(name: &str, interval: Duration, mut job: impl FnMut() + Send + 'static) -> Self {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                loop {
                    job();
                    let (lock, cond) = &*flag;
                    let stopped = lock.lock();
                    let (stopped, _) = cond.wait_timeout_while(stopped, interval, |s| !*s);
                    if *stopped {
                        break;
                    }
                }
            })
            .expect("spawn a batch-layer thread");
        Periodic {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let (lock, cond) = &*self.stop;
        *lock.lock() = true;
        cond.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn runs_repeatedly_and_stops_on_drop() {
        let runs = Arc::new(AtomicU64::new(0));
        let r = Arc::clone(&runs);
        let p = Periodic::start("test", Duration::from_millis(5), move || {
            r.fetch_add(1, Ordering::Relaxed);
        });
        std::thread::sleep(Duration::from_millis(60));
        drop(p);
        let after = runs.load(Ordering::Relaxed);
        assert!(after >= 2, "{after}");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(runs.load(Ordering::Relaxed), after);
    }
}
