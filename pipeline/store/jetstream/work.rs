//! The work queue and the single-writer duties of a JetStream store.
//!
//! - Work: stream `P_work` with work-queue retention, one message per job
//!   on `P.work.JOB` (message id `work.JOB`, so queueing a job twice within
//!   the duplicate window adds nothing), and one durable pull consumer,
//!   `workers`, that every worker process pulls from. A message is acked
//!   once its job's verdict is committed; a worker killed mid-job leaves it
//!   unacked, and the server hands it to another after `ack_wait_s`. A
//!   message stays in the stream until acked, so a pending job with no
//!   message on its subject was never queued (a crash between its creation
//!   and its queueing): `requeue_pending` queues those.
//! - Duties: key `duty.NAME` in `P_meta` holds who has the duty and until
//!   when; it is taken and renewed by revision-checked writes, so two
//!   processes cannot both take a free duty. A holder that stops renewing
//!   (killed) loses it after `duty_ttl_s`; one that ends gives it up. The
//!   lease rests on the clocks of the processes agreeing to within a
//!   fraction of that time.

use super::nats::{current, failed, last_on, publish, token, untoken, Names};
use super::JetStreamStore;
use crate::clock::system_ms;
use crate::store::{Store, StoreError, Work, WorkQueue};
use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::kv::UpdateErrorKind;
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType, Stream};
use async_nats::jetstream::Context;
use bytes::Bytes;
use futures_util::StreamExt;
use intake_models::JobId;
use serde::{Deserialize, Serialize};
use std::sync::PoisonError;
use std::time::Duration;

const CONSUMER: &str = "workers";

/// The work-queue stream and its one durable consumer, created if missing.
pub(super) async fn work_queue(
    js: &Context,
    names: &Names,
    ack_wait: Duration,
) -> Result<(Stream, PullConsumer), StoreError> {
    let stream = js
        .get_or_create_stream(stream::Config {
            name: names.bucket("work"),
            subjects: vec![names.work_subject("*")],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            num_replicas: names.replicas,
            duplicate_window: super::nats::DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(failed("opening the work queue"))?;
    let consumer = stream
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait,
                // Handed out again as often as workers die on it.
                max_deliver: -1,
                max_ack_pending: 10_000,
                ..Default::default()
            },
        )
        .await
        .map_err(failed("opening the work queue's consumer"))?;
    Ok((stream, consumer))
}

impl JetStreamStore {
    /// Puts the job under `key` on the work queue.
    pub(super) async fn enqueue(&self, key: &str) -> Result<(), StoreError> {
        let id = format!("work.{key}");
        publish(
            &self.js,
            self.names.work_subject(key),
            Vec::new(),
            Some(&id),
            None,
        )
        .await?;
        Ok(())
    }
}

impl WorkQueue for JetStreamStore {
    fn take(&self, max: usize, wait: Duration) -> Result<Vec<Work>, StoreError> {
        let prefix = self.names.work_subject("");
        self.run(async {
            let mut batch = self
                .workers
                .batch()
                .max_messages(max.max(1))
                .expires(wait)
                .messages()
                .await
                .map_err(failed("taking jobs"))?;
            let mut taken = Vec::new();
            while let Some(message) = batch.next().await {
                let message = message.map_err(failed("taking jobs"))?;
                let Some(key) = message.subject.as_str().strip_prefix(&prefix) else {
                    continue;
                };
                let job = JobId(String::from_utf8_lossy(&untoken(key)).into_owned());
                let handle = self.handle.clone();
                taken.push(Work::new(job, move || {
                    // Lost, the ack only makes the job come back: its
                    // worker then finds it done and acks it again.
                    handle.spawn(async move {
                        if let Err(e) = message.ack().await {
                            tracing::debug!(error = %e, "a work ack was lost");
                        }
                    });
                }));
            }
            Ok(taken)
        })
    }

    fn requeue_pending(&self) -> Result<usize, StoreError> {
        let pending = self.pending()?;
        self.run(async {
            let mut queued = 0;
            for job in &pending {
                let subject = self.names.work_subject(&token(&job.id.0));
                if last_on(&self.work, &subject).await?.is_none() {
                    // No message id: `work.JOB` may be in the duplicate
                    // window of the publish that was acked, yet lost.
                    publish(&self.js, subject, Vec::new(), None, None).await?;
                    queued += 1;
                }
            }
            Ok(queued)
        })
    }
}

/// Who holds a duty, and until when (Unix ms).
#[derive(Serialize, Deserialize)]
struct Lease {
    holder: String,
    until_ms: u64,
}

impl JetStreamStore {
    pub(super) fn hold(&self, duty: &str) -> Result<bool, StoreError> {
        let key = format!("duty.{}", token(duty));
        let ttl = self.duty_ttl.as_millis() as u64;
        self.run(async {
            loop {
                let (value, rev) = current(&self.meta, &key).await?;
                let now = system_ms();
                let lease = value.and_then(|v| serde_json::from_slice::<Lease>(&v).ok());
                if lease.is_some_and(|l| l.holder != self.instance && l.until_ms > now) {
                    return Ok(false);
                }
                let mine = Lease {
                    holder: self.instance.clone(),
                    until_ms: now + ttl,
                };
                let bytes = Bytes::from(serde_json::to_vec(&mine).unwrap_or_default());
                // At the revision read (0: a key never written), so another
                // process that took or renewed it since makes us read again.
                match self.meta.update(&key, bytes, rev).await {
                    Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => continue,
                    Err(e) => return Err(failed("taking a duty")(e)),
                    Ok(_) => {}
                }
                self.duties
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key.clone());
                return Ok(true);
            }
        })
    }

    /// Gives up the duties this process holds (as it ends), so the next
    /// process need not wait out their time to live: each lease deleted if
    /// it is still this process's, at the revision it was read.
    pub(super) async fn release_duties(&self) {
        let held: Vec<String> = self
            .duties
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        for key in held {
            let Ok((Some(value), rev)) = current(&self.meta, &key).await else {
                continue;
            };
            let mine =
                serde_json::from_slice::<Lease>(&value).is_ok_and(|l| l.holder == self.instance);
            if mine {
                let _ = self.meta.delete_expect_revision(&key, Some(rev)).await;
            }
        }
    }
}
