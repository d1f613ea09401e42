//! The resolver's own threads, on which the async API fetches: a bounded pool, started
//! lazily, whose threads leave after a while idle and stop once the resolver is gone.
//!
//! Hand-written rather than borrowed from an async runtime: the library must not choose the
//! caller's runtime, and a queue with a condition variable is all that is needed.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::cache::lock;

/// How long an idle thread waits for work before it leaves: long enough that a service
/// resolving now and then keeps its threads, short enough that a burst does not leave them
/// behind for the life of the process.
const IDLE: Duration = Duration::from_secs(30);

/// A unit of work. It must not panic: [`Pool::submit`]'s callers catch panics themselves, so
/// that the future waiting for the job learns of it.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// A bounded pool of threads. Dropping it (with the last clone of its resolver) asks the
/// threads to stop: each finishes the jobs already queued, then leaves.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    max: usize,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for work.
    idle: usize,
    closed: bool,
}

impl Pool {
    /// A pool of at most `max` threads (at least one); none is started before a job comes.
    pub(crate) fn new(max: usize) -> Self {
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
            }),
            max: max.max(1),
        }
    }

    /// Queues `job`, starting a thread if every thread is busy and the pool is not full.
    ///
    /// Fails only when no thread runs and none can be started (the process is out of
    /// threads): the job is then handed back, not left in a queue no one reads.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Job> {
        let mut state = lock(&self.shared.state);
        state.queue.push_back(job);
        if state.queue.len() <= state.idle || state.threads >= self.max {
            self.shared.work.notify_one();
            return Ok(());
        }
        state.threads += 1;
        drop(state);
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("secret-ref-pool".into())
            .spawn(move || work(&shared));
        if spawned.is_ok() {
            return Ok(());
        }
        let mut state = lock(&self.shared.state);
        state.threads -= 1;
        if state.threads > 0 {
            // A running thread will reach the job.
            return Ok(());
        }
        Err(state.queue.pop_back().expect("the job just queued"))
    }

    /// Threads alive, for tests that check the pool stops.
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        lock(&self.shared.state).threads
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.shared.work.notify_all();
    }
}

fn work(shared: &Shared) {
    let mut state = lock(&shared.state);
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            job();
            state = lock(&shared.state);
            continue;
        }
        if state.closed {
            break;
        }
        state.idle += 1;
        let (next, waited) = shared
            .work
            .wait_timeout(state, IDLE)
            .unwrap_or_else(PoisonError::into_inner);
        state = next;
        state.idle -= 1;
        if waited.timed_out() && state.queue.is_empty() {
            break;
        }
    }
    state.threads -= 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Waits (bounded) until the pool has `threads` threads, `idle` of them waiting: threads
    /// go idle on their own schedule.
    fn until(pool: &Pool, threads: usize, idle: usize) {
        for _ in 0..2000 {
            let state = lock(&pool.shared.state);
            if (state.threads, state.idle) == (threads, idle) {
                return;
            }
            drop(state);
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the pool did not reach {threads} threads, {idle} idle");
    }

    #[test]
    fn runs_jobs_on_at_most_max_threads_and_stops_when_dropped() {
        let pool = Pool::new(2);
        let (tx, rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release = Arc::new(Mutex::new(release_rx));
        for i in 0..5 {
            let tx = tx.clone();
            let release = release.clone();
            pool.submit(Box::new(move || {
                // Hold the thread until the test releases it, so all five queue up.
                let _ = lock(&release).recv();
                tx.send(i).unwrap();
            }))
            .unwrap_or_else(|_| panic!("submit"));
        }
        assert_eq!(pool.threads(), 2);
        for _ in 0..5 {
            release_tx.send(()).unwrap();
        }
        let mut done: Vec<i32> = (0..5).map(|_| rx.recv().unwrap()).collect();
        done.sort();
        assert_eq!(done, [0, 1, 2, 3, 4]);

        let shared = pool.shared.clone();
        drop(pool);
        for _ in 0..2000 {
            if lock(&shared.state).threads == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the pool's threads did not stop");
    }

    #[test]
    fn an_idle_thread_takes_the_next_job() {
        let pool = Pool::new(4);
        let (tx, rx) = mpsc::channel();
        for i in 0..3 {
            let tx = tx.clone();
            pool.submit(Box::new(move || tx.send(i).unwrap()))
                .unwrap_or_else(|_| panic!("submit"));
            assert_eq!(rx.recv().unwrap(), i);
            // Sequential jobs reuse the thread that became idle: no second one starts.
            until(&pool, 1, 1);
        }
    }
}
