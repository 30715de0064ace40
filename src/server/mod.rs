//! The HTTP service on actix-web: saring's JSON API (`/v1/…`), the Akismet-compatible API (`/1.1/…`)
//! and the service routes (`/healthz`, `/readyz`). [`Server::build`] is what `saring serve` and the tests both run.

pub mod akismet;
pub mod error;
pub mod metrics;
pub mod rate_limit;
pub mod routes;
pub mod state;

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::config::Settings;
use crate::engine::ModelFile;
use crate::feedback::FeedbackStore;
use state::AppState;

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
            eprintln!(
                "saring: no API key configured (SARING_API_KEYS): open access, listening on loopback only"
            );
        }
        let listen = settings.listen;
        let timeout = Duration::from_secs(settings.limits.request_timeout_secs);
        let workers = settings.workers;
        let metrics = metrics::Metrics::new().context("setting up metrics")?;
        let state = web::Data::new(AppState::new(settings, model, feedback, metrics));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(metrics::track))
                .service(
                    web::resource("/metrics")
                        .route(web::get().to(metrics::metrics))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/v1/openapi.json")
                        .route(web::get().to(routes::openapi))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/v1/check")
                        .route(web::post().to(routes::score_comment))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/v1/check/batch")
                        .route(web::post().to(routes::score_batch))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/v1/feedback")
                        .route(web::post().to(routes::record_feedback))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/v1/model")
                        .route(web::get().to(routes::model_info))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/v1/model/reload")
                        .route(web::post().to(routes::reload_model))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/healthz")
                        .route(web::get().to(routes::healthz))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/readyz")
                        .route(web::get().to(routes::readyz))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .configure(akismet::configure)
                .default_service(web::to(routes::not_found))
        })
        .client_request_timeout(timeout)
        .shutdown_timeout(30);
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
        Ok(Server {
            inner: server.run(),
            addr,
        })
    }

    /// The address actually bound (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until SIGINT or SIGTERM; requests in flight are allowed to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.inner.await
    }
}
