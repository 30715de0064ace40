//! `saring serve`: run the HTTP service.
//!
//! Settings come from built-in defaults, then a TOML file (`--config`, or `SARING_CONFIG`), then
//! environment variables, then flags, each overriding the last.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

use crate::config::{Limits, Secret, Settings};
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
        toml::from_str(&text).with_context(|| format!("invalid settings file {}", path.display()))
    }
}

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
        if limits.max_batch == 0 || limits.max_body_bytes == 0 || limits.max_comment_bytes == 0 {
            anyhow::bail!("body, comment and batch limits must be above 0");
        }
        if !(limits.rate_per_key >= 0.0 && limits.burst_per_key >= 1.0) {
            anyhow::bail!("the rate limit must be 0 or more and the burst 1 or more");
        }
        let api_keys = match self.api_keys {
            Some(list) => Settings::parse_keys(&list),
            None => file
                .api_keys
                .unwrap_or_default()
                .into_iter()
                .filter(|k| !k.trim().is_empty())
                .map(|k| Secret::new(k.trim()))
                .collect(),
        };
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
            admin_token: self
                .admin_token
                .or(file.admin_token)
                .filter(|t| !t.is_empty())
                .map(Secret::new),
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
        assert!(err.contains("lisen"), "{err}");
    }
}
