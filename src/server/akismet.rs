//! The Akismet REST protocol, as real clients speak it, so existing blog software works with saring by
//! changing only the host: `/1.1/verify-key`, `/1.1/comment-check`, `/1.1/submit-spam`,
//! `/1.1/submit-ham` and `/1.2/usage-limit`.
//!
//! Requests are form-encoded; the body is read as a form whatever the Content-Type says. The key may
//! come as `api_key`, as `key` (verify-key), or as the first label of the Host (`KEY.rest.example`).
//! Unknown fields and PHP-style array fields (`comment_context[0]`) are accepted and ignored. Answers
//! are Akismet's: plain-text bodies and `X-akismet-*` headers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::routes::{check, read_body, store_feedback, take_token};
use super::state::AppState;
use crate::engine::{Comment, Label, Verdict};

const THANKS: &str = "Thanks for making the web a better place.";
const BAD_KEY_HELP: &str =
    "The API key is missing or not one of this saring's keys (SARING_API_KEYS).";

pub fn configure(cfg: &mut web::ServiceConfig) {
    // POST, as Akismet documents (usage-limit also GET): a plain link or image naming a key cannot
    // check or report comments.
    let post = |path, route: actix_web::Route| {
        web::resource(path)
            .name(path)
            .route(route)
            .default_service(web::to(wrong_method))
    };
    cfg.service(post("/1.1/verify-key", web::post().to(verify_key)))
        .service(post("/1.1/comment-check", web::post().to(comment_check)))
        .service(post("/1.1/submit-spam", web::post().to(submit_spam)))
        .service(post("/1.1/submit-ham", web::post().to(submit_ham)))
        .service(
            post("/1.2/usage-limit", web::post().to(usage_limit)).route(web::get().to(usage_limit)),
        );
}

/// Any method but POST (and GET for usage-limit) on an Akismet route.
async fn wrong_method() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header(("Allow", "POST"))
        .insert_header((
            "X-akismet-debug-help",
            "Akismet requests are POST requests.",
        ))
        .content_type("text/plain; charset=utf-8")
        .body("invalid")
}

/// Comment checks answered since the service started (for usage-limit).
static CHECKS: AtomicU64 = AtomicU64::new(0);

/// The fields of a request: the query string, then the form body (later values win).
struct Fields(HashMap<String, String>);

impl Fields {
    async fn read(
        req: &HttpRequest,
        payload: web::Payload,
        state: &AppState,
    ) -> Result<Fields, HttpResponse> {
        let body = read_body(req, payload, state, state.settings.limits.max_body_bytes)
            .await
            .map_err(|e| plain(e.status, "invalid", &e.message))?;
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = form_pairs(req.query_string().as_bytes())
            .chain(form_pairs(&body))
            .collect();
        // WordPress sends `blog_charset`; a blog that is not UTF-8 sends its bytes in that charset.
        let charset = pairs
            .iter()
            .rev()
            .find(|(k, _)| k == b"blog_charset")
            .and_then(|(_, v)| encoding_rs::Encoding::for_label(v.trim_ascii()))
            // A form body is ASCII with %-escapes: a charset that does not keep ASCII as it is
            // (UTF-16, ISO-2022-*, HZ) cannot be what it was written in, and would garble the key.
            .filter(|e| e.is_ascii_compatible())
            .unwrap_or(encoding_rs::UTF_8);
        let mut map = HashMap::new();
        for (k, v) in pairs {
            let key = String::from_utf8_lossy(&k).into_owned();
            let (value, _) = charset.decode_without_bom_handling(&v);
            map.insert(key, value.into_owned());
        }
        Ok(Fields(map))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// The comment the fields describe.
    fn comment(&self) -> Comment {
        Comment {
            id: None,
            content: self.owned("comment_content").unwrap_or_default(),
            author: self.owned("comment_author"),
            author_email: self.owned("comment_author_email"),
            author_url: self.owned("comment_author_url"),
            kind: self.owned("comment_type"),
            user_ip: self.owned("user_ip"),
            user_agent: self.owned("user_agent"),
            referrer: self.owned("referrer").or_else(|| self.owned("referer")),
            permalink: self.owned("permalink"),
            post_title: None,
            lang: self.owned("blog_lang"),
            date: self.owned("comment_date_gmt"),
            parent: None,
            label: None,
        }
    }

    fn is_test(&self) -> bool {
        matches!(self.get("is_test"), Some("1" | "true"))
    }
}

/// The `key=value` pairs of a form, percent-decoded to bytes (`+` is a space).
fn form_pairs(form: &[u8]) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    form.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[..0]),
            };
            let decode = |s: &[u8]| {
                let spaced: Vec<u8> = s
                    .iter()
                    .map(|&b| if b == b'+' { b' ' } else { b })
                    .collect();
                percent_encoding::percent_decode(&spaced).collect::<Vec<u8>>()
            };
            (decode(k), decode(v))
        })
}

/// The API key: `api_key`, `key`, or the first label of the Host.
fn key<'a>(req: &'a HttpRequest, fields: &'a Fields) -> Option<String> {
    if let Some(k) = fields.get("api_key").or_else(|| fields.get("key")) {
        return Some(k.to_owned());
    }
    let host = req.headers().get("host")?.to_str().ok()?;
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    (labels.len() >= 3 && !labels[0].is_empty()).then(|| labels[0].to_owned())
}

fn key_is_valid(key: Option<&str>, state: &AppState) -> bool {
    if state.settings.open_access() {
        return true;
    }
    key.is_some_and(|k| state.settings.is_api_key(k))
}

fn plain(status: StatusCode, body: &str, help: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("X-akismet-debug-help", help.to_owned()))
        .content_type("text/plain; charset=utf-8")
        .body(body.to_owned())
}

fn text(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// Reads a request's fields and admits it: a token from its rate limit, then a valid key. A request
/// refused gets its answer as the error.
async fn admit(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Fields, HttpResponse> {
    let fields = Fields::read(req, payload, state).await?;
    let key = key(req, &fields);
    if let Some(throttled) = throttle(req, key.as_deref(), state) {
        return Err(throttled);
    }
    if !key_is_valid(key.as_deref(), state) {
        return Err(plain(StatusCode::OK, "invalid", BAD_KEY_HELP));
    }
    Ok(fields)
}

/// Takes a token from the request's rate limit ([`take_token`]); a 429 once none is left.
fn throttle(req: &HttpRequest, key: Option<&str>, state: &AppState) -> Option<HttpResponse> {
    let wait = take_token(req, key, state).err()?;
    Some(
        HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", wait.to_string()))
            .insert_header(("X-akismet-alert-code", "10003"))
            .insert_header(("X-akismet-alert-msg", "Rate limit exceeded; retry later."))
            .content_type("text/plain; charset=utf-8")
            // Neither "true" nor "false": WordPress holds the comment and asks again later.
            .body("throttled"),
    )
}

async fn verify_key(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    match admit(&req, payload, &state).await {
        Ok(_) => text("valid"),
        Err(refused) => refused,
    }
}

async fn comment_check(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let fields = match admit(&req, payload, &state).await {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    // Akismet requires these two and answers their absence as below: neither `true` nor `false`, so
    // WordPress holds the comment for moderation instead of letting it through unchecked.
    for field in ["blog", "user_ip"] {
        if fields.get(field).is_none_or(|v| v.trim().is_empty()) {
            return plain(
                StatusCode::OK,
                &format!("Missing required field: {field}."),
                "comment-check requires `blog` (the blog's URL) and `user_ip` (the commenter's IP address).",
            );
        }
    }
    let comment = fields.comment();
    let max = state.settings.limits.max_comment_bytes;
    if comment.content.len() > max {
        return plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid",
            &format!("comment_content is longer than {max} bytes"),
        );
    }
    CHECKS.fetch_add(1, Ordering::Relaxed);
    let guid = guid(&comment);
    let respond = |spam: bool, discard: bool, error: Option<&str>| {
        let mut resp = HttpResponse::Ok();
        resp.content_type("text/plain; charset=utf-8")
            .insert_header(("X-akismet-guid", guid.clone()));
        if discard {
            resp.insert_header(("X-akismet-pro-tip", "discard"));
        }
        if let Some(e) = error {
            resp.insert_header(("X-akismet-error", e.to_owned()));
        }
        resp.body(if spam { "true" } else { "false" })
    };
    // Akismet's documented test values.
    if fields.get("comment_author") == Some("viagra-test-123")
        || fields.get("comment_author_email") == Some("akismet-guaranteed-spam@example.com")
    {
        return respond(true, false, None);
    }
    if fields.get("user_role") == Some("administrator") {
        return respond(false, false, None);
    }
    // Akismet answers carry no reasons: none are worked out.
    let result = check(&state.model(), &comment, 0);
    state.metrics.verdict(result.verdict);
    match result.verdict {
        Verdict::Spam => respond(true, result.discard, None),
        Verdict::Ham => respond(false, false, None),
        // Akismet has no "unsure": answer not-spam with an error, which holds it for moderation.
        Verdict::Unsure => respond(false, false, Some("unsure: hold for moderation")),
    }
}

/// An id for the checked comment, stored by WordPress with it.
fn guid(comment: &Comment) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = CHECKS.load(Ordering::Relaxed);
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&nanos.to_le_bytes());
    h.update(&n.to_le_bytes());
    h.update(comment.content.as_bytes());
    let a = h.digest128();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (a >> 96) as u32,
        (a >> 80) as u16,
        (a >> 64) as u16,
        (a >> 48) as u16,
        a as u64 & 0xFFFF_FFFF_FFFF
    )
}

async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    label: Label,
) -> HttpResponse {
    let fields = match admit(&req, payload, &state).await {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    if fields.is_test() {
        return text(THANKS);
    }
    let comment = fields.comment();
    if comment.content.len() > state.settings.limits.max_comment_bytes {
        return plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid",
            "comment_content is too long",
        );
    }
    match store_feedback(&state.into_inner(), comment, label, "akismet").await {
        Ok(_) => text(THANKS),
        Err(e) => plain(e.status, "error", &e.message),
    }
}

async fn submit_spam(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    submit(req, payload, state, Label::Spam).await
}

async fn submit_ham(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    submit(req, payload, state, Label::Ham).await
}

async fn usage_limit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    // Rate-limited like the other routes: a wrong key answered here must not be a free oracle.
    if let Err(resp) = admit(&req, payload, &state).await {
        return resp;
    }
    HttpResponse::Ok().json(serde_json::json!({
        "limit": "none",
        "usage": CHECKS.load(Ordering::Relaxed),
        "percentage": "0.00",
        "throttled": false,
    }))
}
