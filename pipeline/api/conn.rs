//! The accept loop of `intake serve`: hyper's HTTP/1 under axum's router,
//! with what `axum::serve` lacks, so that slow or idle clients cost a
//! bounded number of descriptors and never starve the others:
//!
//! - a cap on open connections; at the cap, the connection that has waited
//!   longest for a request head (a slow or idle client) is closed to make
//!   room, and when every one is inside a request, new ones wait in the
//!   kernel's backlog;
//! - a deadline for each request head (hyper's header timer, which also
//!   runs while a kept-alive connection waits for its next request);
//! - a deadline for each read of a request body;
//! - kept-alive connections closed after an idle time;
//! - running out of descriptors on accept is waited out, not spun on.

use axum::body::Body;
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;

/// The connection limits of `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Descriptors kept back from connections: the store, upload files, the
/// PDF sandbox's pipes, webhooks, the listener.
const RESERVED_DESCRIPTORS: u64 = 64;

impl Limits {
    pub fn from_config(server: &intake_models::config::Server) -> Limits {
        Limits {
            max_connections: server.max_connections.max(1),
            header_timeout: Duration::from_millis(server.header_timeout_ms.max(1)),
            body_timeout: Duration::from_millis(server.body_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(server.idle_timeout_ms.max(1)),
        }
    }

    /// The cap lowered to what the process's descriptor limit allows, after
    /// raising the soft limit to the hard one; says so when it lowers it.
    /// `receiving` uploads each hold a file too.
    pub fn fitted_to_descriptors(mut self, receiving: usize) -> Limits {
        let available = raise_descriptor_limit();
        let reserved = RESERVED_DESCRIPTORS + receiving as u64;
        let fits = available.saturating_sub(reserved).max(1);
        if (self.max_connections as u64) > fits {
            eprintln!(
                "intake: server.max_connections = {} does not fit the descriptor limit ({available}); using {fits}",
                self.max_connections
            );
            self.max_connections = fits as usize;
        }
        self
    }
}

/// Raises the soft descriptor limit to the hard one; returns the limit now.
fn raise_descriptor_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return u64::MAX;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

/// The most a connection buffers (hyper grows its read buffer up to this
/// while a body streams in; its default is 400 KiB); a request head must
/// fit in it.
pub const CONNECTION_BUFFER: usize = 64 * 1024;

/// Waiting for a request head: `waiting_since` of a connection inside one.
const IN_REQUEST: u64 = u64::MAX;

/// What the accept loop knows of one connection.
struct Connection {
    /// When it started waiting for a request head (ms since the server
    /// started), or [`IN_REQUEST`].
    waiting_since: AtomicU64,
    /// Requests whose response is not finished yet.
    in_request: AtomicUsize,
    /// Requests begun on it.
    requests: AtomicU64,
    /// Told to close at once to make room.
    evict: Notify,
    /// Told when it starts waiting for a request head again.
    idle: Notify,
}

/// The open connections, to find the one to close at the cap.
struct Connections {
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    started: Instant,
}

impl Connections {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn add(&self) -> (u64, Arc<Connection>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            waiting_since: AtomicU64::new(self.now_ms()),
            in_request: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            evict: Notify::new(),
            idle: Notify::new(),
        });
        if let Ok(mut open) = self.open.lock() {
            open.insert(id, connection.clone());
        }
        (id, connection)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(&id);
        }
    }

    /// Closes the connection that has waited longest for a request head;
    /// false when every one is inside a request.
    fn evict_longest_waiting(&self) -> bool {
        let Ok(mut open) = self.open.lock() else {
            return false;
        };
        let longest = open
            .iter()
            .map(|(id, c)| (c.waiting_since.load(Ordering::SeqCst), *id))
            .filter(|(since, _)| *since != IN_REQUEST)
            .min();
        let Some(connection) = longest.and_then(|(_, id)| open.remove(&id)) else {
            return false;
        };
        connection.evict.notify_one();
        true
    }
}

/// Held from a request's start to the end of its response body.
struct InRequest {
    connection: Arc<Connection>,
    connections: Arc<Connections>,
}

impl InRequest {
    fn begin(connection: &Arc<Connection>, connections: &Arc<Connections>) -> InRequest {
        connection.in_request.fetch_add(1, Ordering::SeqCst);
        connection.requests.fetch_add(1, Ordering::SeqCst);
        connection.waiting_since.store(IN_REQUEST, Ordering::SeqCst);
        InRequest {
            connection: connection.clone(),
            connections: connections.clone(),
        }
    }
}

impl Drop for InRequest {
    fn drop(&mut self) {
        if self.connection.in_request.fetch_sub(1, Ordering::SeqCst) == 1 {
            let now = self.connections.now_ms();
            self.connection.waiting_since.store(now, Ordering::SeqCst);
            self.connection.idle.notify_one();
        }
    }
}

/// A response body that keeps its request counted until it is sent or dropped.
struct Counted {
    body: Body,
    _request: InRequest,
}

impl HttpBody for Counted {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body read stalled longer than `server.body_timeout_ms`.
#[derive(Debug, thiserror::Error)]
#[error("the request body stalled: nothing arrived for {0:?}")]
pub struct BodyTimedOut(Duration);

/// A request body whose every read must bring something within `timeout`.
struct TimedBody {
    body: Incoming,
    timeout: Duration,
    /// Armed while a read waits; re-armed after each frame.
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    rearm: bool,
}

impl HttpBody for TimedBody {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.rearm = true;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = Instant::now() + this.timeout;
        let stall = this
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if std::mem::take(&mut this.rearm) {
            stall.as_mut().reset(deadline);
        }
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(this.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Accepts connections and serves `router` on each until `closing` turns
/// true; then lets each finish its request in progress and returns when
/// every connection has ended.
pub async fn accept_loop(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    closing: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = Arc::new(Connections {
        open: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
        started: Instant::now(),
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(CONNECTION_BUFFER);
    let mut stop = closing.clone();
    let mut descriptors_warned: Option<Instant> = None;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    out_of_descriptors(&e, &mut descriptors_warned).await;
                    continue;
                }
            },
            _ = stop.wait_for(|closing| *closing) => break,
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // At the cap: a slow or idle client makes room; if every
                // connection is inside a request, this one waits for a slot.
                connections.evict_longest_waiting();
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    _ = stop.wait_for(|closing| *closing) => break,
                }
            }
        };
        let (id, connection) = connections.add();
        let serving = serve_connection(
            stream,
            router.clone(),
            http.clone(),
            limits,
            connection,
            connections.clone(),
            closing.clone(),
        );
        let connections = connections.clone();
        tokio::spawn(async move {
            serving.await;
            connections.remove(id);
            drop(slot);
        });
    }
    // No new connections; those waiting in the backlog are refused.
    drop(listener);
    // Every slot back: every connection has ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// EMFILE and its kin: the listener stays; accepting resumes after a pause
/// (connections closing free descriptors). Other accept errors concern
/// one connection only.
async fn out_of_descriptors(error: &std::io::Error, warned: &mut Option<Instant>) {
    let exhausted = matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    );
    if !exhausted {
        return;
    }
    if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
        tracing::warn!(%error, "out of descriptors on accept; pausing");
        *warned = Some(Instant::now());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves one connection until it ends, is evicted, or idles out.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    http: hyper::server::conn::http1::Builder,
    limits: Limits,
    connection: Arc<Connection>,
    connections: Arc<Connections>,
    mut closing: watch::Receiver<bool>,
) {
    let router = TowerToHyperService::new(router);
    let counted = connection.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let request_counted = InRequest::begin(&counted, &connections);
        let request = request.map(|body| {
            Body::new(TimedBody {
                body,
                timeout: limits.body_timeout,
                stall: None,
                rearm: false,
            })
        });
        let response = hyper::service::Service::call(&router, request);
        async move {
            let response = response.await?;
            Ok::<_, Infallible>(response.map(|body| Counted {
                body,
                _request: request_counted,
            }))
        }
    });
    let served = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = connection.evict.notified() => return,
            () = idle_out(&connection, limits.idle_timeout), if !shutting_down => {
                served.as_mut().graceful_shutdown();
                shutting_down = true;
            }
            _ = closing.wait_for(|closing| *closing), if !shutting_down => {
                served.as_mut().graceful_shutdown();
                shutting_down = true;
            }
        }
    }
}

/// Resolves once a kept-alive connection has waited `idle` for its next
/// request. A new connection's first request is the header timer's.
async fn idle_out(connection: &Connection, idle: Duration) {
    loop {
        let since = connection.waiting_since.load(Ordering::SeqCst);
        if since == IN_REQUEST || connection.requests.load(Ordering::SeqCst) == 0 {
            connection.idle.notified().await;
            continue;
        }
        tokio::time::sleep(idle).await;
        if connection.waiting_since.load(Ordering::SeqCst) == since {
            return;
        }
    }
}
