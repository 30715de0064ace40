//! Black-box tests of the HTTP API: the real binary on a free port, talked to over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Trains a model on the tiny fixture corpus into `dir`.
fn train(dir: &Path, name: &str, input: &Path) -> PathBuf {
    let model = dir.join(name);
    let status = Command::new(env!("CARGO_BIN_EXE_saring"))
        .args(["train", "--input"])
        .arg(input)
        .arg("--model")
        .arg(&model)
        .stderr(Stdio::null())
        .status()
        .expect("train runs");
    assert!(status.success());
    model
}

/// A running `saring serve`, stopped when dropped.
struct TestServer {
    child: Child,
    base: String,
    client: Client,
    _dir: tempfile::TempDir,
    model: PathBuf,
    /// Where the server's standard error goes.
    log: PathBuf,
}

impl TestServer {
    fn start(env: &[(&str, &str)]) -> TestServer {
        Self::start_with(env, &[])
    }

    fn start_with(env: &[(&str, &str)], args: &[&str]) -> TestServer {
        Self::start_logging(env, args, true)
    }

    /// With `log_kept` false the server's standard error is a pipe whose reader is gone as soon as
    /// the server has started: every line it logs after that fails to be written.
    fn start_logging(env: &[(&str, &str)], args: &[&str], log_kept: bool) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let model = train(dir.path(), "model.saring", &fixture("tiny-corpus.jsonl"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_saring"));
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--model",
        ])
        .arg(&model)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(args)
        .env_remove("SARING_API_KEYS")
        .env_remove("SARING_ADMIN_TOKEN")
        .stdout(Stdio::piped());
        let log = dir.path().join("serve.log");
        if log_kept {
            cmd.stderr(std::fs::File::create(&log).expect("log file"));
        } else {
            cmd.stderr(Stdio::piped());
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        // The reader of a log not kept goes now.
        drop(child.stderr.take());
        let base = line
            .trim()
            .strip_prefix("saring listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        TestServer {
            child,
            base,
            client: Client::new(),
            _dir: dir,
            model,
            log,
        }
    }

    /// Trains another model, on the fixture corpus without its first two comments, into the file the
    /// server was started with (what a reload then loads).
    fn retrain_smaller(&self) {
        let smaller = self.model.with_file_name("smaller.jsonl");
        let lines: Vec<&str> = include_str!("fixtures/tiny-corpus.jsonl")
            .lines()
            .skip(2)
            .collect();
        std::fs::write(&smaller, lines.join("\n")).expect("write");
        let newer = train(self.model.parent().expect("dir"), "model.saring", &smaller);
        assert_eq!(newer, self.model);
    }

    /// What the server has written to its standard error so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).expect("server log")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn post(
        &self,
        path: &str,
        body: impl Into<reqwest::blocking::Body>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(self.url(path))
            .body(body)
            .header("content-type", "application/json");
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().expect("request");
        let status = resp.status();
        (status, resp.json().unwrap_or(Value::Null))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn check_scores_a_comment_with_reasons_and_the_model_id() {
    let server = TestServer::start(&[]);
    let spam = json!({"content": "Main di 𝐙𝐄𝐔𝐒𝟏𝟑𝟖 pasti gacor maxwin, depo 10k langsung wd", "post_title": "Resep soto"});
    let (status, body) = server.post("/v1/check", spam.to_string(), None);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["score"].as_f64().unwrap_or(0.0) > 0.5, "{body}");
    assert!(body["verdict"].is_string() && body["discard"].is_boolean());
    assert!(body["reasons"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(body["model"].as_str().is_some_and(|m| m.starts_with("nb-")));
    let ham = json!({"content": "Thanks, this helped me fix my garden hose."});
    let (_, body) = server.post("/v1/check", ham.to_string(), None);
    assert!(body["score"].as_f64().unwrap_or(1.0) < 0.5, "{body}");
}

#[test]
fn a_request_chooses_how_many_reasons_it_gets() {
    let server = TestServer::start(&[]);
    let spam = json!({"content": "Main di 𝐙𝐄𝐔𝐒𝟏𝟑𝟖 pasti gacor maxwin, depo 10k langsung wd, daftar sekarang juga bos", "post_title": "Resep soto"});
    let count = |body: &Value| body["reasons"].as_array().map_or(usize::MAX, Vec::len);
    let (status, default) = server.post("/v1/check", spam.to_string(), None);
    assert_eq!(status, StatusCode::OK, "{default}");
    assert_eq!(count(&default), 3, "{default}");
    let (_, none) = server.post("/v1/check?reasons=0", spam.to_string(), None);
    assert_eq!(count(&none), 0, "{none}");
    assert_eq!(none["score"], default["score"]);
    let (_, more) = server.post("/v1/check?reasons=8", spam.to_string(), None);
    assert_eq!(count(&more), 8, "{more}");
    let first = |body: &Value, n: usize| body["reasons"].as_array().map(|r| r[..n].to_vec());
    assert_eq!(first(&more, 3), first(&default, 3));
    let batch = format!("{spam}\n{spam}");
    let (status, body) = server.post("/v1/check/batch?reasons=1", batch, None);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(count(&body["results"][1]), 1, "{body}");
    for bad in ["reasons=21", "reasons=-1", "reasons=many", "why=1"] {
        let (status, body) = server.post(&format!("/v1/check?{bad}"), spam.to_string(), None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(error_code(&body), "invalid_query", "{bad}: {body}");
    }
}

#[test]
fn api_keys_are_required_when_configured() {
    let server = TestServer::start(&[("SARING_API_KEYS", "key-one,key-two")]);
    let comment = json!({"content": "hello"}).to_string();
    let (status, body) = server.post("/v1/check", comment.clone(), None);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "unauthorized");
    let (status, _) = server.post("/v1/check", comment.clone(), Some("key-three"));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server.post("/v1/check", comment.clone(), Some("key-two"));
    assert_eq!(status, StatusCode::OK);
    // The scheme's name is case-insensitive, and a 401 says which scheme to use.
    for scheme in ["bearer", "BEARER"] {
        let resp = server
            .client
            .post(server.url("/v1/check"))
            .header("authorization", format!("{scheme} key-one"))
            .body(comment.clone())
            .send()
            .expect("request");
        assert_eq!(resp.status(), StatusCode::OK, "{scheme}");
    }
    let resp = server
        .client
        .post(server.url("/v1/check"))
        .body(comment)
        .send()
        .expect("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers().get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    // The service routes need no key.
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
}

#[test]
fn bad_input_gets_a_json_error_and_the_server_keeps_serving() {
    let server = TestServer::start(&[]);
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "/v1/check",
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "/v1/check",
            b"{\"content\": \"\xff\xfe\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_utf8",
        ),
        (
            "/v1/check",
            b"{\"author\": \"x\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_content",
        ),
        (
            "/v1/check",
            b"{\"content\": 12}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_comment",
        ),
        (
            // A comment is an object, not an array of its fields.
            "/v1/check",
            b"[\"1\", \"text\"]".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_comment",
        ),
        (
            "/v1/check/batch",
            b"[{\"content\": \"a\"}, [\"1\", \"b\"]]".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_comment",
        ),
        (
            // A label of the wrong type is a wrong value, not broken JSON.
            "/v1/feedback",
            b"{\"comment\": {\"content\": \"x\"}, \"label\": 5}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_feedback",
        ),
        (
            "/v1/check",
            vec![b' '; 300 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "/v1/check",
            json!({"content": "x".repeat(70 * 1024)})
                .to_string()
                .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "/v1/nowhere",
            b"{}".to_vec(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (path, body, status, code) in cases {
        let (got, json) = server.post(path, body, None);
        assert_eq!(got, status, "{path}: {json}");
        assert_eq!(error_code(&json), code, "{json}");
        assert!(json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let wrong_method = server
        .client
        .get(server.url("/v1/check"))
        .send()
        .expect("get");
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = wrong_method.json().unwrap_or(Value::Null);
    assert_eq!(error_code(&body), "method_not_allowed");
    let (status, _) = server.post(
        "/v1/check",
        json!({"content": "still fine"}).to_string(),
        None,
    );
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn batch_answers_in_order_for_json_arrays_and_ndjson() {
    let server = TestServer::start(&[]);
    let texts = [
        "gacor maxwin slot depo",
        "thanks for the recipe",
        "call +1-888-555-0199 for support",
        "nice photo",
    ];
    let array = Value::Array(texts.iter().map(|t| json!({"content": t})).collect()).to_string();
    let (status, body) = server.post("/v1/check/batch", array, None);
    assert_eq!(status, StatusCode::OK, "{body}");
    let from_array: Vec<f64> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["score"].as_f64().unwrap_or(-1.0))
        .collect();
    assert_eq!(from_array.len(), 4);
    let ndjson: String = texts
        .iter()
        .map(|t| format!("{}\n", json!({"content": t})))
        .collect();
    let (status, body) = server.post("/v1/check/batch", ndjson, None);
    assert_eq!(status, StatusCode::OK);
    let from_ndjson: Vec<f64> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["score"].as_f64().unwrap_or(-1.0))
        .collect();
    assert_eq!(from_array, from_ndjson);
    // Each is scored as it would be alone.
    let (_, single) = server.post("/v1/check", json!({"content": texts[2]}).to_string(), None);
    assert_eq!(single["score"].as_f64(), Some(from_array[2]));
    let too_many: String = (0..1001)
        .map(|i| format!("{}\n", json!({"content": format!("c {i}")})))
        .collect();
    let (status, body) = server.post("/v1/check/batch", too_many, None);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (status, body) = server.post(
        "/v1/check/batch",
        "{\"content\":\"a\"}\n{\"nope\":1}\n",
        None,
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("comment 1:")),
        "{body}"
    );
}

#[test]
fn reload_swaps_models_and_a_bad_file_leaves_the_old_one_serving() {
    let server = TestServer::start(&[("SARING_ADMIN_TOKEN", "admin-secret")]);
    let info: Value = server
        .client
        .get(server.url("/v1/model"))
        .send()
        .expect("model")
        .json()
        .expect("json");
    let first = info["id"].as_str().expect("id").to_owned();
    assert_eq!(info["spam_comments"], 20);
    // Admin only.
    let (status, _) = server.post("/v1/model/reload", "", None);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A corrupt file is refused and the old model keeps serving.
    let bad = server.model.with_file_name("bad.saring");
    std::fs::write(&bad, b"SARINGNB\x01\x00\x01\x00garbage").expect("write");
    let (status, body) = server.post(
        "/v1/model/reload",
        json!({"path": bad}).to_string(),
        Some("admin-secret"),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("still serving")));
    let (_, scored) = server.post("/v1/check", json!({"content": "hello"}).to_string(), None);
    assert_eq!(scored["model"], first.as_str());
    // A newly trained model is swapped in.
    server.retrain_smaller();
    // A misspelt field is refused, not taken as a plain reload.
    let (status, body) = server.post(
        "/v1/model/reload",
        json!({"pth": "/elsewhere.saring"}).to_string(),
        Some("admin-secret"),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = server.post("/v1/model/reload", "", Some("admin-secret"));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["id"], first.as_str());
    let (_, scored) = server.post("/v1/check", json!({"content": "hello"}).to_string(), None);
    assert_eq!(scored["model"], body["id"]);
}

#[test]
fn the_log_names_the_model_served_each_reload_and_the_stop_but_no_key() {
    let server = TestServer::start(&[
        ("SARING_API_KEYS", "key-in-the-env-0001"),
        ("SARING_ADMIN_TOKEN", "admin-secret-0002"),
    ]);
    let hello = json!({"content": "hello"}).to_string();
    let first = server
        .post("/v1/check", hello, Some("key-in-the-env-0001"))
        .1["model"]
        .clone();
    assert!(first.is_string(), "{first}");
    let log = server.log();
    assert!(
        log.contains(&format!(
            "saring: serving model {} from ",
            first.as_str().unwrap_or("?")
        )),
        "{log}"
    );
    let missing = server.model.with_file_name("missing.saring");
    let (status, _) = server.post(
        "/v1/model/reload",
        json!({"path": missing}).to_string(),
        Some("admin-secret-0002"),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Another model in the configured file, so that the log's old and new ids differ.
    server.retrain_smaller();
    let (status, reloaded) = server.post("/v1/model/reload", "", Some("admin-secret-0002"));
    assert_eq!(status, StatusCode::OK);
    assert_ne!(reloaded["id"], first);
    // SAFETY: kill(2) with the pid of a child this test started and has not yet waited for.
    unsafe {
        libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.log().contains("saring: stopping") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = server.log();
    assert!(
        log.contains(&format!(
            "saring: model reload failed, {} still serving: cannot read model file {}",
            first.as_str().unwrap_or("?"),
            missing.display()
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "saring: model reloaded: {} from {} (was {})",
            reloaded["id"].as_str().unwrap_or("?"),
            server.model.display(),
            first.as_str().unwrap_or("?")
        )),
        "{log}"
    );
    assert!(!log.contains("key-in-the-env-0001"), "{log}");
    assert!(!log.contains("admin-secret-0002"), "{log}");
}

#[test]
fn a_log_that_cannot_be_written_fails_no_request_and_no_reload() {
    let server = TestServer::start_logging(&[("SARING_ADMIN_TOKEN", "admin-secret")], &[], false);
    for _ in 0..3 {
        // Each reload logs a line into a pipe no one reads any more.
        let (status, body) = server.post("/v1/model/reload", "", Some("admin-secret"));
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let missing = server.model.with_file_name("missing.saring");
    let (status, body) = server.post(
        "/v1/model/reload",
        json!({"path": missing}).to_string(),
        Some("admin-secret"),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = server.post("/v1/check", json!({"content": "hello"}).to_string(), None);
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[test]
fn health_and_readiness() {
    let server = TestServer::start(&[]);
    let health: Value = server
        .client
        .get(server.url("/healthz"))
        .send()
        .expect("get")
        .json()
        .expect("json");
    assert_eq!(health["status"], "ok");
    let ready: Value = server
        .client
        .get(server.url("/readyz"))
        .send()
        .expect("get")
        .json()
        .expect("json");
    assert_eq!(ready["status"], "ready");
    assert!(ready["model"]
        .as_str()
        .is_some_and(|m| m.starts_with("nb-")));
}

#[test]
fn moderator_feedback_retrain_and_reload_changes_the_verdict() {
    let server = TestServer::start(&[("SARING_ADMIN_TOKEN", "admin-secret")]);
    let probe = json!({"content": "have you tried the zorbleflux kettles yet"}).to_string();
    let (_, before) = server.post("/v1/check", probe.clone(), None);
    let before = before["score"].as_f64().expect("score");
    for text in [
        "zorbleflux kettles half price today only",
        "best zorbleflux deals online, order now",
        "zorbleflux kettle outlet, free shipping",
        "cheap zorbleflux, visit our store",
        "zorbleflux sale, limited stock",
        "buy zorbleflux kettles wholesale",
    ] {
        let (status, body) = server.post(
            "/v1/feedback",
            json!({"comment": {"content": text}, "label": "spam"}).to_string(),
            None,
        );
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["stored"], true);
    }
    let (status, body) = server.post(
        "/v1/feedback",
        json!({"comment": {"content": "x"}, "label": "maybe"}).to_string(),
        None,
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let db = server.model.with_file_name("data").join("feedback.sqlite");
    let status = Command::new(env!("CARGO_BIN_EXE_saring"))
        .args(["train", "--input"])
        .arg(fixture("tiny-corpus.jsonl"))
        .arg("--feedback")
        .arg(&db)
        .arg("--model")
        .arg(&server.model)
        .stderr(Stdio::null())
        .status()
        .expect("train runs");
    assert!(status.success());
    let (status, _) = server.post("/v1/model/reload", "", Some("admin-secret"));
    assert_eq!(status, StatusCode::OK);
    let (_, after) = server.post("/v1/check", probe, None);
    let after = after["score"].as_f64().expect("score");
    assert!(after > before + 0.2, "before {before}, after {after}");
}

#[test]
fn metrics_count_requests_verdicts_and_name_the_model() {
    let server = TestServer::start(&[]);
    for _ in 0..3 {
        server.post(
            "/v1/check",
            json!({"content": "thanks for the recipe"}).to_string(),
            None,
        );
    }
    server.post("/v1/nowhere", "{}", None);
    // A wrong method on a known route counts under the route; an Akismet route under its own.
    let (status, _) = server.post("/v1/model", "{}", None);
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    server
        .client
        .post(server.url("/1.1/comment-check"))
        .body("blog=http://b.example&comment_content=hello")
        .send()
        .expect("comment-check");
    let text = server
        .client
        .get(server.url("/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    assert!(
        text.contains(r#"saring_http_requests_total{route="/v1/check",status="200"} 3"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains(r#"saring_http_requests_total{route="/v1/model",status="405"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"saring_http_requests_total{route="/1.1/comment-check",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains("saring_http_request_duration_seconds_bucket"));
    let verdicts: u64 = text
        .lines()
        .filter(|l| l.starts_with("saring_verdicts_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(verdicts, 3);
    let model: Value = server
        .client
        .get(server.url("/v1/model"))
        .send()
        .expect("model")
        .json()
        .expect("json");
    let id = model["id"].as_str().expect("id");
    assert!(
        text.contains(&format!(r#"saring_model_info{{id="{id}"}} 1"#)),
        "{text}"
    );
}

#[test]
fn the_rate_limit_answers_429_with_retry_after() {
    let server = TestServer::start_with(
        &[("SARING_API_KEYS", "k1")],
        &["--rate-limit", "1", "--burst", "3"],
    );
    let comment = json!({"content": "hi"}).to_string();
    for _ in 0..3 {
        let (status, _) = server.post("/v1/check", comment.clone(), Some("k1"));
        assert_eq!(status, StatusCode::OK);
    }
    let resp = server
        .client
        .post(server.url("/v1/check"))
        .bearer_auth("k1")
        .body(comment)
        .send()
        .expect("request");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!(wait >= 1);
    let body: Value = resp.json().expect("json");
    assert_eq!(error_code(&body), "rate_limited");
}

#[test]
fn keys_have_their_own_limits_and_guessing_keys_is_throttled() {
    let server = TestServer::start_with(
        &[("SARING_API_KEYS", "k1,k2")],
        &["--rate-limit", "1", "--burst", "3"],
    );
    let comment = json!({"content": "hi"}).to_string();
    for _ in 0..3 {
        assert_eq!(
            server.post("/v1/check", comment.clone(), Some("k1")).0,
            StatusCode::OK
        );
    }
    assert_eq!(
        server.post("/v1/check", comment.clone(), Some("k1")).0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        server.post("/v1/check", comment.clone(), Some("k2")).0,
        StatusCode::OK
    );
    for guess in ["a", "b", "c"] {
        let (status, body) = server.post("/v1/check", comment.clone(), Some(guess));
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let (status, body) = server.post("/v1/check", comment, Some("d"));
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(error_code(&body), "rate_limited");
}

#[test]
fn without_keys_akismet_clients_share_their_address_limit_whatever_key_they_send() {
    let server = TestServer::start_with(&[], &["--rate-limit", "1", "--burst", "3"]);
    let check = |key: &str| {
        server
            .client
            .post(server.url("/1.1/comment-check"))
            .form(&[
                ("api_key", key),
                ("blog", "https://blog.example"),
                ("user_ip", "127.0.0.1"),
                ("comment_content", "hi"),
            ])
            .send()
            .expect("request")
    };
    for key in ["a", "b", "c"] {
        let resp = check(key);
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let resp = check("d");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
}

#[test]
fn the_openapi_document_is_served_and_lists_every_route() {
    let server = TestServer::start(&[]);
    let served: Value = server
        .client
        .get(server.url("/v1/openapi.json"))
        .send()
        .expect("get")
        .json()
        .expect("json");
    let kept: Value =
        serde_json::from_str(include_str!("../openapi.json")).expect("openapi.json parses");
    assert_eq!(served, kept);
    for path in [
        "/v1/check",
        "/v1/check/batch",
        "/v1/feedback",
        "/v1/model",
        "/v1/model/reload",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(served["paths"][path].is_object(), "{path} missing");
    }
}

#[test]
fn sigterm_mid_load_loses_no_acknowledged_feedback() {
    let mut server = TestServer::start(&[]);
    let url = server.url("/v1/feedback");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (url, stop) = (url.clone(), stop.clone());
            std::thread::spawn(move || {
                let client = Client::new();
                let mut acknowledged = Vec::new();
                for i in 0..100_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let body = json!({"comment": {"content": format!("worker {w} comment {i}")}, "label": "spam"});
                    match client.post(&url).json(&body).send() {
                        Ok(r) if r.status() == StatusCode::CREATED => {
                            let v: Value = r.json().unwrap_or(Value::Null);
                            acknowledged.push(v["id"].as_i64().unwrap_or(-1));
                        }
                        // Refused or cut off during shutdown: not acknowledged, fine.
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(400));
    // SAFETY: signals our own child process.
    unsafe {
        libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = server.child.wait().expect("server exits");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
    let acknowledged: Vec<i64> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    assert!(
        acknowledged.len() > 20,
        "the load ran: {} acknowledged",
        acknowledged.len()
    );
    let db = server.model.with_file_name("data").join("feedback.sqlite");
    let store = saring::feedback::FeedbackStore::open(&db).expect("db");
    let stored = store.count().expect("count");
    assert!(
        stored >= acknowledged.len() as u64,
        "{stored} stored < {} acknowledged",
        acknowledged.len()
    );
    assert!(acknowledged.iter().all(|&id| id > 0 && id as u64 <= stored));
}

#[test]
fn sigint_and_sigterm_let_a_request_in_flight_finish() {
    use std::io::{Read, Write};
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let mut server = TestServer::start(&[]);
        let addr = server.base.trim_start_matches("http://").to_owned();
        let body = json!({"comment": {"content": "sent slowly"}, "label": "spam"}).to_string();
        let mut stream = std::net::TcpStream::connect(&addr).expect("connects");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .expect("timeout");
        let head = format!(
            "POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("headers");
        stream
            .write_all(&body.as_bytes()[..10])
            .expect("part of the body");
        std::thread::sleep(std::time::Duration::from_millis(300));
        // SAFETY: signals our own child process.
        unsafe {
            libc::kill(server.child.id() as libc::pid_t, signal);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        stream.write_all(&body.as_bytes()[10..]).expect("the rest");
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("\"stored\"") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
        let answer = String::from_utf8_lossy(&answer).into_owned();
        assert!(
            answer.starts_with("HTTP/1.1 201"),
            "signal {signal}: {answer:?}"
        );
        let status = server.child.wait().expect("server exits");
        assert!(status.success(), "signal {signal}: {status:?}");
        let db = server.model.with_file_name("data").join("feedback.sqlite");
        let store = saring::feedback::FeedbackStore::open_read_only(&db).expect("db");
        assert_eq!(store.count().expect("count"), 1, "signal {signal}");
    }
}

#[test]
fn a_second_signal_stops_at_once() {
    use std::io::Write;
    let mut server = TestServer::start(&[]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    // A request that never finishes its body: a graceful stop would wait for it (10 s, the timeout).
    let mut stream = std::net::TcpStream::connect(&addr).expect("connects");
    stream
        .write_all(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"con")
        .expect("part of a request");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: signals our own child process.
        unsafe {
            libc::kill(server.child.id() as libc::pid_t, signal);
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let status = server.child.wait().expect("server exits");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "took {:?}: {status:?}",
        started.elapsed()
    );
    drop(stream);
}

/// Sends `request` (often the start of one that never completes) and reads until the server closes
/// the connection or 10 s pass: what it answered, how long it took, and whether it closed the
/// connection.
fn answer_to_unfinished(
    server: &TestServer,
    request: &[u8],
) -> (String, std::time::Duration, bool) {
    use std::io::{Read, Write};
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connects");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request).expect("request");
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
        closed,
    )
}

#[test]
fn a_client_that_trickles_its_body_gets_a_408() {
    let server = TestServer::start_with(&[], &["--request-timeout", "1"]);
    // The headers arrive whole; of the 100 bytes of body announced, only a few ever do.
    let (text, _, _) = answer_to_unfinished(
        &server,
        b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"content\"",
    );
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"request_timeout\""), "{text}");
}

#[test]
fn a_client_too_slow_to_send_its_request_is_cut_off() {
    let server = TestServer::start_with(&[], &["--request-timeout", "1"]);
    let (text, waited, _) =
        answer_to_unfinished(&server, b"POST /v1/check HTTP/1.1\r\nHost: x\r\n");
    assert!(
        waited < std::time::Duration::from_secs(8),
        "cut off after {waited:?}"
    );
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    // The server is still there for others.
    let (status, _) = server.post("/v1/check", json!({"content": "hi"}).to_string(), None);
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn a_chunked_body_never_finished_does_not_keep_its_connection() {
    let server = TestServer::start_with(&[], &["--request-timeout", "1"]);
    // Answered before the body is read (unknown route), and answered 408 when the body stops
    // coming: either way the connection is closed after the answer, not held for the body's end.
    for (request, status) in [
        (
            &b"POST /no-such-route HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"[..],
            "404",
        ),
        (
            &b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"con\r\n"[..],
            "408",
        ),
    ] {
        let (text, _, closed) = answer_to_unfinished(&server, request);
        assert!(text.starts_with(&format!("HTTP/1.1 {status}")), "{text}");
        assert!(closed, "connection kept open after: {text}");
    }
    // A chunked body sent whole keeps the connection for the next request.
    let body = br#"{"content":"hello there"}"#;
    let request = |connection: &str| {
        let mut r = format!(
            "POST /v1/check HTTP/1.1\r\nHost: x\r\nConnection: {connection}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r.extend_from_slice(b"\r\n0\r\n\r\n");
        r
    };
    let both = [request("keep-alive"), request("close")].concat();
    let (text, _, closed) = answer_to_unfinished(&server, &both);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
    assert!(closed);
}

#[test]
fn guessing_the_admin_token_or_keys_through_usage_limit_is_throttled_too() {
    let server = TestServer::start_with(
        &[("SARING_API_KEYS", "k1"), ("SARING_ADMIN_TOKEN", "admin")],
        &["--rate-limit", "1", "--burst", "3"],
    );
    for guess in ["a", "b", "c"] {
        let (status, _) = server.post("/v1/model/reload", "", Some(guess));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = server.post("/v1/model/reload", "", Some("d"));
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // The same address has used its tokens: usage-limit, which says whether a key is valid, is
    // throttled as well.
    let resp = server
        .client
        .post(server.url("/1.2/usage-limit"))
        .form(&[("api_key", "guess")])
        .send()
        .expect("request");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[test]
fn akismet_routes_take_post_and_a_charset_that_would_garble_the_form_is_ignored() {
    let server = TestServer::start_with(&[("SARING_API_KEYS", "k1")], &[]);
    // A GET naming a key (a link, an image) neither reports nor checks a comment.
    let resp = server
        .client
        .get(server.url("/1.1/submit-spam?api_key=k1&comment_content=hello"))
        .send()
        .expect("request");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.text().expect("body"), "invalid");
    let resp = server
        .client
        .get(server.url("/1.2/usage-limit?api_key=k1"))
        .send()
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    // A form is ASCII: a charset that does not keep ASCII as it is cannot be the form's, and the
    // key and the test author still read as sent.
    for charset in ["ISO-2022-KR", "UTF-16LE", "HZ-GB-2312"] {
        let resp = server
            .client
            .post(server.url("/1.1/comment-check"))
            .form(&[
                ("api_key", "k1"),
                ("blog", "https://blog.example"),
                ("user_ip", "127.0.0.1"),
                ("blog_charset", charset),
                ("comment_author", "viagra-test-123"),
            ])
            .send()
            .expect("request");
        assert_eq!(resp.text().expect("body"), "true", "{charset}");
    }
}

#[test]
fn head_works_wherever_get_does_and_a_405_says_what_is_allowed() {
    let server = TestServer::start(&[]);
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/model",
        "/v1/openapi.json",
    ] {
        let resp = server
            .client
            .head(server.url(path))
            .send()
            .expect("request");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.bytes().expect("body").len(), 0, "{path}");
    }
    for (method, path, allow) in [
        (reqwest::Method::GET, "/v1/check", "POST"),
        (reqwest::Method::DELETE, "/healthz", "GET, HEAD"),
    ] {
        let resp = server
            .client
            .request(method, server.url(path))
            .send()
            .expect("request");
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(
            resp.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow)
        );
        let body: Value = resp.json().expect("JSON error");
        assert_eq!(error_code(&body), "method_not_allowed");
    }
}
