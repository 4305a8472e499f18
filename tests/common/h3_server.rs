//! A loopback HTTP/3 target: quinn + h3 on `127.0.0.1:0` (UDP), answering like [`TestServer`].
//!
//! [`H3Server`] runs a QUIC endpoint on a thread and tokio runtime of its own, so it shares
//! nothing with the code under test but the wire. It presents a certificate of the test's
//! choosing ([`Leaf`], from [`super::certs::TestCa`]) with ALPN `h3`, records every request
//! (method, path, headers, body) as a [`Request`], and answers with the [`Response`] its
//! handler returns: status, headers, body, a delay before the headers. Dropping it closes the
//! endpoint. [`SilentUdp`] is a bound UDP port that never answers: a blocked UDP path.
//!
//! [`TestServer`]: super::TestServer

use std::net::{SocketAddr, UdpSocket};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};

use bytes::{Buf, Bytes};
use quinn::crypto::rustls::QuicServerConfig;

use super::certs::Leaf;
use super::server::{Request, Response};
use super::DEADLINE;

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    requests: Mutex<Vec<Request>>,
}

/// The server. Stops when dropped.
pub struct H3Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    endpoint: quinn::Endpoint,
    thread: Option<JoinHandle<()>>,
}

impl H3Server {
    /// Answers every request with what `handler` returns, presenting `leaf`.
    pub fn start(
        leaf: &Leaf,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.cert.clone()], leaf.key.clone_key())
            .expect("a usable server certificate");
        tls.alpn_protocols = vec![b"h3".to_vec()];
        let quic = QuicServerConfig::try_from(tls).expect("a QUIC server config");
        let config = quinn::ServerConfig::with_crypto(Arc::new(quic));
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP port");
        let addr = socket.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
        });
        let (started, endpoint) = mpsc::channel();
        let thread = {
            let shared = shared.clone();
            thread::Builder::new()
                .name(format!("h3-server-{}", addr.port()))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a tokio runtime");
                    runtime.block_on(async move {
                        let endpoint = quinn::Endpoint::new(
                            quinn::EndpointConfig::default(),
                            Some(config),
                            socket,
                            Arc::new(quinn::TokioRuntime),
                        )
                        .expect("a QUIC endpoint");
                        let _ = started.send(endpoint.clone());
                        while let Some(incoming) = endpoint.accept().await {
                            tokio::spawn(serve_connection(incoming, shared.clone()));
                        }
                    })
                })
                .expect("spawn the HTTP/3 server thread")
        };
        let endpoint = endpoint
            .recv_timeout(DEADLINE)
            .expect("the HTTP/3 server started");
        H3Server {
            addr,
            shared,
            endpoint,
            thread: Some(thread),
        }
    }

    /// Answers every request the same way.
    pub fn always(leaf: &Leaf, response: Response) -> Self {
        Self::start(leaf, move |_| response.clone())
    }

    /// The UDP port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The only request received; fails the test if there were none or several.
    #[track_caller]
    pub fn single_request(&self) -> Request {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "expected one request, got {requests:#?}");
        requests.into_iter().next().unwrap()
    }
}

impl Drop for H3Server {
    fn drop(&mut self) {
        // Ends `accept` (the loop and the thread) and every connection.
        self.endpoint.close(0u32.into(), b"stopping");
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve_connection(incoming: quinn::Incoming, shared: Arc<Shared>) {
    let Ok(connection) = incoming.await else {
        return;
    };
    let Ok(mut h3) =
        h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(connection)).await
    else {
        return;
    };
    while let Ok(Some(resolver)) = h3.accept().await {
        tokio::spawn(serve_request(resolver, shared.clone()));
    }
}

async fn serve_request(
    resolver: h3::server::RequestResolver<h3_quinn::Connection, Bytes>,
    shared: Arc<Shared>,
) {
    let Ok((head, mut stream)) = resolver.resolve_request().await else {
        return;
    };
    let mut body = Vec::new();
    while let Ok(Some(mut chunk)) = stream.recv_data().await {
        while chunk.has_remaining() {
            let part = chunk.chunk();
            body.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    let request = Request {
        method: head.method().to_string(),
        target: head
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: head
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body,
    };
    shared.requests.lock().unwrap().push(request.clone());
    let response = (shared.handler)(&request);
    if !response.delay_before_headers.is_zero() {
        tokio::time::sleep(response.delay_before_headers).await;
    }
    let mut head = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        head = head.header(name.as_str(), value.as_str());
    }
    head = head.header("content-length", response.body.len());
    let Ok(head) = head.body(()) else {
        return;
    };
    if stream.send_response(head).await.is_err() {
        return;
    }
    if !response.body.is_empty() {
        let _ = stream.send_data(Bytes::from(response.body.clone())).await;
    }
    let _ = stream.finish().await;
}

/// A loopback UDP port that is bound and never answers: what a firewall dropping UDP looks
/// like to a QUIC client. Released when dropped.
pub struct SilentUdp {
    socket: UdpSocket,
}

impl SilentUdp {
    pub fn bind() -> Self {
        SilentUdp {
            socket: UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP port"),
        }
    }

    pub fn port(&self) -> u16 {
        self.socket.local_addr().expect("local address").port()
    }
}
