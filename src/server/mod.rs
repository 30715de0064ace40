//! The HTTP service on actix-web: saring's JSON API (`/v1/…`), the Akismet-compatible API (`/1.1/…`)
//! and the service routes (`/healthz`, `/readyz`). [`Server::build`] is what `saring serve` and the tests both run.

pub mod akismet;
pub mod error;
pub mod metrics;
pub mod rate_limit;
pub mod routes;
pub mod state;
pub mod unfinished;

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::http::{header, Method};
use actix_web::{guard, web, App, HttpServer};
use anyhow::Context;

use crate::config::Settings;
use crate::engine::ModelFile;
use crate::feedback::FeedbackStore;
use state::AppState;

/// Writes one line to the service's log (standard error). A log that cannot be written (a pipe whose
/// reader is gone, a full disk) is no reason to fail a request or a graceful stop: the line is dropped.
pub(crate) fn log(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "saring: {line}");
}

/// One route on `path`, taking `method`, and a JSON 405 naming it (`Allow`) for any other.
fn resource<F, Args>(path: &str, method: Method, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    let route = if method == Method::GET {
        // HEAD wherever GET: the same answer without its body.
        web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
    } else {
        web::route().guard(guard::Method(method.clone()))
    };
    let allow = if method == Method::GET {
        "GET, HEAD".to_owned()
    } else {
        method.to_string()
    };
    // Named after its pattern: the metrics read a request's route from its resource's name.
    web::resource(path)
        .name(path)
        .route(route.to(handler))
        .default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                let mut resp = actix_web::ResponseError::error_response(
                    &error::ApiError::method_not_allowed(),
                );
                if let Ok(value) = header::HeaderValue::from_str(&allow) {
                    resp.headers_mut().insert(header::ALLOW, value);
                }
                resp
            }
        }))
}

/// saring's JSON API and the service routes.
fn routes_of_the_api(cfg: &mut web::ServiceConfig) {
    use Method as M;
    cfg.service(resource("/metrics", M::GET, metrics::metrics))
        .service(resource("/v1/openapi.json", M::GET, routes::openapi))
        .service(resource("/v1/check", M::POST, routes::score_comment))
        .service(resource("/v1/check/batch", M::POST, routes::score_batch))
        .service(resource("/v1/feedback", M::POST, routes::record_feedback))
        .service(resource("/v1/model", M::GET, routes::model_info))
        .service(resource("/v1/model/reload", M::POST, routes::reload_model))
        .service(resource("/healthz", M::GET, routes::healthz))
        .service(resource("/readyz", M::GET, routes::readyz));
}

/// A bound, not yet running, server.
pub struct Server {
    inner: actix_web::dev::Server,
    addr: SocketAddr,
}

impl Server {
    /// Loads the model and binds the address (port 0 picks a free port). Without API keys it binds
    /// loopback only, whatever address was asked for, and says so.
    pub fn build(mut settings: Settings) -> anyhow::Result<Server> {
        let model = ModelFile::load(&settings.model)?;
        let feedback = FeedbackStore::open(&settings.data_dir.join("feedback.sqlite"))?;
        if settings.open_access() {
            if !settings.listen.ip().is_loopback() {
                settings.listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            log(format_args!(
                "no API key configured (SARING_API_KEYS): open access, listening on loopback only"
            ));
        }
        let serving = format!("{} from {}", model.id(), settings.model.display());
        let listen = settings.listen;
        let timeout = Duration::from_secs(settings.limits.request_timeout_secs);
        let workers = settings.workers;
        let metrics = metrics::Metrics::new().context("setting up metrics")?;
        let state = web::Data::new(AppState::new(settings, model, feedback, metrics));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(metrics::track))
                .wrap(actix_web::middleware::from_fn(
                    unfinished::close_if_unfinished,
                ))
                .configure(routes_of_the_api)
                .configure(akismet::configure)
                .default_service(web::to(routes::not_found))
        })
        .client_request_timeout(timeout)
        .shutdown_timeout(30)
        // actix stops at once on SIGINT, cutting requests in flight: saring handles both signals
        // itself (`run_until_stopped`).
        .disable_signals();
        if workers > 0 {
            server = server.workers(workers);
        }
        let server = server
            .bind(listen)
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = server
            .addrs()
            .first()
            .copied()
            .context("the server has no address")?;
        log(format_args!("serving model {serving}"));
        Ok(Server {
            inner: server.run(),
            addr,
        })
    }

    /// The address actually bound (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until SIGINT or SIGTERM; requests in flight are allowed to finish (for up to 30 s). A
    /// second signal stops at once.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.inner.handle();
        let server = self.inner;
        tokio::pin!(server);
        let Some(mut signals) = StopSignals::new() else {
            return server.await;
        };
        tokio::select! {
            done = &mut server => return done,
            _ = signals.next() => {}
        }
        log(format_args!(
            "stopping: requests in flight finish (30 s at most; a second signal stops at once)"
        ));
        actix_web::rt::spawn(handle.stop(true));
        tokio::select! {
            done = &mut server => done,
            // actix finishes a graceful stop before it reads another command: the server is
            // dropped instead, which stops its workers, and the process ends.
            _ = signals.next() => Ok(()),
        }
    }
}

/// SIGINT and SIGTERM (Ctrl-C, `kill`, a service manager's stop).
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    #[cfg(unix)]
    fn new() -> Option<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(StopSignals {
            term: signal(SignalKind::terminate()).ok()?,
            int: signal(SignalKind::interrupt()).ok()?,
        })
    }

    #[cfg(unix)]
    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }

    #[cfg(not(unix))]
    fn new() -> Option<Self> {
        Some(StopSignals {})
    }

    #[cfg(not(unix))]
    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
