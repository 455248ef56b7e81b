//! The HTTP API on `[http] listen`: Prometheus metrics, readiness, health-check status,
//! explain, manual overrides, reload.
//!
//! Reads are open (unless `token_for_reads`); writes need `Authorization: Bearer <token>`
//! with the token of `[http] token_file`, and without a configured token they always
//! answer 403. `page`: the status page at `/`.

mod page;

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use serde_json::json;

use crate::cluster::Cluster;
use crate::config::{parse_duration, HttpConfig};
use crate::dns::explain;
use crate::health::{Engine, Override, OverrideError};
use crate::metrics::{Exporter, Gauges};
use crate::reload::Reloader;
use crate::server::accept::{accept_bounded, Limits};
use crate::snapshot::Live;

/// Connections served at once, and from one client: past that the oldest makes room
/// (finishing the request it serves), and a client alone cannot take them all.
const LIMITS: Limits = Limits {
    max: 64,
    per_client: 8,
};
/// A request's body must arrive within this.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// A client gets this long to send its headers, and a connection this long in all.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECTION_LIMIT: Duration = Duration::from_secs(60);
const MAX_BODY: usize = 64 * 1024;
/// The longest override: ten years (past the year 9999 a time cannot be written).
const MAX_OVERRIDE_TTL: Duration = Duration::from_secs(3650 * 86_400);
/// How often recorded probe durations are folded into their histograms.
const UPKEEP: Duration = Duration::from_secs(5);

pub struct Api {
    engine: Arc<Engine>,
    live: Arc<Live>,
    reloader: Arc<Reloader>,
    exporter: Exporter,
    token: Option<String>,
    /// Reads need the token too.
    token_for_reads: bool,
    /// Names accepted in `Host`, lower case (IP addresses and localhost always are).
    hosts: Vec<String>,
    cluster: Option<Arc<Cluster>>,
    /// The main runtime: reloads run there (new checks' probes belong to it).
    main: tokio::runtime::Handle,
}

type Reply = Response<Full<Bytes>>;

impl Api {
    /// `token`: the bearer token of the write endpoints, read with the config.
    pub fn new(
        engine: Arc<Engine>,
        live: Arc<Live>,
        reloader: Arc<Reloader>,
        exporter: Exporter,
        config: &HttpConfig,
        cluster: Option<Arc<Cluster>>,
    ) -> Api {
        Api {
            engine,
            live,
            reloader,
            exporter,
            token: config
                .token
                .as_ref()
                .map(|t| String::from_utf8_lossy(&t.0).into_owned()),
            token_for_reads: config.token_for_reads,
            hosts: config
                .hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            cluster,
            main: tokio::runtime::Handle::current(),
        }
    }

    /// The 421 for a `Host` that is not this server's: a name it was not told of (an
    /// address or localhost is always fine; so is no Host, from a client that is not a
    /// browser).
    fn misdirected(&self, req: &Request<Incoming>) -> Option<Reply> {
        let host = req.headers().get(hyper::header::HOST)?;
        let host = String::from_utf8_lossy(host.as_bytes()).to_ascii_lowercase();
        // Without the port: "name:9153", "192.0.2.1:9153", "[2001:db8::1]:9153".
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None if host.matches(':').count() == 1 => host.split(':').next().unwrap_or(""),
            None => host.as_str(),
        };
        let ours = name.parse::<IpAddr>().is_ok()
            || name == "localhost"
            || self.hosts.iter().any(|h| h == name);
        (!ours).then(|| {
            error(
                StatusCode::MISDIRECTED_REQUEST,
                format!("Host {name:?} is not this server's name: list it in [http] hosts (requests by other names, as a web page makes through DNS rebinding, are refused)"),
            )
        })
    }

    async fn handle(self: &Arc<Self>, req: Request<Incoming>, caller: IpAddr) -> Reply {
        let path = req.uri().path().to_string();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let method = req.method().clone();
        if let Some(refused) = self.misdirected(&req) {
            return refused;
        }
        let is_read = method == Method::GET && segments != ["healthz"];
        if self.token_for_reads && is_read {
            if let Some(denied) = self.denied(&req) {
                return denied;
            }
        }
        match (segments.as_slice(), &method) {
            (["metrics"], &Method::GET) => {
                // Off the API's thread: with many checks a render takes a while.
                let api = self.clone();
                tokio::task::spawn_blocking(move || api.metrics())
                    .await
                    .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "metrics failed\n"))
            }
            ([""], &Method::GET) => self.status_page(),
            (["api", "v1", "cluster"], &Method::GET) => match &self.cluster {
                Some(c) => reply(StatusCode::OK, json!(c.view())),
                None => error(
                    StatusCode::NOT_FOUND,
                    "this node is not in a cluster: no [cluster] in its config".into(),
                ),
            },
            (["api", "v1", "explain"], &Method::GET) => self.explain(req.uri().query(), caller),
            (["healthz"], &Method::GET) => match self.engine.is_ready() {
                true => text(StatusCode::OK, "ok\n"),
                false => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "starting: the first round of health checks is not done\n",
                ),
            },
            (["api", "v1", "health-checks"], &Method::GET) => reply(
                StatusCode::OK,
                json!({ "health_checks": self.engine.report() }),
            ),
            (["api", "v1", "health-checks", id, "override"], m)
                if m == Method::PUT || m == Method::DELETE =>
            {
                let id = id.to_string();
                if let Some(denied) = self.denied(&req) {
                    return denied;
                }
                match method {
                    Method::PUT => match read_json::<OverrideRequest>(req).await {
                        Ok(body) => self.set_override(&id, body),
                        Err(e) => e,
                    },
                    _ => match self.engine.clear_override(&id) {
                        Ok(cleared) => {
                            reply(StatusCode::OK, json!({ "id": id, "cleared": cleared }))
                        }
                        Err(e) => override_error(e),
                    },
                }
            }
            (["api", "v1", "reload"], &Method::POST) => match self.denied(&req) {
                Some(denied) => denied,
                None => self.reload().await,
            },
            (
                ["metrics"] | ["healthz"] | ["api", "v1", "health-checks" | "reload" | "explain"],
                _,
            )
            | (["api", "v1", "health-checks", _, "override"], _) => error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed on {path}"),
            ),
            _ => error(StatusCode::NOT_FOUND, format!("no such endpoint: {path}")),
        }
    }

    /// The 403 for a write without the right token, if it is one.
    fn denied(&self, req: &Request<Incoming>) -> Option<Reply> {
        let Some(token) = &self.token else {
            return Some(error(
                StatusCode::FORBIDDEN,
                "write endpoints are off: no [http] token_file is configured".into(),
            ));
        };
        let given = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        match constant_time_eq(given.trim().as_bytes(), token.as_bytes()) {
            true => None,
            false => Some(error(
                StatusCode::FORBIDDEN,
                "a valid bearer token is needed".into(),
            )),
        }
    }

    fn status_page(&self) -> Reply {
        let checks = self.engine.report();
        let snapshot = self.live.load();
        let zones = snapshot
            .zones
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| {
                let origin = z.origin.to_string();
                let hash = snapshot
                    .content
                    .digests
                    .iter()
                    .find(|(o, _)| *o == origin)
                    .map_or("-".to_string(), |(_, h)| h.clone());
                (origin, snapshot.serial(i), hash)
            })
            .collect();
        let html = page::render(&page::Page {
            node: self.engine.node(),
            ready: self.engine.is_ready(),
            zones,
            checks: &checks,
            cluster: self.cluster.as_ref().map(|c| c.view()),
        });
        let mut r = Response::new(Full::new(Bytes::from(html)));
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    }

    fn set_override(&self, id: &str, body: OverrideRequest) -> Reply {
        let status = match body.status.as_str() {
            "healthy" => true,
            "unhealthy" => false,
            other => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("status {other:?}: use \"healthy\" or \"unhealthy\""),
                )
            }
        };
        let ttl = match parse_duration(&body.ttl) {
            Ok(t) if t.is_zero() => {
                return error(StatusCode::BAD_REQUEST, "ttl must be above zero".into())
            }
            Ok(t) if t > MAX_OVERRIDE_TTL => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "ttl must be at most 87600h (ten years): an override is for maintenance, not for ever"
                        .into(),
                )
            }
            Ok(t) => t,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("ttl: {e}")),
        };
        if body.reason.trim().is_empty() {
            return error(
                StatusCode::BAD_REQUEST,
                "give a reason: it is logged and shown with the check".into(),
            );
        }
        let o = Override {
            status,
            reason: body.reason,
            expires: SystemTime::now() + ttl,
            written: Default::default(), // stamped by the engine
        };
        match self.engine.set_override(id, o) {
            Ok(()) => {
                let check = self.engine.report().into_iter().find(|c| c.id == id);
                reply(StatusCode::OK, json!({ "health_check": check }))
            }
            Err(e) => override_error(e),
        }
    }
}

impl Api {
    /// The Prometheus exposition, its gauges read from the state now (or the one
    /// rendered less than a second ago: parallel scrapes share one render).
    fn metrics(&self) -> Reply {
        let body = self.exporter.render(|| self.gauges());
        let mut r = Response::new(Full::new(body));
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        r
    }

    fn gauges(&self) -> Gauges {
        let checks = self.engine.report();
        let snapshot = self.live.load();
        let observers = checks
            .iter()
            .filter_map(|c| {
                let o = c.observers.as_ref()?;
                let up = o.iter().filter(|o| o.status == "healthy").count();
                Some((c.id.clone(), up, o.len() - up))
            })
            .collect();
        Gauges {
            observers,
            cluster: self.cluster.as_ref().map(|c| c.gauges()),
            overrides_active: checks.iter().filter(|c| c.forced.is_some()).count(),
            checks: checks
                .into_iter()
                .map(|c| (c.id, c.status == "healthy"))
                .collect(),
            zones: snapshot
                .zones
                .zones
                .iter()
                .enumerate()
                .map(|(i, z)| (z.origin.to_string(), snapshot.serial(i)))
                .collect(),
        }
    }

    fn explain(&self, query: Option<&str>, caller: IpAddr) -> Reply {
        let params: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let param = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if let Some((k, _)) = params
            .iter()
            .find(|(k, _)| !matches!(k.as_str(), "name" | "type" | "client"))
        {
            return error(
                StatusCode::BAD_REQUEST,
                format!("unknown parameter {k:?}: use name, type and client"),
            );
        }
        match explain::parse_query(param("name"), param("type"), param("client"), caller) {
            Ok((name, rtype, client)) => {
                let snapshot = self.live.load();
                let explained = explain::explain(&snapshot, &name, rtype, client);
                // The checks the path names, with who decided them (in a cluster, the
                // observers) and any override.
                let named: Vec<&String> = explained
                    .path
                    .iter()
                    .flat_map(|step| &step.candidates)
                    .filter_map(|c| c.health_check.as_ref())
                    .collect();
                let checks: Vec<_> = self
                    .engine
                    .report()
                    .into_iter()
                    .filter(|c| named.contains(&&c.id))
                    .collect();
                let mut body = json!(explained);
                body["health_checks"] = json!(checks);
                reply(StatusCode::OK, body)
            }
            Err(e) => error(StatusCode::BAD_REQUEST, e),
        }
    }

    /// What SIGHUP does; the answer says what happened: 200 with the counts, or 422 with
    /// every error at its file and line (the data in service stays).
    async fn reload(&self) -> Reply {
        if !self.engine.is_ready() {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "starting: reload once the first round of health checks is done".into(),
            );
        }
        // Every node of a cluster reloads too, whatever this one finds.
        if let Some(c) = &self.cluster {
            c.ask_reload();
        }
        let reloader = self.reloader.clone();
        let reloaded = self
            .main
            .spawn(async move { reloader.reload("API").await })
            .await;
        let Ok(reloaded) = reloaded else {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the reload failed".into(),
            );
        };
        match reloaded {
            Ok(done) => reply(
                StatusCode::OK,
                json!({ "result": "reloaded", "zones": done.zones, "read": done.read, "records": done.records }),
            ),
            Err(errors) => {
                let errors: Vec<_> = errors
                    .iter()
                    .map(|d| json!({ "file": d.file, "line": d.line, "message": d.message }))
                    .collect();
                reply(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({ "result": "rejected", "errors": errors }),
                )
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideRequest {
    status: String,
    ttl: String,
    reason: String,
}

fn override_error(e: OverrideError) -> Reply {
    let code = match e {
        OverrideError::UnknownCheck(_) => StatusCode::NOT_FOUND,
        OverrideError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(code, e.to_string())
}

async fn read_json<T: for<'de> Deserialize<'de>>(req: Request<Incoming>) -> Result<T, Reply> {
    let body = tokio::time::timeout(
        BODY_TIMEOUT,
        Limited::new(req.into_body(), MAX_BODY).collect(),
    )
    .await
    .map_err(|_| {
        error(
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {BODY_TIMEOUT:?}"),
        )
    })?
    .map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("cannot read the body: {e}"),
        )
    })?
    .to_bytes();
    serde_json::from_slice(&body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")))
}

fn reply(code: StatusCode, body: serde_json::Value) -> Reply {
    let mut bytes = serde_json::to_vec_pretty(&body).expect("JSON values serialize");
    bytes.push(b'\n');
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = code;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(code: StatusCode, message: String) -> Reply {
    reply(code, json!({ "error": message }))
}

fn text(code: StatusCode, body: &'static str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = code;
    r
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves the API on a thread of its own, with its own runtime; also folds the probe
/// durations into their histograms there.
pub fn spawn_thread(listener: std::net::TcpListener, api: Arc<Api>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return tracing::error!("the API cannot listen: {e}"),
                };
                tokio::spawn(metrics_upkeep(api.clone()));
                serve(listener, api).await
            })
        })?;
    Ok(())
}

/// Serves the API until the process ends. Each connection is bounded in time and in
/// number, so slow or garbage clients cost only themselves.
pub async fn serve(listener: tokio::net::TcpListener, api: Arc<Api>) {
    accept_bounded(listener, LIMITS, "http", |stream, peer, slot| {
        let api = api.clone();
        let caller = peer.ip();
        async move {
            let service = hyper::service::service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(req, caller).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            // Every HTTP connection may make room for a newcomer: it ends gracefully,
            // the request in flight answered.
            let mut conn = std::pin::pin!(conn);
            let ended = tokio::time::timeout(CONNECTION_LIMIT, async {
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = slot.closing() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.as_mut().await;
                    }
                }
            });
            let _ = ended.await;
        }
    })
    .await
}

/// Keeps the metrics' histograms folded between scrapes.
pub async fn metrics_upkeep(api: Arc<Api>) {
    loop {
        tokio::time::sleep(UPKEEP).await;
        api.exporter.run_upkeep();
    }
}
