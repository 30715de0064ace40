//! `saring serve`: run the HTTP service.
//!
//! Settings come from built-in defaults, then a TOML file (`--config`, or `SARING_CONFIG`), then
//! environment variables, then flags, each overriding the last.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

use crate::config::{key_list, Limits, Secret, Settings};
use crate::server::Server;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Settings file (TOML; keys as the long flags, with underscores)
    #[arg(long, env = "SARING_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, port 0 picks a free port [default: 127.0.0.1:8080]
    #[arg(long, env = "SARING_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Model file [default: the shipped models/default.saring]
    #[arg(long, short = 'm', env = "SARING_MODEL", value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Folder for the service's data (feedback database) [default: data]
    #[arg(long, env = "SARING_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// API keys, comma-separated; without any the service listens on loopback only
    #[arg(long, env = "SARING_API_KEYS", hide_env_values = true)]
    pub api_keys: Option<String>,
    /// Token for the admin routes (model reload)
    #[arg(long, env = "SARING_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Largest single-comment request body, in bytes [default: 262144]
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Largest batch request body, in bytes [default: 16777216]
    #[arg(long)]
    pub max_batch_body_bytes: Option<usize>,
    /// Longest comment content, in bytes [default: 65536]
    #[arg(long)]
    pub max_comment_bytes: Option<usize>,
    /// Most comments in one batch request [default: 1000]
    #[arg(long)]
    pub max_batch: Option<usize>,
    /// Seconds a client has to send its request headers, and again its body [default: 10]
    #[arg(long)]
    pub request_timeout: Option<u64>,
    /// Requests per second each API key may make on average, 0 for no limit [default: 2000]
    #[arg(long)]
    pub rate_limit: Option<f64>,
    /// Requests each key may make at once before the average applies [default: 4000]
    #[arg(long)]
    pub burst: Option<f64>,
    /// HTTP worker threads, 0 for one per core, at most 256 [default: 0]
    #[arg(long)]
    pub workers: Option<usize>,
}

/// The settings file: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    model: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    api_keys: Option<Vec<String>>,
    admin_token: Option<String>,
    max_body_bytes: Option<usize>,
    max_batch_body_bytes: Option<usize>,
    max_comment_bytes: Option<usize>,
    max_batch: Option<usize>,
    request_timeout: Option<u64>,
    rate_limit: Option<f64>,
    burst: Option<f64>,
    workers: Option<usize>,
}

impl FileSettings {
    fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            // toml's own message quotes the line and the value, which may be a key: only where the
            // fault is and what is wrong, values left out.
            let at = e.span().map_or(String::new(), |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" line {line}, column {column}:")
            });
            let message =
                unknown_setting(e.message()).unwrap_or_else(|| without_values(e.message()));
            anyhow::anyhow!("invalid settings file {}:{at} {message}", path.display())
        })
    }
}

/// serde's "unknown field `NAME`, expected one of `listen`, …" for a settings file: the name is
/// repeated only when it is a near miss of a setting's (a typo: `lisen`), since a line that is not a
/// setting may be anything, a key pasted in the wrong place included.
fn unknown_setting(message: &str) -> Option<String> {
    // The list of settings is serde's, at the end: a name holding backticks cannot pass for it.
    let rest = message.strip_prefix("unknown field `")?;
    let (name, expected) = rest.rsplit_once("`, expected one of ")?;
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let closest = known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .min()
        .filter(|&(distance, _)| distance <= 2);
    Some(match closest {
        Some((_, k)) => format!("unknown setting `{name}` (did you mean `{k}`?)"),
        None => format!(
            "unknown setting (its name is not repeated: it may be a secret); the settings are {}",
            known.join(", ")
        ),
    })
}

/// `message` with the values it quotes left out: serde's `invalid type: integer `5`, expected …` keeps
/// the kind (`integer`), and anything between double quotes goes.
fn without_values(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(", expected"))
        {
            let kind = found.split_whitespace().next().unwrap_or("value");
            return format!("{prefix}{kind}, expected {}", without_values(expected));
        }
    }
    // Each pair of quotes loses what it holds; a quote with no partner (toml's own "expected `\"`")
    // stays as it is.
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('"') {
        let Some(close) = rest[open + 1..].find('"') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str("\"…\"");
        rest = &rest[open + 1 + close + 1..];
    }
    out.push_str(rest);
    out.trim().to_owned()
}

/// A key or token, trimmed; blank is none (`SARING_API_KEYS=` in a compose file whose variable is
/// unset must not switch the file's keys off).
fn secret_text(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The most a body limit may be: a request is held in memory whole.
const MAX_LIMIT_BYTES: usize = 1 << 30;
/// The longest request timeout, in seconds (a day).
const MAX_TIMEOUT_SECS: u64 = 86_400;

impl ServeArgs {
    /// Flags and environment over the file over the defaults, validated.
    fn settings(self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => FileSettings::read(path)?,
            None => FileSettings::default(),
        };
        let d = Limits::default();
        let limits = Limits {
            max_body_bytes: self
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(d.max_body_bytes),
            max_batch_body_bytes: self
                .max_batch_body_bytes
                .or(file.max_batch_body_bytes)
                .unwrap_or(d.max_batch_body_bytes),
            max_comment_bytes: self
                .max_comment_bytes
                .or(file.max_comment_bytes)
                .unwrap_or(d.max_comment_bytes),
            max_batch: self.max_batch.or(file.max_batch).unwrap_or(d.max_batch),
            request_timeout_secs: self
                .request_timeout
                .or(file.request_timeout)
                .unwrap_or(d.request_timeout_secs),
            rate_per_key: self
                .rate_limit
                .or(file.rate_limit)
                .unwrap_or(d.rate_per_key),
            burst_per_key: self.burst.or(file.burst).unwrap_or(d.burst_per_key),
        };
        let bytes = [
            limits.max_body_bytes,
            limits.max_batch_body_bytes,
            limits.max_comment_bytes,
        ];
        if limits.max_batch == 0 || bytes.iter().any(|&b| b == 0 || b > MAX_LIMIT_BYTES) {
            anyhow::bail!(
                "body and comment limits must be 1 byte to 1 GiB, and the batch limit above 0"
            );
        }
        if limits.request_timeout_secs > MAX_TIMEOUT_SECS {
            anyhow::bail!("the request timeout must be at most {MAX_TIMEOUT_SECS} seconds (a day)");
        }
        let rate = limits.rate_per_key;
        if !((rate == 0.0 || rate >= 0.001) && limits.burst_per_key >= 1.0) {
            anyhow::bail!(
                "the rate limit must be 0 (none) or at least 0.001 a second, and the burst 1 or more"
            );
        }
        let from_env: Option<Vec<String>> = self
            .api_keys
            .map(|list| key_list(&list).map(str::to_owned).collect())
            .filter(|keys: &Vec<String>| !keys.is_empty());
        let keys: Vec<String> = match from_env {
            Some(keys) => keys,
            None => file
                .api_keys
                .unwrap_or_default()
                .into_iter()
                .filter_map(|k| secret_text(&k))
                .collect(),
        };
        let admin_token = self
            .admin_token
            .as_deref()
            .and_then(secret_text)
            .or_else(|| file.admin_token.as_deref().and_then(secret_text));
        // Sent in a header (`Authorization: Bearer KEY`) or a Host name: visible ASCII only.
        let printable = |t: &str| t.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if !keys.iter().all(|k| printable(k)) || !admin_token.as_deref().is_none_or(printable) {
            anyhow::bail!("API keys and the admin token must be printable ASCII");
        }
        if admin_token.as_ref().is_some_and(|t| keys.contains(t)) {
            anyhow::bail!(
                "the admin token is also an API key: every client could reload models; give it a value of its own"
            );
        }
        let api_keys: Vec<Secret> = keys.into_iter().map(Secret::new).collect();
        Ok(Settings {
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            model: self
                .model
                .or(file.model)
                .unwrap_or_else(super::default_model_path),
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("data")),
            api_keys,
            admin_token: admin_token.map(Secret::new),
            limits,
            workers: match self.workers.or(file.workers).unwrap_or(0) {
                w @ 0..=256 => w,
                w => anyhow::bail!("workers must be 0 (one per core) to 256, not {w}"),
            },
        })
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    actix_web::rt::System::new().block_on(async move {
        let server = Server::build(settings)?;
        // The first line on stdout says where the service is, for scripts and tests.
        super::write_stdout(&format!("saring listening on http://{}\n", server.addr()))?;
        server.run_until_stopped().await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("saring.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\napi_keys = [\"k1\", \"k2\"]\nmax_batch = 50\nrate_limit = 10.0\n",
        )
        .expect("write");
        let cli = Cli::try_parse_from([
            "x",
            "--config",
            file.to_str().unwrap_or(""),
            "--max-batch",
            "70",
        ])
        .expect("parses");
        let s = cli.serve.settings().expect("valid");
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.api_keys.len(), 2);
        assert_eq!(s.limits.max_batch, 70);
        assert!((s.limits.rate_per_key - 10.0).abs() < 1e-9);
        assert_eq!(
            s.limits.max_comment_bytes,
            Limits::default().max_comment_bytes
        );
        assert!(!format!("{s:?}").contains("k1"));
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "lisen = \"0.0.0.0:1\"\n").expect("write");
        let cli =
            Cli::try_parse_from(["x", "--config", file.to_str().unwrap_or("")]).expect("parses");
        let err = format!("{:#}", cli.serve.settings().expect_err("refused"));
        assert!(
            err.contains("lisen") && err.contains("did you mean `listen`"),
            "{err}"
        );
        // A name that is no near miss of a setting's may be a secret pasted on the wrong line.
        for toml in [
            "sk_live_51Hsecret = 1\n",
            "\"supersecret1\" = true\n",
            "\"aaaaaa`b`supersecret1`c\" = 1\n",
        ] {
            let err = format!("{:#}", settings(toml, &[]).expect_err("refused"));
            assert!(!err.contains("secret1") && !err.contains("51H"), "{err}");
            assert!(
                err.contains("unknown setting") && err.contains("admin_token"),
                "{err}"
            );
            assert!(err.contains("line 1, column 1"), "{err}");
        }
    }

    /// The settings from a file holding `toml` and the flags `args`.
    fn settings(toml: &str, args: &[&str]) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("saring.toml");
        std::fs::write(&file, toml).expect("write");
        let mut all = vec!["x", "--config", file.to_str().unwrap_or("")];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("parses").serve.settings()
    }

    #[test]
    fn a_bad_settings_file_is_reported_without_the_values_it_holds() {
        for toml in [
            "api_keys = \"supersecret1,supersecret2\"\n",
            "\nadmin_token = supersecret1\n",
            "api_keys = [\"supersecret1\", 12345678]\n",
        ] {
            let err = format!("{:#}", settings(toml, &[]).expect_err("refused"));
            assert!(
                !err.contains("supersecret") && !err.contains("12345678"),
                "{err}"
            );
            assert!(err.contains("saring.toml: line "), "{err}");
        }
        let err = format!(
            "{:#}",
            settings("\nadmin_token = x\n", &[]).expect_err("refused")
        );
        assert!(err.contains("line 2, column"), "{err}");
    }

    #[test]
    fn values_are_left_out_of_messages_and_the_rest_kept() {
        assert_eq!(
            without_values("invalid type: string \"k1,k2\", expected a sequence"),
            "invalid type: string, expected a sequence"
        );
        assert_eq!(
            without_values("a \"x\" and \"y\" end"),
            "a \"…\" and \"…\" end"
        );
        assert_eq!(
            without_values("invalid basic string, expected `\"`"),
            "invalid basic string, expected `\"`"
        );
    }

    #[test]
    fn blank_keys_are_none_and_keys_must_be_safe_to_use() {
        // A blank list (an unset variable in a compose file) keeps the file's keys.
        let file = "api_keys = [\"filekey\"]\nadmin_token = \" adm \"\n";
        for blank in ["", " , "] {
            let s = settings(file, &["--api-keys", blank]).expect("valid");
            assert!(s.is_api_key("filekey") && !s.open_access(), "{blank:?}");
        }
        let s = settings(file, &["--admin-token", "  "]).expect("valid");
        assert!(s.admin_token.as_ref().is_some_and(|t| t.matches("adm")));
        let s = settings(file, &["--api-keys", " k1 ,k2"]).expect("valid");
        assert!(s.is_api_key("k1") && s.is_api_key("k2") && !s.is_api_key("filekey"));
        for bad in [
            vec!["--api-keys", "k1,k2", "--admin-token", "k1"],
            vec!["--api-keys", "clé"],
            vec!["--admin-token", "tab\there"],
        ] {
            assert!(settings("", &bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn limits_that_would_break_the_service_are_refused() {
        for bad in [
            ["--max-body-bytes", "18446744073709551615"],
            ["--max-batch-body-bytes", "0"],
            ["--max-comment-bytes", "2000000000"],
            ["--request-timeout", "9223372036854775807"],
            ["--rate-limit", "1e-300"],
            ["--burst", "0.5"],
        ] {
            assert!(settings("", &bad).is_err(), "{bad:?}");
        }
        for good in [
            ["--max-body-bytes", "1073741824"],
            ["--request-timeout", "0"],
            ["--rate-limit", "0"],
            ["--rate-limit", "0.001"],
        ] {
            assert!(settings("", &good).is_ok(), "{good:?}");
        }
    }
}
