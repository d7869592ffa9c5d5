//! Notifications to the portal: the outbox [`Feed`] (read in order, woken
//! by each flush that makes new events durable, never by a timer), webhook
//! delivery with its signatures, and the receiver's [`verify`].
//!
//! Delivery is at least once, in order: an event is marked delivered only
//! after the portal answered 2xx, so after a crash it may be sent again,
//! with the same idempotency key, but never lost.

use crate::digest::from_hex;
use crate::digest::to_hex;
use crate::service::Intake;
use crate::store::StoreError;
use hmac::{Hmac, Mac};
use intake_models::config::Webhooks;
use intake_models::{Change, OutboxEvent};
use sha2::Sha256;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// The consumer name of webhook delivery: its offset is the next event to send.
pub const WEBHOOK_CONSUMER: &str = "webhook";
/// How often a process without the webhook duty asks for it again.
const DUTY_POLL: Duration = Duration::from_secs(1);
/// Events read from the store at once, per reader.
const BATCH: usize = 64;

/// Unix seconds of the delivery attempt, as signed.
pub const TIMESTAMP_HEADER: &str = "X-Intake-Timestamp";
/// HMAC-SHA256 (hex) of `timestamp + "." + body` under the shared secret.
pub const SIGNATURE_HEADER: &str = "X-Intake-Signature";
/// The event's idempotency key, also in the body.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Why the webhook cannot be set up from `[webhooks]`.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(
        "webhooks.url {0:?} is not an http:// URL (intake speaks plain HTTP: put TLS in a proxy)"
    )]
    Url(String),
    #[error("webhooks.url is set but there is no secret: set webhooks.secret_file or webhooks.secret_env")]
    NoSecret,
    #[error("cannot read the webhook secret file {path}: {cause}")]
    SecretFile {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("the environment variable {0} (webhooks.secret_env) is not set")]
    SecretEnv(String),
    #[error("the webhook secret from {0} is shorter than 16 bytes")]
    ShortSecret(String),
}

/// Why a webhook's signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp is not a number of seconds")]
    Timestamp,
    #[error("the timestamp is {0} s away from now")]
    Stale(u64),
    #[error("the signature is not hexadecimal")]
    Malformed,
    #[error("the signature does not match the timestamp and body")]
    Mismatch,
}

/// Why the feed stopped.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store is closed")]
    Closed,
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature of a delivery: HMAC-SHA256 of `timestamp + "." + body`
/// under `secret`, in hex (the value of [`SIGNATURE_HEADER`]).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    to_hex(&mac(secret, timestamp, body).finalize().into_bytes())
}

/// The receiver's check of a delivery: the signature matches the timestamp
/// and the body as received (compared in constant time), and the timestamp
/// is within `tolerance_s` of `now_s` (an old delivery replayed fails).
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now_s: u64,
    tolerance_s: u64,
) -> Result<(), SignatureError> {
    let sent: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Timestamp)?;
    if sent.abs_diff(now_s) > tolerance_s {
        return Err(SignatureError::Stale(sent.abs_diff(now_s)));
    }
    let claimed = from_hex(signature.trim()).ok_or(SignatureError::Malformed)?;
    mac(secret, timestamp, body)
        .verify_slice(&claimed)
        .map_err(|_| SignatureError::Mismatch)
}

/// The SSE event name of an outbox event.
pub fn event_name(event: &OutboxEvent) -> &'static str {
    match event.notice.change {
        Change::Verdict { .. } => "verdict",
        Change::Status { .. } => "status",
    }
}

/// Reads the outbox in order from a position, waiting for new durable events.
pub struct Feed {
    intake: Arc<Intake>,
    head: watch::Receiver<u64>,
    next: u64,
}

impl Feed {
    /// A feed whose first event is the one at `next` (or the first after it).
    pub fn new(intake: Arc<Intake>, next: u64) -> Feed {
        let head = intake.store.outbox_head();
        Feed { intake, head, next }
    }

    /// The next events in order, at most a batch; waits until there are some.
    pub async fn next_batch(&mut self) -> Result<Vec<OutboxEvent>, FeedError> {
        loop {
            let head = *self.head.borrow_and_update();
            if head >= self.next {
                let (intake, from) = (self.intake.clone(), self.next);
                let read =
                    tokio::task::spawn_blocking(move || intake.store.outbox_from(from, BATCH))
                        .await
                        .map_err(|_| FeedError::Closed)??;
                if let Some(last) = read.last() {
                    self.next = last.seq + 1;
                    return Ok(read);
                }
            }
            // Woken by the flush that publishes the next event.
            self.head.changed().await.map_err(|_| FeedError::Closed)?;
        }
    }
}

/// The portal's webhook: where, with what secret, how patiently.
#[derive(Clone)]
pub struct Webhook {
    url: String,
    secret: Vec<u8>,
    timeout: Duration,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Webhook {
    /// The webhook of `[webhooks]`; `None` when no `url` is set.
    pub fn from_config(cfg: &Webhooks) -> Result<Option<Webhook>, WebhookError> {
        let Some(url) = cfg.url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        if !url.starts_with("http://") {
            return Err(WebhookError::Url(url.to_string()));
        }
        let file = cfg
            .secret_file
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty());
        let (secret, from) = match (file, cfg.secret_env.as_deref()) {
            (Some(path), _) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| WebhookError::SecretFile {
                        path: path.clone(),
                        cause: source,
                    })?;
                (text, path.display().to_string())
            }
            (None, Some(var)) => {
                let text =
                    std::env::var(var).map_err(|_| WebhookError::SecretEnv(var.to_string()))?;
                (text, format!("${var}"))
            }
            (None, None) => return Err(WebhookError::NoSecret),
        };
        let secret = secret.trim().as_bytes().to_vec();
        if secret.len() < 16 {
            return Err(WebhookError::ShortSecret(from));
        }
        Ok(Some(Webhook {
            url: url.to_string(),
            secret,
            timeout: Duration::from_millis(cfg.timeout_ms.max(1)),
            initial_backoff: Duration::from_millis(cfg.initial_backoff_ms.max(1)),
            max_backoff: Duration::from_millis(cfg.max_backoff_ms.max(cfg.initial_backoff_ms)),
        }))
    }

    /// One delivery attempt: `Ok` on a 2xx, else what the portal said.
    fn post(&self, agent: &ureq::Agent, event: &OutboxEvent) -> Result<(), String> {
        let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        let timestamp = unix_seconds().to_string();
        let signature = sign(&self.secret, &timestamp, &body);
        let sent = agent
            .post(&self.url)
            .set("Content-Type", "application/json")
            .set(TIMESTAMP_HEADER, &timestamp)
            .set(SIGNATURE_HEADER, &signature)
            .set(IDEMPOTENCY_HEADER, &event.idempotency_key)
            .send_bytes(&body);
        match sent {
            Ok(response) if (200..300).contains(&response.status()) => Ok(()),
            Ok(response) => Err(format!("status {}", response.status())),
            Err(ureq::Error::Status(status, _)) => Err(format!("status {status}")),
            Err(ureq::Error::Transport(e)) => Err(e.kind().to_string()),
        }
    }

    /// Sends `event` until the portal answers 2xx, waiting twice as long
    /// after each failure, up to `max_backoff`.
    async fn deliver(&self, agent: &ureq::Agent, event: &OutboxEvent) {
        let mut backoff = self.initial_backoff;
        for attempt in 1u64.. {
            let (webhook, agent, sent) = (self.clone(), agent.clone(), event.clone());
            let posted = tokio::task::spawn_blocking(move || webhook.post(&agent, &sent)).await;
            let failure = match posted {
                Ok(Ok(())) => return,
                Ok(Err(failure)) => failure,
                Err(e) => e.to_string(),
            };
            // Seq and outcome only: no account ids in the logs.
            tracing::warn!(seq = event.seq, attempt, failure = %failure, retry_ms = backoff.as_millis() as u64, "webhook delivery failed; will retry");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.max_backoff);
        }
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs a store call off the async threads, retrying a failure after
/// `wait` until it succeeds.
async fn persist<T: Send + 'static>(
    intake: &Arc<Intake>,
    wait: Duration,
    what: &'static str,
    call: impl Fn(&Intake) -> Result<T, StoreError> + Clone + Send + 'static,
) -> T {
    loop {
        let (intake, call) = (intake.clone(), call.clone());
        match tokio::task::spawn_blocking(move || call(&intake)).await {
            Ok(Ok(value)) => return value,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, what, "webhook: store call failed; will retry")
            }
            Err(e) => tracing::warn!(error = %e, what, "webhook: store call failed; will retry"),
        }
        tokio::time::sleep(wait).await;
    }
}

/// Whether this process holds the webhook duty (asked until the store answers).
async fn holds_duty(intake: &Arc<Intake>, wait: Duration) -> bool {
    persist(intake, wait, "duty", |intake| {
        intake.store.hold_duty(WEBHOOK_CONSUMER)
    })
    .await
}

/// Delivers every outbox event to the webhook in order, each until a 2xx,
/// then marks it delivered; ends when the store closes. Where several
/// processes share the store, the one holding the `webhook` duty delivers,
/// from the offset the last holder left.
pub async fn deliver(intake: Arc<Intake>, webhook: Webhook) {
    let agent = ureq::AgentBuilder::new()
        .timeout(webhook.timeout)
        .redirects(0)
        .build();
    let wait = webhook.initial_backoff;
    let mut feed: Option<Feed> = None;
    loop {
        if !holds_duty(&intake, wait).await {
            feed = None;
            tokio::time::sleep(DUTY_POLL).await;
            continue;
        }
        let current = match feed.as_mut() {
            Some(current) => current,
            None => {
                let next = persist(&intake, wait, "offset", |intake| {
                    intake.store.consumer_offset(WEBHOOK_CONSUMER)
                })
                .await;
                feed.insert(Feed::new(intake.clone(), next))
            }
        };
        let batch = match current.next_batch().await {
            Ok(batch) => batch,
            Err(FeedError::Closed) => return,
            Err(FeedError::Store(e)) => {
                tracing::warn!(error = %e, "webhook: reading the outbox failed; will retry");
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        // The wait for the batch may have outlasted the duty.
        if !holds_duty(&intake, wait).await {
            feed = None;
            continue;
        }
        for event in batch {
            webhook.deliver(&agent, &event).await;
            let next = event.seq + 1;
            persist(&intake, wait, "delivered", move |intake| {
                intake.store.set_offset(WEBHOOK_CONSUMER, next)
            })
            .await;
            tracing::debug!(seq = event.seq, "webhook delivered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a shared secret of the portal";

    #[test]
    fn a_signature_verifies_only_for_its_secret_body_and_time() {
        let body = br#"{"seq":1,"type":"verdict"}"#;
        let signature = sign(SECRET, "1700000000", body);
        assert_eq!(signature.len(), 64);
        assert_eq!(
            verify(SECRET, "1700000000", body, &signature, 1700000100, 300),
            Ok(())
        );
        let tampered = br#"{"seq":2,"type":"verdict"}"#;
        assert_eq!(
            verify(SECRET, "1700000000", tampered, &signature, 1700000000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"another secret",
                "1700000000",
                body,
                &signature,
                1700000000,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, "1700000001", body, &signature, 1700000000, 300),
            Err(SignatureError::Mismatch),
            "the timestamp is signed"
        );
        assert_eq!(
            verify(SECRET, "1700000000", body, &signature, 1700001000, 300),
            Err(SignatureError::Stale(1000))
        );
        assert_eq!(
            verify(SECRET, "1700000000", body, "zz", 1700000000, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, "soon", body, &signature, 1700000000, 300),
            Err(SignatureError::Timestamp)
        );
    }

    #[test]
    fn the_webhook_needs_an_http_url_and_a_real_secret() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "0123456789abcdef0123\n").unwrap();
        let mut cfg = Webhooks::default();
        assert!(Webhook::from_config(&cfg).unwrap().is_none());
        cfg.url = Some("http://127.0.0.1:9/events".into());
        assert!(matches!(
            Webhook::from_config(&cfg),
            Err(WebhookError::NoSecret)
        ));
        cfg.secret_file = Some(secret.clone());
        let webhook = Webhook::from_config(&cfg).unwrap().expect("configured");
        assert_eq!(webhook.secret, b"0123456789abcdef0123");
        std::fs::write(&secret, "short").unwrap();
        assert!(matches!(
            Webhook::from_config(&cfg),
            Err(WebhookError::ShortSecret(_))
        ));
        cfg.url = Some("https://portal.example/events".into());
        assert!(matches!(
            Webhook::from_config(&cfg),
            Err(WebhookError::Url(_))
        ));
    }
}
