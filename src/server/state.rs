//! Shared state: the settings and the model in use, behind an atomically swappable pointer so that a
//! reload never stalls or fails a request (requests in flight finish on the model they started with).

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Settings;
use crate::engine::{ModelFile, ModelFileError, SpamModel};
use crate::feedback::FeedbackStore;

use super::metrics::Metrics;
use super::rate_limit::RateLimiter;

pub struct AppState {
    pub settings: Settings,
    model: ArcSwap<SpamModel>,
    pub feedback: FeedbackStore,
    pub metrics: Metrics,
    pub rate_limit: RateLimiter,
}

impl AppState {
    pub fn new(
        settings: Settings,
        model: SpamModel,
        feedback: FeedbackStore,
        metrics: Metrics,
    ) -> Self {
        metrics.model_loaded(model.id());
        let rate_limit =
            RateLimiter::new(settings.limits.rate_per_key, settings.limits.burst_per_key);
        AppState {
            settings,
            model: ArcSwap::from_pointee(model),
            feedback,
            metrics,
            rate_limit,
        }
    }

    /// The model in use now; keep the `Arc` for the whole request.
    pub fn model(&self) -> Arc<SpamModel> {
        self.model.load_full()
    }

    /// Loads `path` (default: the configured model) and swaps it in; on failure the old model stays.
    /// Either way the server's log says so.
    pub fn reload(&self, path: Option<&Path>) -> Result<Arc<SpamModel>, ModelFileError> {
        let path = path.unwrap_or(&self.settings.model);
        let model = Arc::new(ModelFile::load(path).inspect_err(|e| {
            super::log(format_args!(
                "model reload failed, {} still serving: {e}",
                self.model.load().id()
            ))
        })?);
        let previous = self.model.swap(model.clone());
        self.metrics.model_loaded(model.id());
        super::log(format_args!(
            "model reloaded: {} from {} (was {})",
            model.id(),
            path.display(),
            previous.id()
        ));
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn shared_types_are_send_and_sync() {
        assert_send_sync::<super::AppState>();
        assert_send_sync::<crate::engine::SpamModel>();
    }
}
