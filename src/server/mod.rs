//! The HTTP service (next issue): routes, one API error type and shared state on actix-web.
