//! Prometheus metrics at `GET /metrics`: requests by route and status, request latency, verdicts,
//! and which model is loaded.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::engine::Verdict;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    verdicts: IntCounterVec,
    model: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "saring_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "saring_http_request_duration_seconds",
                "HTTP request latency",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
            &["route"],
        )?;
        let verdicts = IntCounterVec::new(
            Opts::new("saring_verdicts_total", "Comments scored, by verdict"),
            &["verdict"],
        )?;
        let model = IntGaugeVec::new(
            Opts::new("saring_model_info", "The model in use (value 1)"),
            &["id"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(verdicts.clone()))?;
        registry.register(Box::new(model.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            verdicts,
            model,
        })
    }

    pub fn verdict(&self, verdict: Verdict) {
        self.verdicts.with_label_values(&[verdict.as_str()]).inc();
    }

    /// Records which model is in use, forgetting the previous one.
    pub fn model_loaded(&self, id: &str) {
        self.model.reset();
        self.model.with_label_values(&[id]).set(1);
    }

    fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding to a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// Middleware: counts and times every request by its route (its resource's name, which is its
/// pattern: not its raw path, so unknown paths do not create new series).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let metrics = req.app_data::<web::Data<super::state::AppState>>().cloned();
    let resp = next.call(req).await?;
    if let Some(state) = metrics {
        let route = resp.request().match_name().unwrap_or("unmatched");
        state
            .metrics
            .requests
            .with_label_values(&[route, resp.status().as_str()])
            .inc();
        state
            .metrics
            .latency
            .with_label_values(&[route])
            .observe(start.elapsed().as_secs_f64());
    }
    Ok(resp)
}

pub async fn metrics(state: web::Data<super::state::AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
