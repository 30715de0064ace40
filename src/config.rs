//! Settings of the HTTP service: defaults, then environment variables, then flags, each overriding the
//! last. Secrets (API keys, the admin token) never appear in `Debug` output or logs.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A secret string: compared in constant time, shown as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// Constant-time comparison, so response timing does not reveal how much of a key matched.
    pub fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Explicit limits on what a client may send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Largest request body for a single comment, in bytes.
    pub max_body_bytes: usize,
    /// Largest request body for a batch, in bytes.
    pub max_batch_body_bytes: usize,
    /// Longest `content` accepted, in bytes.
    pub max_comment_bytes: usize,
    /// Most comments in one batch request.
    pub max_batch: usize,
    /// Seconds a client has to send its request headers, and again its body.
    pub request_timeout_secs: u64,
    /// Requests per second each API key may make on average (0: no limit).
    pub rate_per_key: f64,
    /// Requests each key may make at once before the average applies.
    pub burst_per_key: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 256 * 1024,
            max_batch_body_bytes: 16 * 1024 * 1024,
            max_comment_bytes: 64 * 1024,
            max_batch: 1000,
            request_timeout_secs: 10,
            rate_per_key: 2000.0,
            burst_per_key: 4000.0,
        }
    }
}

/// Validated settings of `saring serve`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub model: PathBuf,
    pub data_dir: PathBuf,
    pub api_keys: Vec<Secret>,
    pub admin_token: Option<Secret>,
    pub limits: Limits,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
}

impl Settings {
    /// Whether any API key is configured; without one the service only listens on loopback.
    pub fn open_access(&self) -> bool {
        self.api_keys.is_empty()
    }

    pub fn is_api_key(&self, candidate: &str) -> bool {
        self.api_keys.iter().any(|k| k.matches(candidate))
    }
}

/// The keys of a comma-separated list (`SARING_API_KEYS`), trimmed; blanks are ignored.
pub fn key_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let keys: Vec<Secret> = key_list("abc123, ,def456").map(Secret::new).collect();
        assert_eq!(keys.len(), 2);
        assert_eq!(format!("{keys:?}"), "[***, ***]");
        assert!(
            keys[0].matches("abc123") && !keys[0].matches("abc12") && !keys[0].matches("abc124")
        );
    }
}
