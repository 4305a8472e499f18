//! An OTLP trace collector on loopback, built on OpenTelemetry's own protobuf types: the
//! gRPC `TraceService` (tonic, on a thread and runtime of its own) or, for `http/protobuf`,
//! a [`TestServer`] whose posts are decoded. Either way every span is kept flat, with its
//! resource, for the tests to search.

use std::net::{SocketAddr, TcpListener};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;

use super::wait::wait_for;
use super::{Response, TestServer, DEADLINE};

/// One span as the collector got it.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub attributes: Vec<(String, String)>,
    /// The resource's attributes (`service.name`, ...).
    pub resource: Vec<(String, String)>,
    /// OTLP's status code: 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    pub status_message: String,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
}

impl ReceivedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn resource(&self, key: &str) -> Option<&str> {
        self.resource
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

type Spans = Arc<Mutex<Vec<ReceivedSpan>>>;
/// The headers of each export, names in lowercase.
type Metadata = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// Where spans come in.
enum Listening {
    Grpc {
        addr: SocketAddr,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        /// The metadata (headers) of each export.
        metadata: Metadata,
    },
    Http(TestServer),
}

/// A collector; stops when dropped.
pub struct Collector {
    listening: Listening,
    spans: Spans,
}

impl Collector {
    /// An OTLP/gRPC collector.
    pub fn grpc() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener for tokio");
        let addr = listener.local_addr().expect("local address");
        let spans: Spans = Arc::default();
        let metadata: Metadata = Arc::default();
        let service = Receiving {
            spans: spans.clone(),
            metadata: metadata.clone(),
        };
        let (ready, started) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        thread::Builder::new()
            .name("otlp-collector".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the collector");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("register the listener with tokio");
                    let _ = ready.send(());
                    Server::builder()
                        .add_service(TraceServiceServer::new(service))
                        .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                            let _ = stopped.await;
                        })
                        .await
                        .expect("the collector failed");
                });
            })
            .expect("spawn the collector thread");
        started
            .recv_timeout(DEADLINE)
            .expect("the collector did not start");
        Collector {
            listening: Listening::Grpc {
                addr,
                stop: Some(stop),
                metadata,
            },
            spans,
        }
    }

    /// An OTLP/HTTP collector taking protobuf posts on `/v1/traces`.
    pub fn http() -> Self {
        let spans: Spans = Arc::default();
        let kept = spans.clone();
        let server = TestServer::start(move |request, _| {
            if request.path() != "/v1/traces" {
                return Response::status(404);
            }
            match ExportTraceServiceRequest::decode(request.body.as_slice()) {
                Ok(export) => {
                    kept.lock().expect("spans").extend(flatten(export));
                    let answer = ExportTraceServiceResponse::default().encode_to_vec();
                    Response::ok(answer).header("Content-Type", "application/x-protobuf")
                }
                Err(_) => Response::status(400),
            }
        });
        Collector {
            listening: Listening::Http(server),
            spans,
        }
    }

    /// The `telemetry.otlp.endpoint` to configure.
    pub fn endpoint(&self) -> String {
        match &self.listening {
            Listening::Grpc { addr, .. } => format!("http://{addr}"),
            Listening::Http(server) => server.url("/v1/traces"),
        }
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("spans").clone()
    }

    /// The metadata of every gRPC export so far.
    pub fn metadata(&self) -> Vec<Vec<(String, String)>> {
        match &self.listening {
            Listening::Grpc { metadata, .. } => metadata.lock().expect("metadata").clone(),
            Listening::Http(server) => server
                .requests()
                .into_iter()
                .map(|request| {
                    request
                        .headers
                        .into_iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v))
                        .collect()
                })
                .collect(),
        }
    }

    /// Waits for a span that `matches`.
    #[track_caller]
    pub fn wait_for_span(
        &self,
        what: &str,
        matches: impl Fn(&ReceivedSpan) -> bool,
    ) -> ReceivedSpan {
        wait_for(SPAN_PATIENCE, what, || {
            self.spans().into_iter().find(|s| matches(s))
        })
        .unwrap_or_else(|timed_out| {
            let names: Vec<String> = self
                .spans()
                .iter()
                .map(|s| format!("{} {:?}", s.name, s.attribute("flowstate.host")))
                .collect();
            panic!("{timed_out}; spans so far: {names:?}")
        })
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Listening::Grpc { stop, .. } = &mut self.listening {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
        }
    }
}

struct Receiving {
    spans: Spans,
    metadata: Metadata,
}

#[tonic::async_trait]
impl TraceService for Receiving {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let metadata = request
            .metadata()
            .iter()
            .filter_map(|entry| match entry {
                tonic::metadata::KeyAndValueRef::Ascii(key, value) => Some((
                    key.as_str().to_string(),
                    value.to_str().unwrap_or_default().to_string(),
                )),
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            })
            .collect();
        self.metadata.lock().expect("metadata").push(metadata);
        self.spans
            .lock()
            .expect("spans")
            .extend(flatten(request.into_inner()));
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn flatten(export: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut spans = Vec::new();
    for resource_spans in export.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| pairs(&r.attributes))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                let status = span.status.unwrap_or_default();
                spans.push(ReceivedSpan {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: pairs(&span.attributes),
                    resource: resource.clone(),
                    status_code: status.code,
                    status_message: status.message,
                    start_unix_nano: span.start_time_unix_nano,
                    end_unix_nano: span.end_time_unix_nano,
                });
            }
        }
    }
    spans
}

fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(AnyValue::StringValue(s)) => s.clone(),
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                Some(AnyValue::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How long a test waits for spans that a batch may hold up to half a second.
pub const SPAN_PATIENCE: Duration = Duration::from_secs(15);
