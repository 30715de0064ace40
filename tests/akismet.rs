//! The Akismet-compatible API, driven by a real client library (PyPI `akismet`, installed by
//! `scripts/test-deps.sh`) and by raw requests in the forms other clients use (key in the Host name,
//! wrong Content-Type, PHP-style array fields).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::blocking::Client;

const KEY: &str = "abcdef123456";

struct TestServer {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl TestServer {
    fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let model = dir.path().join("model.saring");
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-corpus.jsonl");
        let status = Command::new(env!("CARGO_BIN_EXE_saring"))
            .args(["train", "--input"])
            .arg(&corpus)
            .arg("--model")
            .arg(&model)
            .stderr(Stdio::null())
            .status()
            .expect("train");
        assert!(status.success());
        let mut child = Command::new(env!("CARGO_BIN_EXE_saring"))
            .args([
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
            .env("SARING_API_KEYS", KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        let base = line
            .trim()
            .trim_start_matches("saring listening on ")
            .to_owned();
        TestServer { child, base, dir }
    }

    fn feedback_db(&self) -> PathBuf {
        self.dir.path().join("data/feedback.sqlite")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_pypi_akismet_client_works_against_saring() {
    let server = TestServer::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/akismet_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&server.base)
        .arg(KEY)
        .output()
        .expect("python3 runs (scripts/test-deps.sh installs the akismet client)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
    // submit-spam and submit-ham stored their feedback.
    let store = saring::feedback::FeedbackStore::open(&server.feedback_db()).expect("feedback db");
    let stored = store.comments().expect("read");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].label, Some(saring::engine::Label::Spam));
    assert_eq!(stored[1].label, Some(saring::engine::Label::Ham));
}

#[test]
fn key_in_the_host_name_wrong_content_type_and_array_fields() {
    let server = TestServer::start();
    let port = server.base.rsplit(':').next().expect("port");
    let client = Client::new();
    let form = "blog=https%3A%2F%2Fblog.example&user_ip=203.0.113.5&comment_type=comment\
                &comment_author=viagra-test-123&comment_content=hi&comment_context%5B0%5D=tag\
                &POST_ak_js=123&unknown_field=x";
    // npm akismet 2.x style: key in the Host, Content-Type that is not a form type.
    let resp = client
        .post(format!("{}/1.1/comment-check", server.base))
        .header("host", format!("{KEY}.rest.akismet.com:{port}"))
        .header("content-type", "charset=utf-8")
        .body(form)
        .send()
        .expect("request");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-akismet-guid"));
    assert_eq!(resp.text().expect("body"), "true");
    // A wrong key in the Host is refused the Akismet way.
    let resp = client
        .post(format!("{}/1.1/comment-check", server.base))
        .header("host", format!("wrongkey0000.rest.akismet.com:{port}"))
        .body(form)
        .send()
        .expect("request");
    assert!(resp.headers().contains_key("x-akismet-debug-help"));
    assert_eq!(resp.text().expect("body"), "invalid");
    // verify-key with `key`.
    let resp = client
        .post(format!("{}/1.1/verify-key", server.base))
        .body(format!("key={KEY}&blog=https%3A%2F%2Fblog.example"))
        .send()
        .expect("request");
    assert_eq!(resp.text().expect("body"), "valid");
    // Blatant spam gets the discard tip.
    let blatant = "api_key=abcdef123456&blog=https%3A%2F%2Fblog.example&user_ip=1.2.3.4&comment_content=\
                   Main+di+%F0%9D%90%99%F0%9D%90%84%F0%9D%90%94%F0%9D%90%92138+gacor+maxwin+depo+10k+wd+slot+gacor";
    let resp = client
        .post(format!("{}/1.1/comment-check", server.base))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body(blatant)
        .send()
        .expect("request");
    let discard = resp
        .headers()
        .get("x-akismet-pro-tip")
        .map(|v| v.as_bytes().to_vec());
    assert_eq!(resp.text().expect("body"), "true");
    assert_eq!(discard.as_deref(), Some(&b"discard"[..]));
    // is_test submissions are not stored.
    let resp = client
        .post(format!("{}/1.1/submit-spam", server.base))
        .body(format!(
            "api_key={KEY}&user_ip=1.2.3.4&comment_content=x&is_test=1"
        ))
        .send()
        .expect("request");
    assert_eq!(
        resp.text().expect("body"),
        "Thanks for making the web a better place."
    );
    let store = saring::feedback::FeedbackStore::open(&server.feedback_db()).expect("db");
    assert_eq!(store.count().expect("count"), 0);
}

#[test]
fn a_blog_in_another_charset_is_decoded_by_blog_charset() {
    let server = TestServer::start();
    let client = Client::new();
    // "café très bon" in ISO-8859-1, as a Latin-1 WordPress blog sends it.
    let body = format!(
        "api_key={KEY}&user_ip=1.2.3.4&blog_charset=ISO-8859-1&comment_content=caf%E9+tr%E8s+bon"
    );
    let resp = client
        .post(format!("{}/1.1/submit-ham", server.base))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=ISO-8859-1",
        )
        .body(body)
        .send()
        .expect("request");
    assert_eq!(
        resp.text().expect("body"),
        "Thanks for making the web a better place."
    );
    let store = saring::feedback::FeedbackStore::open(&server.feedback_db()).expect("db");
    assert_eq!(store.comments().expect("read")[0].content, "café très bon");
}

#[test]
fn comment_check_without_blog_or_user_ip_is_answered_as_akismet_does() {
    let server = TestServer::start();
    let client = Client::new();
    let check = |form: String| {
        client
            .post(format!("{}/1.1/comment-check", server.base))
            .body(form)
            .send()
            .expect("request")
    };
    // Neither `true` nor `false`: WordPress holds such a comment instead of letting it through.
    let spam = "comment_author=viagra-test-123&comment_content=hi";
    for (form, missing) in [
        (format!("api_key={KEY}&user_ip=1.2.3.4&{spam}"), "blog"),
        (
            format!("api_key={KEY}&blog=&user_ip=1.2.3.4&{spam}"),
            "blog",
        ),
        (
            format!("api_key={KEY}&blog=https%3A%2F%2Fblog.example&{spam}"),
            "user_ip",
        ),
    ] {
        let resp = check(form);
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().contains_key("x-akismet-debug-help"));
        assert!(!resp.headers().contains_key("x-akismet-guid"));
        assert_eq!(
            resp.text().expect("body"),
            format!("Missing required field: {missing}.")
        );
    }
    // A wrong key is still told first, and with both fields the comment is checked.
    let resp = check(format!("api_key=wrongkey0000&{spam}"));
    assert_eq!(resp.text().expect("body"), "invalid");
    let resp = check(format!(
        "api_key={KEY}&blog=https%3A%2F%2Fblog.example&user_ip=1.2.3.4&{spam}"
    ));
    assert_eq!(resp.text().expect("body"), "true");
}
