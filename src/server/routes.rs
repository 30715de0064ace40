//! Handlers of saring's own JSON API and the service routes.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::state::AppState;
use crate::engine::calibrate::sigmoid;
use crate::engine::{Comment, FeatureExtractor, Label, Reason, SpamModel, Verdict};
use crate::feedback::FeedbackError;

/// Reasons given per comment unless the request asks for another number (`?reasons=N`).
pub const DEFAULT_REASONS: usize = 3;
/// Most reasons a request may ask for.
pub const MAX_REASONS: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckQuery {
    reasons: Option<usize>,
}

/// How many reasons a `/v1/check…` request asks for: `?reasons=N`, 0 to [`MAX_REASONS`].
fn reasons_asked(req: &HttpRequest) -> Result<usize, ApiError> {
    let invalid = |detail: String| {
        ApiError::bad_request(
            "invalid_query",
            format!("the query takes only `reasons=N`, N from 0 to {MAX_REASONS}: {detail}"),
        )
    };
    let query = web::Query::<CheckQuery>::from_query(req.query_string())
        .map_err(|e| invalid(e.to_string()))?;
    match query.reasons {
        None => Ok(DEFAULT_REASONS),
        Some(n) if n <= MAX_REASONS => Ok(n),
        Some(n) => Err(invalid(format!("{n} asked"))),
    }
}

/// `POST /v1/check` and each result of `/v1/check/batch`.
#[derive(Serialize)]
pub struct CheckResult {
    pub score: f64,
    pub verdict: Verdict,
    pub discard: bool,
    pub reasons: Vec<Reason>,
    pub model: String,
}

/// Scores one comment with the model given, with its `reasons` heaviest reasons.
pub fn check(model: &SpamModel, comment: &Comment, reasons: usize) -> CheckResult {
    // Each worker keeps its extractor (its memo of words, its buffer of ids) from request to request.
    let (score, reasons) = FeatureExtractor::with_thread_local(|extractor| {
        extractor
            .with_ids_buffer(|extractor, ids| model.explain_into(comment, extractor, ids, reasons))
    });
    CheckResult {
        score: score.score,
        verdict: score.verdict,
        discard: score.discard,
        reasons,
        model: model.id().to_owned(),
    }
}

/// Takes a token from the rate limit of whoever makes the request: its API key when that is a
/// configured key, otherwise the client's address (no keys configured, or a wrong or missing key:
/// guessing keys is throttled too). When none is left: in how many whole seconds one will be.
pub fn take_token(req: &HttpRequest, key: Option<&str>, state: &AppState) -> Result<(), u64> {
    if !state.rate_limit.is_on() {
        return Ok(());
    }
    let who = match key {
        Some(k) if state.settings.is_api_key(k) => k.to_owned(),
        _ => req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
    };
    state.rate_limit.check(&who)
}

/// Takes a token from the request's rate limit ([`take_token`]), then checks
/// `Authorization: Bearer KEY` when keys are configured.
pub fn authorize(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let key = bearer(req);
    take_token(req, key, state).map_err(ApiError::too_many_requests)?;
    if state.settings.open_access() {
        return Ok(());
    }
    match key {
        Some(k) if state.settings.is_api_key(k) => Ok(()),
        Some(_) => Err(ApiError::unauthorized("the API key is not valid")),
        None => Err(ApiError::unauthorized(
            "send an API key as `Authorization: Bearer KEY`",
        )),
    }
}

fn authorize_admin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let Some(token) = &state.settings.admin_token else {
        return Err(ApiError::forbidden(
            "admin routes are disabled: set SARING_ADMIN_TOKEN",
        ));
    };
    match bearer(req) {
        Some(t) if token.matches(t) => Ok(()),
        _ => Err(ApiError::unauthorized(
            "admin routes need `Authorization: Bearer ADMIN_TOKEN`",
        )),
    }
}

/// The credentials of `Authorization: Bearer KEY` (the scheme's name in any case, as HTTP has it).
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

/// Reads a request body of at most `limit` bytes, within the request timeout (a client that trickles
/// its body gets a 408, as one too slow with its headers does).
pub async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let secs = state.settings.limits.request_timeout_secs;
    tokio::time::timeout(
        std::time::Duration::from_secs(secs),
        read_body_untimed(req, payload, limit),
    )
    .await
    .unwrap_or_else(|_| {
        Err(ApiError::new(
            actix_web::http::StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request body did not arrive within {secs} s"),
        ))
    })
}

async fn read_body_untimed(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let too_large =
        || ApiError::too_large(format!("the request body is larger than {limit} bytes"));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // Reserved up front for what is declared, but no more than 1 MiB: a length is only a promise, and
    // reserving a huge one before any byte came would let one header exhaust the memory.
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit).min(1 << 20));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request("bad_body", format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A request body as text: a 400 `invalid_utf8` when it is not UTF-8.
fn utf8(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request("invalid_utf8", format!("the body is not UTF-8: {e}")))
}

/// Parses one comment from JSON and checks it against the limits.
fn parse_comment(bytes: &[u8], state: &AppState) -> Result<Comment, ApiError> {
    let text = utf8(bytes)?;
    let comment: Comment = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data if e.to_string().contains("missing field `content`") => {
            ApiError::unprocessable("missing_content", "the comment has no `content`")
        }
        serde_json::error::Category::Data => {
            ApiError::unprocessable("invalid_comment", e.to_string())
        }
        _ => ApiError::bad_request("invalid_json", e.to_string()),
    })?;
    let max = state.settings.limits.max_comment_bytes;
    if comment.content.len() > max {
        return Err(ApiError::too_large(format!(
            "the comment is {} bytes long; the limit is {max}",
            comment.content.len()
        )));
    }
    Ok(comment)
}

pub async fn score_comment(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let reasons = reasons_asked(&req)?;
    let body = read_body(&req, payload, &state, state.settings.limits.max_body_bytes).await?;
    let comment = parse_comment(&body, &state)?;
    let model = state.model();
    let result = check(&model, &comment, reasons);
    state.metrics.verdict(result.verdict);
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Serialize)]
struct BatchResult {
    results: Vec<CheckResult>,
}

/// `POST /v1/check/batch`: a JSON array of comments, or NDJSON (one comment per line).
pub async fn score_batch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let reasons = reasons_asked(&req)?;
    let limits = state.settings.limits;
    let body = read_body(&req, payload, &state, limits.max_batch_body_bytes).await?;
    let comments = parse_batch(&body, &state)?;
    let model = state.model();
    let results = web::block(move || {
        comments
            .iter()
            .map(|c| check(&model, c, reasons))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    for r in &results {
        state.metrics.verdict(r.verdict);
    }
    Ok(HttpResponse::Ok().json(BatchResult { results }))
}

fn parse_batch(body: &[u8], state: &AppState) -> Result<Vec<Comment>, ApiError> {
    let max = state.settings.limits.max_batch;
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let raw: Vec<&[u8]> = if first == Some(&b'[') {
        let items: Vec<&serde_json::value::RawValue> = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
        items.iter().map(|r| r.get().as_bytes()).collect()
    } else {
        body.split(|&b| b == b'\n')
            .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
            .collect()
    };
    if raw.len() > max {
        return Err(ApiError::too_large(format!(
            "{} comments in one batch; the limit is {max}",
            raw.len()
        )));
    }
    raw.iter()
        .enumerate()
        .map(|(i, bytes)| {
            parse_comment(bytes, state).map_err(|mut e| {
                e.message = format!("comment {i}: {}", e.message);
                e
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct FeedbackRequest {
    comment: Comment,
    label: Label,
}

/// Stores a moderator's verdict durably, then says so.
pub async fn store_feedback(
    state: &Arc<AppState>,
    comment: Comment,
    label: Label,
    source: &'static str,
) -> Result<i64, ApiError> {
    let state = state.clone();
    web::block(move || {
        state
            .feedback
            .record(&comment, label, source, crate::cli::now())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| {
        // The full error, with the file's path, goes to the log; the client learns what to do.
        super::log(format_args!("feedback not stored: {e}"));
        match e {
            FeedbackError::Busy { .. } => ApiError::unavailable(
                "feedback_busy",
                "feedback not stored: the database is locked by another process; try again",
                1,
            ),
            _ => ApiError::internal(
                "feedback not stored: the database could not be written (the server's log says why)",
            ),
        }
    })
}

/// `POST /v1/feedback`: `{"comment": {...}, "label": "spam" | "ham"}`.
pub async fn record_feedback(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let body = read_body(&req, payload, &state, state.settings.limits.max_body_bytes).await?;
    let text = utf8(&body)?;
    let request: FeedbackRequest = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::unprocessable("invalid_feedback", e.to_string())
        }
        _ => ApiError::bad_request("invalid_json", e.to_string()),
    })?;
    let max = state.settings.limits.max_comment_bytes;
    if request.comment.content.len() > max {
        return Err(ApiError::too_large(format!(
            "the comment is longer than {max} bytes"
        )));
    }
    let id = store_feedback(&state.into_inner(), request.comment, request.label, "api").await?;
    Ok(HttpResponse::Created().json(serde_json::json!({"stored": true, "id": id})))
}

#[derive(Serialize)]
pub struct ModelDescription {
    pub id: String,
    /// Seconds since the Unix epoch.
    pub trained_at: u64,
    pub spam_comments: u64,
    pub ham_comments: u64,
    pub features: usize,
    /// As calibrated probabilities.
    pub thresholds: ThresholdsDescription,
}

#[derive(Serialize)]
pub struct ThresholdsDescription {
    pub unsure: f64,
    pub spam: f64,
    pub discard: f64,
}

pub fn describe(model: &SpamModel) -> ModelDescription {
    let info = model.info();
    let t = model.thresholds();
    ModelDescription {
        id: model.id().to_owned(),
        trained_at: info.trained_at,
        spam_comments: info.spam_comments,
        ham_comments: info.ham_comments,
        features: model.vocabulary_size(),
        thresholds: ThresholdsDescription {
            unsure: sigmoid(t.unsure),
            spam: sigmoid(t.spam),
            discard: sigmoid(t.discard),
        },
    }
}

pub async fn model_info(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    Ok(HttpResponse::Ok().json(describe(&state.model())))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReloadRequest {
    /// Another model file to load instead of the configured one.
    path: Option<std::path::PathBuf>,
}

/// `POST /v1/model/reload` (admin): load the model file again, or another, and swap it in.
pub async fn reload_model(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // Throttled by address first: guessing the admin token is as slow as guessing a key.
    take_token(&req, None, &state).map_err(ApiError::too_many_requests)?;
    authorize_admin(&req, &state)?;
    let body = read_body(&req, payload, &state, 4096).await?;
    let request: ReloadRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReloadRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?
    };
    let state = state.into_inner();
    let loaded = web::block(move || -> Result<Arc<SpamModel>, String> {
        state
            .reload(request.path.as_deref())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    match loaded {
        Ok(model) => Ok(HttpResponse::Ok().json(describe(&model))),
        Err(reason) => Err(ApiError::unprocessable(
            "model_not_loaded",
            format!("{reason}; the previous model is still serving"),
        )),
    }
}

/// The OpenAPI document of this API (kept in the repository as `openapi.json`).
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(include_str!("../../openapi.json"))
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ready", "model": state.model().id()}))
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}
