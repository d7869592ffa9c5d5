//! Small wrappers over async-nats: the names of the streams, buckets and
//! subjects, creating them idempotently, reading a key with its revision,
//! a message by sequence or subject, and turning the client's errors into
//! [`StoreError`]s.

use super::super::StoreError;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::kv::{self, Operation};
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::object_store::{
    self, DeleteErrorKind, GetErrorKind, InfoErrorKind, ObjectStore,
};
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind, StorageType, Stream};
use async_nats::jetstream::Context;
use async_nats::{header, HeaderMap, HeaderValue};
use bytes::Bytes;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How long the server remembers a message id to drop a second publish of
/// it. Correctness never rests on it alone (see the module's doc), but it
/// spares duplicates of audit entries and outbox events when a step is
/// retried soon after a crash.
pub(super) const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The names of everything one store keeps on the server, all under its
/// prefix (`jetstream.prefix`).
#[derive(Clone)]
pub(super) struct Names {
    pub(super) prefix: String,
    pub(super) replicas: usize,
}

impl Names {
    /// A prefix is part of stream, bucket and subject names: letters,
    /// digits, `-` and `_` only.
    pub(super) fn new(prefix: &str, replicas: usize) -> Result<Names, StoreError> {
        if prefix.is_empty() || !prefix.bytes().all(safe_byte) {
            return Err(StoreError::JetStream {
                what: "configuration",
                cause: format!(
                    "jetstream.prefix {prefix:?} must be letters, digits, '-' or '_' (and not empty)"
                ),
            });
        }
        Ok(Names {
            prefix: prefix.to_string(),
            replicas: replicas.max(1),
        })
    }

    pub(super) fn bucket(&self, what: &str) -> String {
        format!("{}_{what}", self.prefix)
    }

    /// The subject of the pipeline verdict of the job with key `key`.
    pub(super) fn pipeline_verdict(&self, key: &str) -> String {
        format!("{}.verdicts.pipeline.{key}", self.prefix)
    }

    /// The subject of the reviewer verdict decided at revision `rev` of the
    /// job's review record: one subject per decision.
    pub(super) fn review_verdict(&self, key: &str, rev: u64) -> String {
        format!("{}.verdicts.review.{key}.{rev}", self.prefix)
    }

    /// The work-queue subject of the job with key `key` (`*` for all).
    pub(super) fn work_subject(&self, key: &str) -> String {
        format!("{}.work.{key}", self.prefix)
    }

    pub(super) fn audit_subject(&self) -> String {
        format!("{}.audit", self.prefix)
    }

    pub(super) fn outbox_subject(&self) -> String {
        format!("{}.outbox", self.prefix)
    }
}

fn safe_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A name (job id, consumer name) as a KV key and subject token: as it is
/// when it is letters, digits, `-` and `_`, else `=` and its hex (`=` is
/// never in a name kept as it is, so the two cannot meet).
pub(super) fn token(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(safe_byte) {
        name.to_string()
    } else {
        format!("={}", crate::digest::to_hex(name.as_bytes()))
    }
}

/// The name a [`token`] stands for, as bytes.
pub(super) fn untoken(key: &str) -> Vec<u8> {
    match key.strip_prefix('=') {
        Some(hex) => crate::digest::from_hex(hex).unwrap_or_default(),
        None => key.as_bytes().to_vec(),
    }
}

/// A client error as a [`StoreError`] about `what`.
pub(super) fn failed<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::JetStream {
        what,
        cause: e.to_string(),
    }
}

/// A KV bucket holding one value per key (no history), created if missing.
/// Its stream is made here as async-nats would make it: the client's own
/// `create_key_value` first asks for the account's info, which it cannot
/// read from a 2.9 server.
pub(super) async fn bucket(
    js: &Context,
    names: &Names,
    what: &str,
) -> Result<kv::Store, StoreError> {
    let name = names.bucket(what);
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        storage: StorageType::File,
        num_replicas: names.replicas,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(failed("creating a bucket"))?;
    js.get_key_value(name)
        .await
        .map_err(failed("opening a bucket"))
}

/// A stream of `subjects` that keeps every message (limits retention).
pub(super) async fn stream(
    js: &Context,
    names: &Names,
    what: &str,
    subjects: Vec<String>,
) -> Result<Stream, StoreError> {
    js.get_or_create_stream(stream::Config {
        name: names.bucket(what),
        subjects,
        storage: StorageType::File,
        num_replicas: names.replicas,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    })
    .await
    .map_err(failed("opening a stream"))
}

pub(super) async fn objects(js: &Context, names: &Names) -> Result<ObjectStore, StoreError> {
    let name = names.bucket("uploads");
    let config = object_store::Config {
        bucket: name.clone(),
        storage: StorageType::File,
        num_replicas: names.replicas,
        ..Default::default()
    };
    match js.create_object_store(config).await {
        Ok(store) => Ok(store),
        Err(_) => js
            .get_object_store(name)
            .await
            .map_err(failed("opening the object store")),
    }
}

/// The value of `key` and its revision: `(None, rev)` for a deleted key
/// (its delete marker's revision, what a write must expect), `(None, 0)`
/// for one never written.
pub(super) async fn current(
    store: &kv::Store,
    key: &str,
) -> Result<(Option<Bytes>, u64), StoreError> {
    match store.entry(key).await.map_err(failed("reading a key"))? {
        None => Ok((None, 0)),
        Some(entry) if entry.operation != Operation::Put => Ok((None, entry.revision)),
        Some(entry) => Ok((Some(entry.value), entry.revision)),
    }
}

/// Every live key of a bucket with its value. One request per key: the
/// buckets listed this way (jobs, review items, accounts) are read whole
/// by sled's backend too.
pub(super) async fn values(store: &kv::Store) -> Result<Vec<(String, Bytes)>, StoreError> {
    let mut keys = store.keys().await.map_err(failed("listing keys"))?;
    let mut names = Vec::new();
    while let Some(key) = keys.next().await {
        names.push(key.map_err(failed("listing keys"))?);
    }
    let mut out = Vec::with_capacity(names.len());
    for key in names {
        if let (Some(value), _) = current(store, &key).await? {
            out.push((key, value));
        }
    }
    Ok(out)
}

/// The message at `seq`, if the stream has it.
pub(super) async fn message_at(
    stream: &Stream,
    seq: u64,
) -> Result<Option<StreamMessage>, StoreError> {
    match stream.get_raw_message(seq).await {
        Ok(message) => Ok(Some(message)),
        Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(None),
        Err(e) => Err(failed("reading a message")(e)),
    }
}

/// The last message on `subject`, if any.
pub(super) async fn last_on(
    stream: &Stream,
    subject: &str,
) -> Result<Option<StreamMessage>, StoreError> {
    match stream.get_last_raw_message_by_subject(subject).await {
        Ok(message) => Ok(Some(message)),
        Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(None),
        Err(e) => Err(failed("reading a message")(e)),
    }
}

/// The last sequence number a stream has given (0 for none yet).
pub(super) async fn last_seq(stream: &Stream) -> Result<u64, StoreError> {
    let info = stream
        .get_info()
        .await
        .map_err(failed("reading a stream"))?;
    Ok(info.state.last_sequence)
}

/// What a publish with an expected last sequence came to.
pub(super) enum Published {
    Acked(PublishAck),
    /// Someone else appended first: read the head again and retry.
    Raced,
}

/// Publishes `payload` on `subject` and waits for the server's ack; with
/// `msg_id`, a second publish of the same id within the window is acked
/// as the first (`duplicate`), and with `expected_last`, it is refused if
/// the stream's last sequence is another.
pub(super) async fn publish(
    js: &Context,
    subject: String,
    payload: Vec<u8>,
    msg_id: Option<&str>,
    expected_last: Option<u64>,
) -> Result<Published, StoreError> {
    let mut headers = HeaderMap::new();
    if let Some(id) = msg_id {
        headers.insert(header::NATS_MESSAGE_ID, id);
    }
    if let Some(last) = expected_last {
        headers.insert(header::NATS_EXPECTED_LAST_SEQUENCE, HeaderValue::from(last));
    }
    let ack = js
        .publish_with_headers(subject, headers, Bytes::from(payload))
        .await
        .map_err(failed("publishing"))?
        .await;
    match ack {
        Ok(ack) => Ok(Published::Acked(ack)),
        Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(Published::Raced),
        Err(e) => Err(failed("publishing")(e)),
    }
}

/// Whether the object store holds `name` (deleted ones do not count).
pub(super) async fn object_there(store: &ObjectStore, name: &str) -> Result<bool, StoreError> {
    match store.info(name).await {
        Ok(info) => Ok(!info.deleted),
        Err(e) if e.kind() == InfoErrorKind::NotFound => Ok(false),
        Err(e) => Err(failed("reading an upload's info")(e)),
    }
}

/// The bytes of object `name` as stored, if it is there.
pub(super) async fn object_bytes(
    store: &ObjectStore,
    name: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut object = match store.get(name).await {
        Ok(object) => object,
        Err(e) if e.kind() == GetErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(failed("reading an upload")(e)),
    };
    let mut bytes = Vec::new();
    object
        .read_to_end(&mut bytes)
        .await
        .map_err(failed("reading an upload"))?;
    Ok(Some(bytes))
}

/// Deletes object `name`; one already gone is no error.
pub(super) async fn delete_object(store: &ObjectStore, name: &str) -> Result<(), StoreError> {
    match store.delete(name).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == DeleteErrorKind::NotFound => Ok(()),
        Err(e) => Err(failed("deleting an upload")(e)),
    }
}

/// The objects in the store (not deleted ones), each with its time of
/// modification in Unix ms (`None` if it does not say).
pub(super) async fn objects_listed(
    store: &ObjectStore,
) -> Result<Vec<(String, Option<u64>)>, StoreError> {
    let mut list = store.list().await.map_err(failed("listing uploads"))?;
    let mut out = Vec::new();
    while let Some(info) = list.next().await {
        let info = info.map_err(failed("listing uploads"))?;
        let ms = info
            .modified
            .and_then(|at| u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok());
        out.push((info.name, ms));
    }
    Ok(out)
}
