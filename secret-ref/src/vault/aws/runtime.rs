//! What lets AWS's own credential chain (`aws-config`) run without an async runtime: its
//! HTTP calls go through the same blocking ureq client as everything else, its sleeps are
//! thread sleeps, and its futures are driven by `pollster`.
//!
//! The connector performs the request inside `call` and returns a future that is already
//! complete. That is right here, where a thread is blocked in `pollster::block_on` anyway; it
//! would not be inside an async executor, which is why none is used.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use aws_smithy_async::rt::sleep::{AsyncSleep, Sleep};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;

/// aws-config's HTTP client: STS, the container (ECS) and instance (IMDS) metadata services.
#[derive(Debug)]
pub(super) struct UreqClient;

impl HttpClient for UreqClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(settings.connect_timeout())
            .timeout_recv_response(settings.read_timeout())
            // Metadata services are link-local: never through HTTP(S)_PROXY.
            .proxy(None)
            .max_redirects(0)
            .build()
            .into();
        SharedHttpConnector::new(UreqConnector(agent))
    }
}

#[derive(Debug, Clone)]
struct UreqConnector(ureq::Agent);

impl HttpConnector for UreqConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(self.run(request))
    }
}

impl UreqConnector {
    fn run(&self, request: HttpRequest) -> Result<Response<SdkBody>, ConnectorError> {
        let mut builder = ureq::http::Request::builder()
            .method(request.method())
            .uri(request.uri());
        for (name, value) in request.headers().iter() {
            builder = builder.header(name, value);
        }
        let body = request.body().bytes().unwrap_or_default().to_vec();
        let request = builder
            .body(body)
            .map_err(|e| ConnectorError::other(e.into(), None))?;
        let mut response = self.0.run(request).map_err(|e| match e {
            ureq::Error::Timeout(_) => ConnectorError::timeout(e.into()),
            _ => ConnectorError::io(e.into()),
        })?;
        let status = StatusCode::try_from(response.status().as_u16())
            .map_err(|e| ConnectorError::other(e.into(), None))?;
        let bytes = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| ConnectorError::io(e.into()))?;
        let mut out = Response::new(status, SdkBody::from(bytes));
        for (name, value) in response.headers() {
            if let Ok(value) = value.to_str() {
                out.headers_mut()
                    .append(name.as_str().to_owned(), value.to_owned());
            }
        }
        Ok(out)
    }
}

/// Sleeps on a thread of its own, then wakes the future.
#[derive(Debug)]
pub(super) struct ThreadSleep;

type SleepState = Arc<Mutex<(bool, Option<Waker>)>>;

struct SleepFuture(SleepState);

impl Future for SleepFuture {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = crate::cache::lock(&self.0);
        if state.0 {
            Poll::Ready(())
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl AsyncSleep for ThreadSleep {
    fn sleep(&self, duration: Duration) -> Sleep {
        let state: SleepState = Arc::new(Mutex::new((false, None)));
        let done = state.clone();
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            let mut state = crate::cache::lock(&done);
            state.0 = true;
            if let Some(waker) = state.1.take() {
                waker.wake();
            }
        });
        Sleep::new(SleepFuture(state))
    }
}
