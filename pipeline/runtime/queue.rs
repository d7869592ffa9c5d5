//! A pipeline fed from the store's shared work queue, where several worker
//! processes share one store (JetStream): a taker thread admits the jobs
//! the queue hands this process, an acker thread tells the queue each one
//! is done once its verdict is committed.
//!
//! A job's message is acked only after its verdict is durable, so a worker
//! killed at any point leaves its jobs to the queue, which hands them out
//! again after its ack wait. A job handed out twice (slower than the ack
//! wait, or queued again) is worked twice and committed once: the second
//! commit finds the first ([`Store::finish`]).

use crate::runtime::workers::{spawn, Admission, Committed, RunError};
use crate::store::{Store, Work};
use crossbeam_channel::{Receiver, TryRecvError};
use intake_models::{JobId, JobState};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long one request waits for a job, and a slot for it.
const POLL: Duration = Duration::from_secs(1);

/// The feed's two threads.
pub struct Feed {
    /// Takes jobs; ends when `stop` disconnects or, when draining, once
    /// every pending job has been taken here (see [`all_taken`]).
    pub taker: JoinHandle<()>,
    /// Acks committed jobs; ends when the pipeline's observers do.
    pub acker: JoinHandle<()>,
}

/// Starts feeding `admission` from the work queue of `store` (which must
/// have one), after requeueing the pending jobs missing from it, acking
/// each job when `committed` reports its verdict.
pub fn feed(
    store: Arc<dyn Store>,
    admission: Admission,
    committed: Receiver<Committed>,
    stop: Receiver<()>,
    drain: bool,
) -> Result<Feed, RunError> {
    let taken: Arc<Mutex<HashMap<JobId, Work>>> = Arc::default();
    let tickets = taken.clone();
    let acker = spawn("work-acks", move || {
        for event in committed {
            let work = tickets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&event.job);
            if let Some(work) = work {
                work.done();
            }
        }
    })?;
    let taker = spawn("work-taker", move || {
        // First the jobs a crash kept off the queue, once the server answers.
        while let Err(TryRecvError::Empty) = stop.try_recv() {
            match store.work_queue().map(|queue| queue.requeue_pending()) {
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "cannot requeue the pending jobs yet; retrying");
                    std::thread::sleep(POLL);
                }
                Some(Ok(requeued)) => {
                    tracing::info!(requeued, "pending jobs requeued");
                    break;
                }
                None => break,
            }
        }
        let mut ever_taken = HashSet::new();
        while let Err(TryRecvError::Empty) = stop.try_recv() {
            let Some(queue) = store.work_queue() else {
                break;
            };
            let Ok(slot) = admission.reserve(Some(POLL)) else {
                continue;
            };
            let work = match queue.take(1, POLL) {
                Ok(work) => work.into_iter().next(),
                Err(e) => {
                    tracing::warn!(error = %e, "the work queue does not answer; retrying");
                    std::thread::sleep(POLL);
                    continue;
                }
            };
            let Some(work) = work else {
                if drain && all_taken(store.as_ref(), &ever_taken) {
                    break;
                }
                continue;
            };
            match store.job(&work.job) {
                Ok(Some(job)) if job.state == JobState::Pending => {
                    ever_taken.insert(job.id.clone());
                    // A job handed out again while still here replaces its
                    // ticket: the one commit acks the newest message.
                    taken
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(job.id.clone(), work);
                    slot.admit(job);
                }
                // Decided already (by a worker that died before its ack),
                // or no such job: nothing to do.
                Ok(_) => work.done(),
                // Unacked, it comes back after the ack wait.
                Err(e) => {
                    tracing::warn!(job = %work.job, error = %e, "a job taken could not be read")
                }
            }
        }
    })?;
    Ok(Feed { taker, acker })
}

/// Whether every pending job of the store has been taken by this feed:
/// then a drain is over (its jobs settle in the pipeline). A pending job
/// it never took is held by another worker, or waits to be handed out
/// again after the ack wait (its worker killed): a drain waits for it.
fn all_taken(store: &dyn Store, ever_taken: &HashSet<JobId>) -> bool {
    match store.pending() {
        Ok(pending) => pending.iter().all(|job| ever_taken.contains(&job.id)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the pending jobs; still draining");
            false
        }
    }
}
