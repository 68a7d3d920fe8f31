//! When the adapter behind a route is down or too slow, the caller gets ADAPTER_UNAVAILABLE or
//! ADAPTER_TIMEOUT, and an adapter that answers garbage gets ADAPTER_FAILED.

use std::{net::SocketAddr, time::Duration};

use tongdao_core::Reason;
use tongdao_integration_tests::{
    GET_TRANSCRIPT, assert_refused, sandbox::Sandbox, transcript_request,
};
use tongdao_schemas::household::v1::{
    GetTranscriptRequest, Transcript,
    household_registry_server::{HouseholdRegistry, HouseholdRegistryServer},
};
use tonic::{Code, Request, Response, Status};

/// Starts a broker from the sandbox's configuration with the household route changed.
async fn broker_routed_to(sandbox: &Sandbox, endpoint: SocketAddr, timeout_ms: u64) -> SocketAddr {
    let config =
        tongdao_config::Config::load(&sandbox.config_path(), std::iter::empty()).expect("config");
    let mut broker_config = config.broker.expect("broker section");
    broker_config.routes[0].endpoints = vec![endpoint.to_string()];
    broker_config.routes[0].timeout_ms = timeout_ms;
    let broker = tongdao_broker::Broker::from_config(&broker_config).expect("broker builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(broker.serve(listener, std::future::pending()));
    addr
}

async fn call(sandbox: &Sandbox, broker: SocketAddr, deadline: Duration) -> Result<(), Status> {
    let files = sandbox.agency_files("taipei-tax");
    let channel = tongdao_cli::client::channel(
        &files,
        &broker.to_string(),
        Some(sandbox.broker_server_name()),
    )
    .expect("channel");
    let metadata = [("tongdao-purpose".to_owned(), "095".to_owned())];
    tongdao_cli::client::unary(
        channel,
        GET_TRANSCRIPT,
        transcript_request(&sandbox.subject_ids()[0]),
        &metadata,
        Some(deadline),
    )
    .await
    .map(|_| ())
}

/// A household adapter that answers after `delay` (or with garbage), remembering the
/// `grpc-timeout` it was given.
#[derive(Clone, Default)]
struct Scripted {
    delay: Duration,
    garbage: bool,
    seen_timeout: std::sync::Arc<std::sync::Mutex<Option<Duration>>>,
}

#[tonic::async_trait]
impl HouseholdRegistry for Scripted {
    async fn get_transcript(
        &self,
        request: Request<GetTranscriptRequest>,
    ) -> Result<Response<Transcript>, Status> {
        let timeout = request
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(tongdao_core::deadline::parse_grpc_timeout);
        *self.seen_timeout.lock().expect("lock") = timeout;
        tokio::time::sleep(self.delay).await;
        Ok(Response::new(Transcript::default()))
    }
}

async fn scripted_adapter(sandbox: &Sandbox, behaviour: Scripted) -> SocketAddr {
    let config =
        tongdao_config::Config::load(&sandbox.config_path(), std::iter::empty()).expect("config");
    let household = config.adapters.household.expect("adapter section");
    let server = tongdao_adapter_sdk::AdapterServer::new("scripted", &household.server)
        .expect("adapter builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    if behaviour.garbage {
        tokio::spawn(server.serve(listener, garbage::GarbageServer, std::future::pending()));
    } else {
        tokio::spawn(server.serve(
            listener,
            HouseholdRegistryServer::new(behaviour),
            std::future::pending(),
        ));
    }
    addr
}

fn sandbox() -> Sandbox {
    tongdao_tls::install_crypto_provider();
    Sandbox::create(5).expect("sandbox")
}

#[tokio::test]
async fn adapter_down_is_unavailable() {
    let sandbox = sandbox();
    // Bind and drop: a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let broker = broker_routed_to(&sandbox, closed, 2_000).await;
    assert_refused(
        call(&sandbox, broker, Duration::from_secs(5)).await,
        Code::Unavailable,
        Reason::AdapterUnavailable,
    );
}

#[tokio::test]
async fn adapter_slower_than_the_route_timeout_times_out() {
    let sandbox = sandbox();
    let slow = scripted_adapter(
        &sandbox,
        Scripted {
            delay: Duration::from_secs(3),
            ..Scripted::default()
        },
    )
    .await;
    let broker = broker_routed_to(&sandbox, slow, 300).await;
    let started = std::time::Instant::now();
    assert_refused(
        call(&sandbox, broker, Duration::from_secs(10)).await,
        Code::DeadlineExceeded,
        Reason::AdapterTimeout,
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at the route timeout, not the adapter's pace"
    );
}

#[tokio::test]
async fn caller_deadline_is_propagated_to_the_adapter() {
    let sandbox = sandbox();
    let adapter = Scripted {
        delay: Duration::from_secs(3),
        ..Scripted::default()
    };
    let seen = adapter.seen_timeout.clone();
    let slow = scripted_adapter(&sandbox, adapter).await;
    let broker = broker_routed_to(&sandbox, slow, 10_000).await;
    let started = std::time::Instant::now();
    let outcome = call(&sandbox, broker, Duration::from_millis(400)).await;
    // The client's own timer and the broker's fire together; either code says "too late".
    let code = outcome.expect_err("deadline").code();
    assert!(
        matches!(code, Code::DeadlineExceeded | Code::Cancelled),
        "{code:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the caller's deadline bounds the exchange"
    );
    let propagated = seen
        .lock()
        .expect("lock")
        .expect("the adapter received a grpc-timeout");
    assert!(
        propagated <= Duration::from_millis(400) && propagated > Duration::from_millis(100),
        "{propagated:?}"
    );
}

#[tokio::test]
async fn adapter_answering_garbage_fails_cleanly() {
    let sandbox = sandbox();
    let garbage = scripted_adapter(
        &sandbox,
        Scripted {
            garbage: true,
            ..Scripted::default()
        },
    )
    .await;
    let broker = broker_routed_to(&sandbox, garbage, 2_000).await;
    assert_refused(
        call(&sandbox, broker, Duration::from_secs(5)).await,
        Code::Internal,
        Reason::AdapterFailed,
    );
}

/// A server for the household service name that answers every call with bytes that are not a
/// `Transcript`.
mod garbage {
    use std::{
        convert::Infallible,
        future::{Ready, ready},
        task::{Context, Poll},
    };

    use tonic::{body::Body, server::NamedService};

    #[derive(Clone)]
    pub(super) struct GarbageServer;

    impl NamedService for GarbageServer {
        const NAME: &'static str = "tongdao.household.v1.HouseholdRegistry";
    }

    impl tower::Service<http::Request<Body>> for GarbageServer {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<Body>) -> Self::Future {
            // One gRPC frame holding field 1 as a 200-byte string that stops after 1 byte.
            let frame: &'static [u8] = &[0, 0, 0, 0, 4, 0x0a, 0xc8, 0x01, b'x'];
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            let body = http_body_util::StreamBody::new(futures::stream::iter([
                Ok::<_, Infallible>(http_body::Frame::data(bytes::Bytes::from_static(frame))),
                Ok(http_body::Frame::trailers(trailers)),
            ]));
            let response = http::Response::builder()
                .header("content-type", "application/grpc")
                .body(Body::new(body))
                .expect("valid response");
            ready(Ok(response))
        }
    }
}
