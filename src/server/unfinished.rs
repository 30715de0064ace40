//! A connection whose chunked request body was left unfinished is closed once it is answered.
//!
//! When a handler answers without reading a chunked body to its end (a 401, 404 or 413 answered
//! before the body, or a 408 for a client that stopped sending), actix-http keeps the connection and
//! reads on to the body's end, with no deadline: a client that never sends it would hold the
//! connection open forever, and enough of them would leave the server unable to accept any. For a
//! body with a Content-Length it closes the connection instead, and it does the same for a chunked
//! one whose reader still exists when the answer goes out. So for chunked requests this middleware
//! hands the handler a reader that shares the body, and keeps the body until the answer is sent.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::TRANSFER_ENCODING;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

/// Middleware: see the module's documentation.
pub async fn close_if_unfinished<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, Holding>>, actix_web::Error> {
    let chunked = req
        .headers()
        .get(TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if !chunked {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let body = Rc::new(RefCell::new(req.take_payload()));
    req.set_payload(Payload::Stream {
        payload: Box::pin(Shared(Rc::clone(&body))),
    });
    let res = next.call(req).await?.map_into_boxed_body();
    Ok(res.map_body(|_, answer| {
        EitherBody::right(Holding {
            answer,
            _request_body: body,
        })
    }))
}

/// The handler's reader of a body the middleware also holds.
struct Shared(Rc<RefCell<Payload>>);

impl Stream for Shared {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_next(cx)
    }
}

/// An answer that holds its request's body until it has been sent.
pub struct Holding {
    answer: BoxBody,
    _request_body: Rc<RefCell<Payload>>,
}

impl MessageBody for Holding {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.answer.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.answer).poll_next(cx)
    }
}
