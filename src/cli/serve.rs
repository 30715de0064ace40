//! `saring serve`: run the HTTP service.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::ModelArg;
use crate::config::{Limits, Secret, Settings};
use crate::server::Server;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, env = "SARING_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub model: ModelArg,
    /// Folder for the service's data (feedback)
    #[arg(long, env = "SARING_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// API keys, comma-separated; without any the service listens on loopback only
    #[arg(
        long,
        env = "SARING_API_KEYS",
        hide_env_values = true,
        default_value = ""
    )]
    pub api_keys: String,
    /// Token for the admin routes (model reload)
    #[arg(long, env = "SARING_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Largest single-comment request body, in bytes
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Largest batch request body, in bytes
    #[arg(long, default_value_t = Limits::default().max_batch_body_bytes)]
    pub max_batch_body_bytes: usize,
    /// Longest comment content, in bytes
    #[arg(long, default_value_t = Limits::default().max_comment_bytes)]
    pub max_comment_bytes: usize,
    /// Most comments in one batch request
    #[arg(long, default_value_t = Limits::default().max_batch)]
    pub max_batch: usize,
    /// Seconds a client has to send its request headers
    #[arg(long, default_value_t = Limits::default().request_timeout_secs)]
    pub request_timeout: u64,
    /// Requests per second each API key may make on average (0: no limit)
    #[arg(long, default_value_t = Limits::default().rate_per_key)]
    pub rate_limit: f64,
    /// Requests each key may make at once before the average applies
    #[arg(long, default_value_t = Limits::default().burst_per_key)]
    pub burst: f64,
    /// HTTP worker threads [default: one per core]
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
}

impl ServeArgs {
    fn settings(self) -> Settings {
        Settings {
            listen: self.listen,
            model: self.model.path(),
            data_dir: self.data_dir,
            api_keys: Settings::parse_keys(&self.api_keys),
            admin_token: self.admin_token.filter(|t| !t.is_empty()).map(Secret::new),
            limits: Limits {
                max_body_bytes: self.max_body_bytes,
                max_batch_body_bytes: self.max_batch_body_bytes,
                max_comment_bytes: self.max_comment_bytes,
                max_batch: self.max_batch,
                request_timeout_secs: self.request_timeout,
                rate_per_key: self.rate_limit,
                burst_per_key: self.burst,
            },
            workers: self.workers,
        }
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.settings();
    actix_web::rt::System::new().block_on(async move {
        let server = Server::build(settings)?;
        // The first line on stdout says where the service is, for scripts and tests.
        println!("saring listening on http://{}", server.addr());
        server.run_until_stopped().await?;
        Ok(())
    })
}
