//! [`HookLayer`]: the one tower layer every cross-cutting concern of the request path is built
//! on. A concern is a [`Hook`]: a synchronous look at the request before the inner service
//! (pass it on, pass it on and come back after, wait first, or answer at once) and a synchronous
//! look at the answer after. The layer's future wraps the inner one without boxing and without
//! cloning the inner service per request; only a delayed request (an injected latency) takes a
//! boxed path.
//!
//! It replaces axum's `from_fn` middleware on the request path, which clones the whole inner
//! stack and boxes a future per layer per request (see BENCHMARKS.md, "Speed as users run it").
//! Why the shapes: `before` and `after` are synchronous because none of the concerns waits on
//! anything but the injected latency (the two delayed steps, for the fault hook); a hook's
//! carry is boxed when it is large (the journal's entry, the log's request), because the
//! answer's future is moved out through every layer and a pointer moves cheaper than an entry.
//!
//! `before` runs when the service is called, not when its future is first polled: a caller
//! that drops the future unpolled has still spent the request's credit, drawn its fault and
//! taken its journal id (hyper always polls; `oneshot` too).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service, ServiceExt};

/// What a [`Hook`] decides before the inner service runs.
pub(crate) enum Step<C> {
    /// Pass the request on; nothing to do after.
    Pass,
    /// Pass the request on, then call [`Hook::after`] with this on its answer.
    Next(C),
    /// Wait this long, then as [`Step::Next`].
    Delay(Duration, C),
    /// Answer now; the inner service never sees the request.
    Answer(Response),
    /// Wait this long, then answer with what the function makes then; the inner service never
    /// sees the request.
    AnswerAfter(Duration, Box<dyn FnOnce() -> Response + Send>),
}

/// One concern of the request path.
pub(crate) trait Hook: Clone + Send + Sync + 'static {
    /// What [`before`](Hook::before) hands to [`after`](Hook::after).
    type Carry: Send + 'static;

    /// Looks at (and may change) the request before the inner service.
    fn before(&self, req: &mut Request) -> Step<Self::Carry>;

    /// Looks at (and may change or replace) the inner service's answer.
    fn after(&self, carry: Self::Carry, res: Response) -> Response;
}

/// The layer of one [`Hook`].
#[derive(Clone)]
pub(crate) struct HookLayer<H>(pub H);

impl<H: Hook, S> Layer<S> for HookLayer<H> {
    type Service = HookService<H, S>;

    fn layer(&self, inner: S) -> Self::Service {
        HookService {
            hook: self.0.clone(),
            inner,
        }
    }
}

/// The service of one [`Hook`] around `S`.
#[derive(Clone)]
pub(crate) struct HookService<H, S> {
    hook: H,
    inner: S,
}

type BoxedAnswer = Pin<Box<dyn Future<Output = Response> + Send>>;

impl<H, S> Service<Request> for HookService<H, S>
where
    H: Hook,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = HookFuture<H, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    #[inline(always)]
    fn call(&mut self, mut req: Request) -> Self::Future {
        let (kind, then) = match self.hook.before(&mut req) {
            Step::Pass => (
                Kind::Inner {
                    fut: self.inner.call(req),
                },
                None,
            ),
            Step::Next(carry) => (
                Kind::Inner {
                    fut: self.inner.call(req),
                },
                Some((self.hook.clone(), carry)),
            ),
            Step::Delay(delay, carry) => {
                // The inner service is called once the delay is over, so it is readied then
                // (`oneshot`) on a clone of its own.
                let inner = self.inner.clone();
                let fut: BoxedAnswer = Box::pin(async move {
                    tokio::time::sleep(delay).await;
                    inner.oneshot(req).await.unwrap_or_else(|e| match e {})
                });
                (Kind::Boxed { fut }, Some((self.hook.clone(), carry)))
            }
            Step::Answer(res) => (Kind::Answer { res: Some(res) }, None),
            Step::AnswerAfter(delay, answer) => {
                let fut: BoxedAnswer = Box::pin(async move {
                    tokio::time::sleep(delay).await;
                    answer()
                });
                (Kind::Boxed { fut }, None)
            }
        };
        HookFuture { kind, then }
    }
}

pin_project! {
    /// The future of a [`HookService`].
    pub(crate) struct HookFuture<H: Hook, F> {
        #[pin]
        kind: Kind<F>,
        then: Option<(H, H::Carry)>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] fut: F },
        Boxed { fut: BoxedAnswer },
        Answer { res: Option<Response> },
    }
}

impl<H, F> Future for HookFuture<H, F>
where
    H: Hook,
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = match this.kind.project() {
            KindProj::Inner { fut } => ready!(fut.poll(cx)).unwrap_or_else(|e| match e {}),
            KindProj::Boxed { fut } => ready!(fut.as_mut().poll(cx)),
            // An answer given at once; polled again after completing (a misuse, as for any
            // future), it gives an empty 500.
            KindProj::Answer { res } => res.take().unwrap_or_else(|| {
                let mut res = Response::default();
                *res.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                res
            }),
        };
        Poll::Ready(Ok(match this.then.take() {
            Some((hook, carry)) => hook.after(carry, res),
            None => res,
        }))
    }
}
