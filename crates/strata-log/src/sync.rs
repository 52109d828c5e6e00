//! Sync primitives through one door: std's, or loom's model-checked ones under `--cfg loom`,
//! with locks that never report poisoning.
//!
//! Import `Arc`, [`atomic`], [`Mutex`], [`RwLock`] and [`Condvar`] from here rather than from
//! `std::sync`: under `RUSTFLAGS="--cfg loom"` they become loom's, so the protocols built on
//! them ([`crate::publish`], [`crate::commit`]) can be model-checked (`tests/loom_*.rs`). The
//! paths mirror `std::sync`, so switching a file over is a change of its `use` lines. Other
//! crates re-export these types from their own shims, so that one workspace has one set.
//!
//! [`unmodelled`] holds the same poison-free locks over std always, for state that loom must
//! not see: loom's types panic when used outside `loom::model`, and code that is never
//! modelled (file I/O bookkeeping, timed waits of long polls) is still compiled and run under
//! `--cfg loom`.
//!
//! # Poisoning
//!
//! std marks a lock poisoned when a thread panics while holding it, and every later `lock()`
//! returns an error. These locks absorb that in one place (`unpoisoned` below) and return the
//! guard, as tokio's `src/loom/std/mutex.rs` does. A panic under a lock is a bug that the
//! panic itself reports; turning it into a panic of every later caller (every reader of a
//! partition, say) helps nobody. strata's call sites all recovered the guard this way
//! already (`.lock().unwrap_or_else(|e| e.into_inner())` at each one); now they write
//! `m.lock()`. A lock whose data a panic could leave half-updated must say so where it is
//! declared and check its data itself.

use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

#[cfg(loom)]
pub use loom::sync::{Arc, atomic};
#[cfg(not(loom))]
pub use std::sync::{Arc, atomic};

#[cfg(loom)]
pub use self::modelled::{
    Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult,
};
#[cfg(not(loom))]
pub use self::unmodelled::{
    Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult,
};

/// The guard of a lock, whether or not a holder panicked: the one place where poisoning is
/// absorbed (see the module docs).
fn unpoisoned<G>(result: LockResult<G>) -> G {
    result.unwrap_or_else(PoisonError::into_inner)
}

/// [`unpoisoned`] for a `try_` call: `None` only when the lock is held.
fn try_unpoisoned<G>(result: TryLockResult<G>) -> Option<G> {
    match result {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// Defines the poison-free `Mutex`, `RwLock` and `Condvar` over a backend module (`std::sync`
/// or `loom::sync`, whose APIs match). Written once, so that the two backends cannot drift.
macro_rules! poison_free_locks {
    ($($backend:ident)::+) => {
        use std::fmt;
        use std::time::Duration;

        pub use $($backend)::+::{MutexGuard, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult};

        use super::{try_unpoisoned, unpoisoned};

        /// A mutual-exclusion lock whose [`lock`](Self::lock) returns the guard even after a
        /// holder panicked (see [the module docs](crate::sync#poisoning)).
        #[derive(Default)]
        pub struct Mutex<T: ?Sized>($($backend)::+::Mutex<T>);

        impl<T> Mutex<T> {
            /// A lock holding `value`.
            #[track_caller]
            pub fn new(value: T) -> Self {
                Mutex($($backend)::+::Mutex::new(value))
            }

            /// The value, taking the lock apart.
            pub fn into_inner(self) -> T {
                unpoisoned(self.0.into_inner())
            }
        }

        impl<T: ?Sized> Mutex<T> {
            /// Blocks until the lock is free, then holds it until the guard is dropped.
            #[track_caller]
            pub fn lock(&self) -> MutexGuard<'_, T> {
                unpoisoned(self.0.lock())
            }

            /// The lock if it is free now; `None` when another thread holds it.
            #[track_caller]
            pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
                try_unpoisoned(self.0.try_lock())
            }

            /// The value, without locking: `&mut self` proves nobody else holds it.
            pub fn get_mut(&mut self) -> &mut T {
                unpoisoned(self.0.get_mut())
            }
        }

        impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        /// A reader-writer lock whose [`read`](Self::read) and [`write`](Self::write) return
        /// the guard even after a holder panicked (see
        /// [the module docs](crate::sync#poisoning)).
        #[derive(Default)]
        pub struct RwLock<T: ?Sized>($($backend)::+::RwLock<T>);

        impl<T> RwLock<T> {
            /// A lock holding `value`.
            #[track_caller]
            pub fn new(value: T) -> Self {
                RwLock($($backend)::+::RwLock::new(value))
            }

            /// The value, taking the lock apart.
            pub fn into_inner(self) -> T {
                unpoisoned(self.0.into_inner())
            }
        }

        impl<T: ?Sized> RwLock<T> {
            /// Blocks until no writer holds the lock, then shares it until the guard is dropped.
            #[track_caller]
            pub fn read(&self) -> RwLockReadGuard<'_, T> {
                unpoisoned(self.0.read())
            }

            /// Blocks until nobody holds the lock, then holds it alone until the guard is
            /// dropped.
            #[track_caller]
            pub fn write(&self) -> RwLockWriteGuard<'_, T> {
                unpoisoned(self.0.write())
            }

            /// Shared access if no writer holds the lock now; `None` otherwise.
            #[track_caller]
            pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
                try_unpoisoned(self.0.try_read())
            }

            /// Sole access if nobody holds the lock now; `None` otherwise.
            #[track_caller]
            pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
                try_unpoisoned(self.0.try_write())
            }

            /// The value, without locking: `&mut self` proves nobody else holds it.
            pub fn get_mut(&mut self) -> &mut T {
                unpoisoned(self.0.get_mut())
            }
        }

        impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        /// A condition variable over this module's [`Mutex`] whose waits return the guard
        /// even after a holder of the mutex panicked (see
        /// [the module docs](crate::sync#poisoning)).
        #[derive(Debug, Default)]
        pub struct Condvar($($backend)::+::Condvar);

        impl Condvar {
            /// A condition variable nobody waits on.
            #[track_caller]
            pub fn new() -> Self {
                Condvar($($backend)::+::Condvar::new())
            }

            /// Releases `guard`'s mutex, sleeps until notified (or spuriously woken), and
            /// takes the mutex again. Check the condition in a loop.
            #[track_caller]
            pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
                unpoisoned(self.0.wait(guard))
            }

            /// [`wait`](Self::wait), for at most `timeout`; the second value says whether it
            /// timed out. (Under loom a wait never times out: loom models no time.)
            #[track_caller]
            pub fn wait_timeout<'a, T>(
                &self,
                guard: MutexGuard<'a, T>,
                timeout: Duration,
            ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
                unpoisoned(self.0.wait_timeout(guard, timeout))
            }

            /// Sleeps while `condition` holds, for at most `timeout` in all; the second value
            /// is true when it returned because the time ran out (the condition still held).
            #[track_caller]
            pub fn wait_timeout_while<'a, T>(
                &self,
                mut guard: MutexGuard<'a, T>,
                timeout: Duration,
                mut condition: impl FnMut(&mut T) -> bool,
            ) -> (MutexGuard<'a, T>, bool) {
                let deadline = std::time::Instant::now() + timeout;
                while condition(&mut *guard) {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return (guard, true);
                    }
                    guard = self.wait_timeout(guard, deadline - now).0;
                }
                (guard, false)
            }

            /// Wakes one waiter.
            #[track_caller]
            pub fn notify_one(&self) {
                self.0.notify_one();
            }

            /// Wakes every waiter.
            #[track_caller]
            pub fn notify_all(&self) {
                self.0.notify_all();
            }
        }
    };
}

/// The poison-free locks over std, never swapped for loom's.
///
/// For state outside every loom model that is still built and run under `--cfg loom`, where
/// a loom lock would panic for want of a model (a consumer group's offsets, the timed waits
/// of long polls). Without `--cfg loom` these are the very types of [`crate::sync`].
pub mod unmodelled {
    poison_free_locks!(std::sync);
}

/// The poison-free locks over loom's, which [`crate::sync`] re-exports under `--cfg loom`.
#[cfg(loom)]
mod modelled {
    poison_free_locks!(loom::sync);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    // The std backend: unit tests are not run inside a loom model.
    use super::unmodelled::{Condvar, Mutex, RwLock};

    #[test]
    fn a_panic_under_a_lock_does_not_poison_later_callers() {
        let mutex = Arc::new(Mutex::new(1));
        let rwlock = Arc::new(RwLock::new(1));
        let (m, rw) = (Arc::clone(&mutex), Arc::clone(&rwlock));
        let holder = std::thread::spawn(move || {
            let _m = m.lock();
            let _w = rw.write();
            panic!("a holder panics (expected by this test)");
        });
        assert!(holder.join().is_err());

        *mutex.lock() += 1;
        assert_eq!(*mutex.try_lock().expect("free"), 2);
        *rwlock.write() += 1;
        assert_eq!(*rwlock.read(), 2);
        assert!(rwlock.try_write().is_some());
        let (guard, waited) = Condvar::new().wait_timeout(mutex.lock(), Duration::from_millis(1));
        assert!(waited.timed_out());
        assert_eq!(*guard, 2);
    }

    #[test]
    fn try_calls_say_none_only_while_the_lock_is_held() {
        let mutex = Mutex::new(());
        let held = mutex.lock();
        assert!(mutex.try_lock().is_none());
        drop(held);
        assert!(mutex.try_lock().is_some());

        let rwlock = RwLock::new(());
        let reading = rwlock.read();
        assert!(rwlock.try_read().is_some(), "readers share");
        assert!(rwlock.try_write().is_none());
        drop(reading);
        assert!(rwlock.try_write().is_some());
    }
}
