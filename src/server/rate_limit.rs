//! A per-key rate limit (token bucket): each API key (or, without keys, each client address) may
//! make `rate` requests per second on average, in bursts of up to `burst`. Beyond that: 429 with
//! `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `rate` 0 turns the limit off.
    pub fn new(rate: f64, burst: f64) -> Self {
        RateLimiter {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether requests are limited at all (`rate` 0 turns the limit off).
    pub fn is_on(&self) -> bool {
        self.rate > 0.0
    }

    /// Takes one token for `who`; when none is left, says in how many whole seconds one will be.
    pub fn check(&self, who: &str) -> Result<(), u64> {
        if !self.is_on() {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle clients rather than grow without bound.
            buckets.retain(|_, (_, at)| {
                now.duration_since(*at).as_secs_f64() * self.rate < self.burst
            });
        }
        // A known client's bucket is found without copying its name.
        if let Some(bucket) = buckets.get_mut(who) {
            return self.take(bucket, now);
        }
        let bucket = buckets.entry(who.to_owned()).or_insert((self.burst, now));
        self.take(bucket, now)
    }

    /// Refills `bucket` for the time since it was last used, then takes a token from it.
    fn take(&self, (tokens, at): &mut (f64, Instant), now: Instant) -> Result<(), u64> {
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let limiter = RateLimiter::new(1.0, 3.0);
        assert!(limiter.check("k").is_ok());
        assert!(limiter.check("k").is_ok());
        assert!(limiter.check("k").is_ok());
        assert_eq!(limiter.check("k"), Err(1));
        // Another key has its own bucket.
        assert!(limiter.check("other").is_ok());
        assert!(RateLimiter::new(0.0, 1.0).check("k").is_ok());
    }
}
