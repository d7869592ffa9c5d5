//! Every limit and knob, as read from `pipeline.toml`. Defaults are the
//! values the seeds fix (5 MiB, 300 dpi, 6 months, 48 hours).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub limits: Limits,
    pub resolution: Resolution,
    pub quality: QualityThresholds,
    pub ocr: Ocr,
    pub validity: Validity,
    pub workers: Workers,
    pub store: StoreConfig,
    pub jetstream: JetStreamConfig,
    pub accounts: Accounts,
    pub review: Review,
    pub server: Server,
    pub webhooks: Webhooks,
}

/// Webhooks to the portal: every outbox event, in order, signed, retried
/// until a 2xx.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Webhooks {
    /// Where events are POSTed (`http://...`); unset: no webhooks.
    pub url: Option<String>,
    /// File holding the shared secret of the signatures.
    pub secret_file: Option<std::path::PathBuf>,
    /// Environment variable holding the secret, used when `secret_file` is unset.
    pub secret_env: Option<String>,
    /// Time allowed for one delivery (connect, send, answer), in ms.
    pub timeout_ms: u64,
    /// Wait after the first failed delivery of an event, in ms; doubled
    /// after each further failure.
    pub initial_backoff_ms: u64,
    /// The longest wait between two attempts, in ms.
    pub max_backoff_ms: u64,
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks {
            url: None,
            secret_file: None,
            secret_env: None,
            timeout_ms: 10_000,
            initial_backoff_ms: 500,
            max_backoff_ms: 60_000,
        }
    }
}

/// `intake serve`: the HTTP API and the reviewer console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    /// Address to listen on.
    pub listen: String,
    /// `Retry-After` of a `503` when the pipeline is full, in seconds.
    pub retry_after_s: u64,
    /// The bearer tokens and what each may do.
    pub tokens: Vec<Token>,
    /// Connections open at once; past it the connection that has waited
    /// longest for a request head is closed to make room (and when every
    /// one is inside a request, new ones wait in the kernel's backlog).
    /// Lowered at start to fit the process's file-descriptor limit.
    pub max_connections: usize,
    /// A request head must arrive whole within this, counted from the
    /// connection's start or the end of the previous response, in ms.
    pub header_timeout_ms: u64,
    /// Longest wait for the next piece of a request body, in ms.
    pub body_timeout_ms: u64,
    /// A kept-alive connection without a request for this long is closed, in ms.
    pub idle_timeout_ms: u64,
    /// Uploads being received at once (each streamed to its file); past
    /// it an upload is answered `503` with `Retry-After`.
    pub max_receiving: usize,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:8080".into(),
            retry_after_s: 2,
            tokens: Vec::new(),
            max_connections: 512,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            idle_timeout_ms: 5_000,
            max_receiving: 32,
        }
    }
}

/// One bearer token of the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// The token itself: at least 32 characters (`openssl rand -hex 32`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Or its SHA-256 as 64 hex digits, so that the config holds no usable
    /// secret (`printf %s TOKEN | sha256sum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    pub role: Role,
    /// Who holds it: a reviewer's id, an upload handler's name.
    pub name: String,
    /// For uploaders: the accounts it may act for; absent: every account.
    #[serde(default)]
    pub accounts: Option<Vec<String>>,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Upload handlers: push documents, read their jobs and accounts.
    Uploader,
    /// Migration officers: the review queue and its decisions.
    Reviewer,
    /// Read-only: accounts, jobs, audit, metrics.
    Auditor,
    /// Everything.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Uploader => "uploader",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

/// Time rules of the account status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Accounts {
    /// A correction request unanswered this long restricts the account (seeds: 48 h).
    pub correction_deadline_hours: u64,
    /// A correction request unanswered this long is closed (seeds: "not
    /// completed in time, so the request is closed").
    pub close_after_hours: u64,
    /// How often `intake run --follow` applies the time rules, in seconds.
    pub sweep_interval_s: u64,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            correction_deadline_hours: 48,
            close_after_hours: 720,
            sweep_interval_s: 60,
        }
    }
}

/// The review queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Review {
    /// How long a claim lasts before the item returns to the queue.
    pub lease_minutes: u64,
}

impl Default for Review {
    fn default() -> Self {
        Review { lease_minutes: 30 }
    }
}

/// Which engine holds the durable store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// sled in `store.path`: one process, the default.
    #[default]
    Sled,
    /// NATS JetStream at `jetstream.url` (see `[jetstream]`).
    JetStream,
}

/// The durable store (sled by default, or JetStream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sled` or `jetstream`.
    pub backend: Backend,
    /// Database directory, created if missing.
    pub path: std::path::PathBuf,
    /// sled page cache in bytes (its own default, 1 GB, is too much per worker).
    pub cache_capacity_bytes: u64,
    /// File holding the encryption key (64 hex digits); `intake keygen`
    /// writes one. Without it the service refuses to start.
    pub key_file: Option<std::path::PathBuf>,
    /// Environment variable holding the key, used when `key_file` is unset
    /// (`key_file = ""` unsets it). With neither, the store is not
    /// encrypted, and every command says so.
    pub key_env: Option<String>,
    /// Uploads of finished jobs are deleted this many days after their
    /// verdict (verdicts and audit entries remain); 0 keeps them.
    pub retention_days: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: Backend::Sled,
            path: "intake.db".into(),
            cache_capacity_bytes: 64 * 1024 * 1024,
            key_file: Some("intake.key".into()),
            key_env: None,
            retention_days: 30,
        }
    }
}

/// The JetStream backend (`store.backend = "jetstream"`): where the
/// server is, and how its streams, buckets and object store are named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JetStreamConfig {
    /// The NATS server (`nats://host:port`).
    pub url: String,
    /// Prefix of every stream, bucket and subject name (letters, digits,
    /// `-` and `_`): two stores on one server take two prefixes.
    pub prefix: String,
    /// Copies of each stream and bucket in a cluster (1 on a single server).
    pub replicas: usize,
    /// Seconds a worker process has to commit a job it took before the
    /// work queue hands the job to another (a worker killed mid-job).
    pub ack_wait_s: u64,
    /// Seconds a process holds a single-writer duty (the account
    /// projection, webhook delivery) without renewing it before another
    /// process may take it over.
    pub duty_ttl_s: u64,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        JetStreamConfig {
            url: "nats://127.0.0.1:4222".into(),
            prefix: "intake".into(),
            replicas: 1,
            ack_wait_s: 60,
            duty_ttl_s: 15,
        }
    }
}

/// Checked before any expensive work: bytes before decoding, pixels before allocating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted upload, in bytes (seeds: 5 MB).
    pub max_bytes: u64,
    /// Largest decoded image, in pixels (width x height), read from the header.
    pub max_pixels: u64,
    /// Largest side of a decoded image, in pixels.
    pub max_side: u32,
    /// Pixels one job may decode, all its pages together: a PDF's pages past
    /// it are not examined, and an upload whose first image alone exceeds
    /// it gets `image_too_large` (scan at 300–600 dpi). Bounds the decode
    /// work of one job, whatever its page count.
    pub max_job_pixels: u64,
    /// A decoded page above this many pixels is shrunk (area averaging) to
    /// it before the checks: they need no more (an A4 page at 600 dpi has
    /// 35 MP, a passport page at 1200 dpi 27 MP), and each later pass costs
    /// a worker time in proportion to the pixels. Resolution is still judged
    /// at the scan's own size. 0: never shrink.
    pub work_pixels: u64,
    /// PDF pages examined; the page holding the declared document is checked.
    pub max_pdf_pages: u32,
    /// PDF objects allowed in one file.
    pub max_pdf_objects: u32,
    /// Largest decompressed PDF image stream, in bytes.
    pub max_pdf_stream_bytes: u64,
    /// Wall-clock budget for the sandboxed PDF parse, in milliseconds.
    pub pdf_timeout_ms: u64,
    /// Address-space limit of the PDF sandbox process, in MiB.
    pub pdf_memory_mib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 5 * 1024 * 1024,
            max_pixels: 80_000_000,
            max_side: 20_000,
            max_job_pixels: 160_000_000,
            work_pixels: 25_000_000,
            max_pdf_pages: 16,
            max_pdf_objects: 20_000,
            max_pdf_stream_bytes: 256 * 1024 * 1024,
            pdf_timeout_ms: 10_000,
            pdf_memory_mib: 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resolution {
    /// Minimum resolution of the scan (seeds: 300 dpi).
    pub min_dpi: f32,
    /// Relative measurement error allowed on effective dpi: a 300-dpi scan
    /// measured from the MRZ pitch may read a few percent low.
    pub effective_tolerance: f32,
}

impl Default for Resolution {
    fn default() -> Self {
        Resolution {
            min_dpi: 300.0,
            effective_tolerance: 0.04,
        }
    }
}

/// Thresholds on the document region; each measure is in 0..=1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityThresholds {
    pub min_sharpness: f32,
    pub min_brightness: f32,
    pub max_brightness: f32,
    pub min_contrast: f32,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        QualityThresholds {
            min_sharpness: 0.45,
            min_brightness: 0.15,
            max_brightness: 0.97,
            min_contrast: 0.08,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ocr {
    /// Directory holding `*.traineddata`; `None` uses Tesseract's default.
    pub tessdata_dir: Option<String>,
    /// Language model for the MRZ (restricted to `A-Z0-9<`).
    pub mrz_language: String,
    /// Language models for the visual zone of documents without an MRZ.
    pub viz_languages: String,
    /// Time after which the visual-zone reading of a page that nothing was
    /// recognised on stops turning it and calls it unreadable, in ms. One
    /// Tesseract call is not interruptible: this bounds the turns, not a call.
    pub viz_budget_ms: u64,
    /// Read the MRZ with the OCR-B glyph classifier first (Tesseract only
    /// where it is not sure); `false` reads every MRZ with Tesseract alone:
    /// about eight times slower on the MRZ, twice on a whole check, and
    /// fewer fields right (kept to measure the two against each other).
    pub mrz_glyphs: bool,
    /// Read the visual zone of an MRZ document too and hold it against the
    /// MRZ (`viz_mismatch`). One Tesseract call per such document: about
    /// 0.3 s on a passport page, most of a check's time.
    pub viz_cross_check: bool,
}

impl Default for Ocr {
    fn default() -> Self {
        Ocr {
            tessdata_dir: None,
            mrz_language: "eng".into(),
            viz_languages: "rus+eng".into(),
            viz_budget_ms: 15_000,
            mrz_glyphs: true,
            viz_cross_check: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Validity {
    /// A passport must run more than this many months past the submission date.
    pub passport_min_months: u32,
}

impl Default for Validity {
    fn default() -> Self {
        Validity {
            passport_min_months: 6,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workers {
    /// Threads checking files in parallel (`intake check` with several files).
    pub check_threads: usize,
    /// Pipeline workers of the decode stage (sniff, limits, decode).
    pub decode_workers: usize,
    /// Pipeline workers of the read stage (locate, OCR, parse, QR, match,
    /// verdict); each owns its Tesseract instances.
    pub read_workers: usize,
    /// Capacity of each channel between two stages.
    pub stage_queue: usize,
    /// Jobs admitted into the pipeline at once; `submit` waits when full.
    pub in_flight: usize,
    /// How long `submit` waits for room before answering `busy`, in ms.
    pub submit_wait_ms: u64,
}

impl Default for Workers {
    fn default() -> Self {
        Workers {
            check_threads: 2,
            decode_workers: 1,
            read_workers: 2,
            stage_queue: 2,
            in_flight: 32,
            submit_wait_ms: 2000,
        }
    }
}
