//! The exporter thread: one per pipeline, with its own single-threaded runtime, so exporting
//! never runs on (or waits for) a checking thread.
//!
//! Checks hand their spans over with `try_send` on a bounded queue: a full queue drops the
//! spans and counts them, it never blocks. The thread sends batches of up to [`BATCH`] spans,
//! or what it holds after [`LINGER`]; a failed or timed-out export drops its batch and counts
//! it (no retry queue to grow while a collector is down), and is logged at most once a minute.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use flowstate_config::secret::redact_url;
use flowstate_config::telemetry::{OtlpProtocol, OtlpSettings};
use opentelemetry_otlp::{
    Protocol, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use opentelemetry_sdk::Resource;
use tokio::sync::mpsc;
use tonic::metadata::{Ascii, MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, ClientTlsConfig};

use super::counters::{self, DropReason};
use super::TelemetryError;

/// Spans waiting for the exporter; beyond this they are dropped. About 4 seconds of a
/// 1 000-checks-a-second load with a few phases each.
pub(super) const QUEUE_CAPACITY: usize = 16_384;
/// The most spans in one export request.
const BATCH: usize = 512;
/// How long a span may wait for its batch to fill.
const LINGER: Duration = Duration::from_millis(500);
/// How often export failures are logged, at most.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The checks' end of the queue.
pub(super) struct SpanQueue {
    sender: mpsc::Sender<SpanData>,
    /// Set by [`SpanQueue::flush`]: send everything now.
    flush_wanted: Arc<AtomicBool>,
    flushed: Mutex<std_mpsc::Receiver<()>>,
}

impl SpanQueue {
    /// Starts the exporter thread; fails when the exporter cannot be built (a `ca_file` that
    /// does not read), before anything is queued.
    pub(super) fn start(otlp: &OtlpSettings, resource: Resource) -> Result<Self, TelemetryError> {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let (flushed_tx, flushed_rx) = std_mpsc::channel();
        let flush_wanted = Arc::new(AtomicBool::new(false));
        let thread = Exporting {
            otlp: otlp.clone(),
            resource,
            receiver,
            flush_wanted: flush_wanted.clone(),
            flushed: flushed_tx,
        };
        let spawned = std::thread::Builder::new()
            .name("flowstate-otlp".into())
            .spawn(move || thread.run(ready_tx));
        if let Err(error) = spawned {
            return Err(exporter_error(
                otlp,
                format!("cannot start its thread: {error}"),
            ));
        }
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(SpanQueue {
                sender,
                flush_wanted,
                flushed: Mutex::new(flushed_rx),
            }),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(exporter_error(otlp, "its thread ended at start".into())),
        }
    }

    /// Queues `spans`, or drops and counts them when the queue is full.
    pub(super) fn submit(&self, spans: Vec<SpanData>) {
        let mut spans = spans.into_iter();
        while let Some(span) = spans.next() {
            if self.sender.try_send(span).is_err() {
                counters::dropped(DropReason::QueueFull, 1 + spans.len());
                return;
            }
        }
    }

    /// Asks the thread to send everything queued now, and waits up to `within` for it.
    pub(super) fn flush(&self, within: Duration) {
        self.flush_wanted.store(true, Ordering::Relaxed);
        if let Ok(flushed) = self.flushed.lock() {
            let _ = flushed.recv_timeout(within);
        }
    }
}

fn exporter_error(otlp: &OtlpSettings, reason: String) -> TelemetryError {
    TelemetryError::Exporter {
        endpoint: redact_url(&otlp.endpoint),
        reason,
    }
}

/// The thread's end.
struct Exporting {
    otlp: OtlpSettings,
    resource: Resource,
    receiver: mpsc::Receiver<SpanData>,
    flush_wanted: Arc<AtomicBool>,
    flushed: std_mpsc::Sender<()>,
}

impl Exporting {
    fn run(mut self, ready: std_mpsc::Sender<Result<(), TelemetryError>>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                let _ = ready.send(Err(exporter_error(
                    &self.otlp,
                    format!("cannot start its runtime: {error}"),
                )));
                return;
            }
        };
        runtime.block_on(async move {
            // Built inside the runtime: tonic's channel needs one to exist.
            let mut exporter = match build_exporter(&self.otlp) {
                Ok(exporter) => exporter,
                Err(error) => {
                    let _ = ready.send(Err(error));
                    return;
                }
            };
            exporter.set_resource(&self.resource);
            let _ = ready.send(Ok(()));
            self.export_until_closed(exporter).await;
        });
    }

    async fn export_until_closed(&mut self, exporter: SpanExporter) {
        let mut batch: Vec<SpanData> = Vec::with_capacity(BATCH);
        let mut oldest: Option<Instant> = None;
        let mut warned: Option<Instant> = None;
        loop {
            let closed = match tokio::time::timeout(
                Duration::from_millis(100),
                self.receiver.recv(),
            )
            .await
            {
                Ok(Some(span)) => {
                    oldest.get_or_insert_with(Instant::now);
                    batch.push(span);
                    false
                }
                Ok(None) => true,
                Err(_) => false,
            };
            let flushing = self.flush_wanted.swap(false, Ordering::Relaxed);
            loop {
                while batch.len() < BATCH {
                    match self.receiver.try_recv() {
                        Ok(span) => {
                            oldest.get_or_insert_with(Instant::now);
                            batch.push(span);
                        }
                        Err(_) => break,
                    }
                }
                let due = batch.len() >= BATCH
                    || oldest.is_some_and(|at| at.elapsed() >= LINGER)
                    || ((closed || flushing) && !batch.is_empty());
                if !due {
                    break;
                }
                let sending = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                oldest = None;
                self.export(&exporter, sending, &mut warned).await;
                if !(closed || flushing) {
                    break;
                }
            }
            if flushing {
                let _ = self.flushed.send(());
            }
            if closed {
                return;
            }
        }
    }

    async fn export(
        &self,
        exporter: &SpanExporter,
        batch: Vec<SpanData>,
        warned: &mut Option<Instant>,
    ) {
        let spans = batch.len();
        // The exporter's own timeout covers the request; this covers a connection that
        // never answers at all.
        let limit = self.otlp.timeout + Duration::from_secs(1);
        let failure = match tokio::time::timeout(limit, exporter.export(batch)).await {
            Ok(Ok(())) => {
                counters::exported(spans);
                return;
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!(
                "no answer within {}",
                humantime::format_duration(self.otlp.timeout)
            ),
        };
        counters::dropped(DropReason::ExportFailed, spans);
        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *warned = Some(Instant::now());
            log::warn!(
                endpoint = redact_url(&self.otlp.endpoint).as_str(),
                spans,
                error = failure.as_str();
                "cannot export traces; dropping them (counted in flowstate_trace_spans_dropped_total; logged at most once a minute)"
            );
        }
    }
}

fn build_exporter(otlp: &OtlpSettings) -> Result<SpanExporter, TelemetryError> {
    let https = otlp.endpoint.scheme() == "https";
    let built = match otlp.protocol {
        OtlpProtocol::Grpc => {
            let mut metadata = MetadataMap::new();
            for header in &otlp.headers {
                let key =
                    MetadataKey::<Ascii>::from_bytes(header.name.to_ascii_lowercase().as_bytes());
                let value = MetadataValue::<Ascii>::try_from(header.value.as_str());
                match (key, value) {
                    (Ok(key), Ok(value)) => {
                        metadata.insert(key, value);
                    }
                    _ => {
                        return Err(exporter_error(
                            otlp,
                            format!("header `{}` cannot be sent as gRPC metadata", header.name),
                        ))
                    }
                }
            }
            let mut builder = SpanExporter::builder()
                .with_tonic()
                .with_endpoint(otlp.endpoint.as_str())
                .with_timeout(otlp.timeout)
                .with_metadata(metadata);
            if https {
                let mut tls = ClientTlsConfig::new().with_webpki_roots();
                if let Some(path) = &otlp.ca_file {
                    let pem = std::fs::read(path).map_err(|error| {
                        TelemetryError::CaFile(format!("{}: {error}", path.display()))
                    })?;
                    tls = tls.ca_certificate(Certificate::from_pem(pem));
                }
                builder = builder.with_tls_config(tls);
            }
            builder.build()
        }
        OtlpProtocol::HttpProtobuf => {
            // No ALPN here: the connector sets it from the HTTP versions it enables.
            let tls = crate::tls::check_client_config(otlp.ca_file.as_deref(), false, &[])
                .map_err(TelemetryError::CaFile)?;
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .build();
            let client = opentelemetry_http::hyper::HyperClient::new(connector, otlp.timeout, None);
            let headers: HashMap<String, String> = otlp
                .headers
                .iter()
                .map(|header| (header.name.clone(), header.value.clone()))
                .collect();
            SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(otlp.endpoint.as_str())
                .with_timeout(otlp.timeout)
                .with_http_client(client)
                .with_headers(headers)
                .build()
        }
    };
    built.map_err(|error| exporter_error(otlp, error.to_string()))
}
