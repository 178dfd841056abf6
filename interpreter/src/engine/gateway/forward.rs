//! The gateway's HTTP side: each request is read whole (requests are small), admitted,
//! sent upstream with the real key once the rate limiter gives it a slot — again
//! after the wait a 429 asks for —, and its answer passed back chunk by chunk as it
//! comes, metered on the way. Or, replaying, answered from a recording.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;

use super::api::{self, Api, KeyHeader, Meter, Provider};
use super::Shared;
use crate::store::exchanges::{self, Exchange};

type Body = BoxBody<Bytes, Infallible>;
type Upstream = Client<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, Full<Bytes>>;

/// The largest request body the gateway reads.
const MAX_REQUEST: usize = 64 << 20;

/// Serves the gateway on 127.0.0.1 (on the current tokio runtime); its port.
pub(super) fn serve(shared: Arc<Shared>) -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let client = Arc::new(client());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let (shared, client) = (shared.clone(), client.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (shared, client) = (shared.clone(), client.clone());
                    async move { Ok::<_, Infallible>(handle(shared, client, req).await) }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(port)
}

fn client() -> Upstream {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = match builder.with_provider_and_native_roots(provider.clone()) {
        Ok(b) => b,
        // No system certificates: plain http upstreams (a local stand-in) still work.
        Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth())
                .unwrap_or_else(|_| {
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                }),
        ),
    };
    let connector = builder.https_or_http().enable_http1().build();
    Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector)
}

fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

fn error(provider: Provider, status: u16, message: &str) -> Response<Body> {
    let (status, body) = provider.error(status, message);
    full(status, "application/json", body.to_string())
}

async fn handle(shared: Arc<Shared>, client: Arc<Upstream>, req: Request<Incoming>) -> Response<Body> {
    let arrived = Instant::now();
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    // `/<token>/<provider>[/v1]/<rest>`; anything else is a reachability probe.
    let mut parts = path_and_query.trim_start_matches('/').splitn(3, '/');
    let (token, provider) =
        (parts.next().unwrap_or_default().to_string(), parts.next().and_then(Provider::from_segment));
    let Some(provider) = provider else {
        return full(if req.method() == Method::HEAD { 200 } else { 404 }, "text/plain", "plan model gateway\n");
    };
    let prefix = format!("/{token}/{}", provider.agent_suffix());
    let rest = path_and_query.strip_prefix(&prefix).unwrap_or("/").to_string();
    if req.method() == Method::HEAD {
        return full(200, "text/plain", "");
    }
    let api = Api::of(&rest);
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_REQUEST).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(provider, 413, "plan's model gateway: the request is too large or was cut off"),
    };
    let (request, rewritten) = api::inspect(api, &body);
    let admitted = shared.admit_request(&token, request.model.as_deref(), api.is_turn());
    let recorded_request = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let (owner, n) = match admitted {
        Ok(a) => a,
        Err(why) => {
            let (status, body) = provider.error(if why.starts_with("unknown") { 401 } else { 400 }, &why);
            if let Some(owner) = shared
                .tickets
                .lock()
                .ok()
                .and_then(|t| t.get(&token).map(|t| (t.node.clone(), t.agent.clone(), t.attempt)))
            {
                let ex = Exchange {
                    node: owner.0,
                    agent: owner.1,
                    attempt: owner.2,
                    provider: provider.segment().into(),
                    path: rest.clone(),
                    model: request.model.clone(),
                    status,
                    refused: Some(why.clone()),
                    ms: arrived.elapsed().as_millis() as u64,
                    request: redacted(recorded_request),
                    response: body.to_string(),
                    ..Exchange::default()
                };
                shared.log.append(&ex);
            }
            return full(status, "application/json", body.to_string());
        }
    };
    let exchange = Exchange {
        node: owner.node,
        agent: owner.agent,
        attempt: owner.attempt,
        n,
        provider: provider.segment().into(),
        path: rest.clone(),
        model: request.model.clone(),
        request: redacted(recorded_request),
        ..Exchange::default()
    };
    if let Some(replay) = &shared.replay {
        let answer = replay.answer(&exchange);
        return passed_on(shared, token, exchange, api, answer, arrived, Duration::ZERO, 0, None);
    }
    let Some(upstream) = shared.upstreams.get(&provider) else {
        return error(provider, 502, "plan's model gateway has no upstream for this provider");
    };
    let url = format!("{}{rest}", upstream.base);
    let body = rewritten.map_or(body, Bytes::from);
    let limiter = shared.limiter(provider);
    let mut waited = Duration::ZERO;
    let mut throttled = 0u32;
    loop {
        let queued = Instant::now();
        let slot = limiter.slot().await;
        waited += queued.elapsed();
        let mut out = Request::builder().method(parts.method.clone()).uri(&url);
        if let Some(h) = out.headers_mut() {
            copy_request_headers(&parts.headers, h);
            if let Some((key, header)) = &upstream.key {
                set_key(h, key, *header);
            }
        }
        let Ok(out) = out.body(Full::new(body.clone())) else {
            return error(provider, 400, "plan's model gateway cannot form the upstream request");
        };
        let answer = match client.request(out).await {
            Ok(a) => a,
            Err(e) => {
                let why = format!("plan's model gateway cannot reach {}: {e}", upstream.base);
                let mut ex = exchange;
                ex.status = 502;
                ex.response = why.clone();
                ex.ms = arrived.elapsed().as_millis() as u64;
                shared.settle(&token, ex, None, None, waited, throttled);
                return error(provider, 502, &why);
            }
        };
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            let wait = limiter.throttled(answer.headers(), slot.in_flight);
            drop(slot);
            throttled += 1;
            let _ = answer.into_body().collect().await;
            let line = format!(
                "gateway: {} is rate limited (429): this request waits {:.1}s, others of the run share the limit",
                provider.segment(),
                wait.as_secs_f64()
            );
            shared.note(&exchange.node, &line);
            tokio::time::sleep(wait).await;
            waited += wait;
            continue;
        }
        limiter.answered(answer.headers(), slot.in_flight);
        let upstream_answer = Answer::Live(answer);
        return passed_on(shared, token, exchange, api, upstream_answer, arrived, waited, throttled, Some(slot));
    }
}

/// An answer to pass on: from upstream, or from a recording.
pub(super) enum Answer {
    Live(Response<Incoming>),
    Recorded { status: u16, content_type: Option<String>, body: String },
}

/// Passes an answer to the CLI as it comes, metering it; settles it at its end.
#[allow(clippy::too_many_arguments)]
fn passed_on(
    shared: Arc<Shared>,
    token: String,
    mut exchange: Exchange,
    api: Api,
    answer: Answer,
    arrived: Instant,
    waited: Duration,
    throttled: u32,
    slot: Option<super::limiter::Slot>,
) -> Response<Body> {
    let (status, headers, mut body): (u16, HeaderMap, Option<Incoming>) = match answer {
        Answer::Live(r) => {
            let (p, b) = r.into_parts();
            (p.status.as_u16(), p.headers, Some(b))
        }
        Answer::Recorded { status, content_type, body } => {
            let mut h = HeaderMap::new();
            if let Some(v) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                h.insert(http::header::CONTENT_TYPE, v);
            }
            exchange.response = body;
            (status, h, None)
        }
    };
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let streamed = content_type.as_deref().is_some_and(|c| c.starts_with("text/event-stream"));
    exchange.status = status;
    exchange.content_type = content_type;
    let metered = api.is_turn() && (200..300).contains(&status);
    let mut meter = Meter::new(api, streamed);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
    tokio::spawn(async move {
        let _slot = slot;
        let mut kept: Vec<u8> = std::mem::take(&mut exchange.response).into_bytes();
        if let Some(b) = body.as_mut() {
            while let Some(frame) = b.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(data) = frame.data_ref() {
                    meter.feed(data);
                    kept.extend_from_slice(data);
                    // A CLI that went away does not stop the metering.
                    let _ = tx.send(Ok(Frame::data(data.clone()))).await;
                }
            }
        } else {
            meter.feed(&kept);
            let _ = tx.send(Ok(Frame::data(Bytes::from(kept.clone())))).await;
        }
        drop(tx);
        let usage = if metered { meter.finish() } else { None };
        exchange.response = crate::store::redact::redact(&String::from_utf8_lossy(&kept));
        exchange.ms = arrived.elapsed().as_millis() as u64;
        shared.settle(&token, exchange, meter.model.take(), usage, waited, throttled);
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    let mut response = Response::new(StreamBody::new(stream).boxed());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (k, v) in headers.iter() {
        if !HOP_BY_HOP.contains(&k.as_str()) && k != http::header::CONTENT_LENGTH {
            response.headers_mut().append(k.clone(), v.clone());
        }
    }
    response
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The CLI's headers, less its placeholder key, the hop-by-hop ones and compression
/// (the gateway reads answers as they pass).
fn copy_request_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (k, v) in from.iter() {
        let name = k.as_str();
        let skip = HOP_BY_HOP.contains(&name)
            || matches!(
                name,
                "host" | "content-length" | "accept-encoding" | "x-api-key" | "authorization" | "proxy-connection"
            );
        if !skip {
            to.append(k.clone(), v.clone());
        }
    }
}

fn set_key(headers: &mut HeaderMap, key: &str, how: KeyHeader) {
    let (name, value) = match how {
        KeyHeader::XApiKey => ("x-api-key", key.to_string()),
        KeyHeader::Bearer => ("authorization", format!("Bearer {key}")),
    };
    if let Ok(mut v) = HeaderValue::from_str(&value) {
        v.set_sensitive(true);
        headers.insert(name, v);
    }
}

/// A request body for the record: secrets replaced.
fn redacted(v: Value) -> Value {
    let text = v.to_string();
    let clean = crate::store::redact::redact(&text);
    if clean == text {
        v
    } else {
        serde_json::from_str(&clean).unwrap_or(Value::String(clean))
    }
}

/// A request by agent, attempt and place among the attempt's requests.
type Asked = (String, u32, u32);

/// A recorded answer: status, content type, body.
type Recorded = (u16, Option<String>, String);

/// A recorded run to answer from, by agent, attempt and request.
pub(super) struct Replay {
    answers: HashMap<Asked, Recorded>,
    old_root: String,
    new_root: String,
}

impl Replay {
    pub(super) fn load(file: &Path, old_root: &Path, new_root: &Path) -> Replay {
        let answers = exchanges::read(file)
            .into_iter()
            .filter(|e| e.refused.is_none())
            .map(|e| ((e.node, e.attempt, e.n), (e.status, e.content_type, e.response)))
            .collect();
        let root = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string();
        Replay { answers, old_root: root(old_root), new_root: root(new_root) }
    }

    /// The recorded answer to the same request of the same attempt; the recorded
    /// run's directory named as this run's.
    fn answer(&self, e: &Exchange) -> Answer {
        match self.answers.get(&(e.node.clone(), e.attempt, e.n)) {
            Some((status, content_type, body)) => Answer::Recorded {
                status: *status,
                content_type: content_type.clone(),
                body: body.replace(&self.old_root, &self.new_root),
            },
            None => {
                let why = format!(
                    "plan run --replay: the recording has no request {} of attempt {} of `{}`",
                    e.n + 1,
                    e.attempt,
                    e.node
                );
                let provider = Provider::from_segment(&e.provider).unwrap_or(Provider::Anthropic);
                let (status, body) = provider.error(400, &why);
                Answer::Recorded { status, content_type: Some("application/json".into()), body: body.to_string() }
            }
        }
    }
}
