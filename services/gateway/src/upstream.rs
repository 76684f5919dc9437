//! Forwarding calls to the services as raw protobuf bytes: the gateway never decodes a response
//! into Rust types (it masks the encoding itself), so one client serves every method of every
//! service, and a service added later needs no gateway code.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status, Streaming};

/// A codec that passes message bytes through untouched (framing and compression are tonic's).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Request headers passed on to the service: the caller's credentials (services verify them
/// again, defence in depth), the deadline, and the trace context. Nothing else of the caller's
/// reaches a service.
const FORWARDED_HEADERS: &[&str] = &[
    "authorization",
    "grpc-timeout",
    "traceparent",
    "tracestate",
    "x-request-id",
];

/// HTTP/2 connections to each service, used in turn. One connection is served by one task on
/// each side; a few spread the gateway's calls over the cores.
const CONNECTIONS_PER_UPSTREAM: usize = 4;

/// The services' channels, by service name. Channels connect lazily and reconnect by themselves,
/// so a service that is down when the gateway starts, or restarts later, is reached once it is
/// back.
#[derive(Clone)]
pub struct Upstreams {
    channels: HashMap<String, Vec<Channel>>,
    next: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    max_message_bytes: usize,
}

impl Upstreams {
    /// Channels to `endpoints` (service name → `http://host:port`).
    pub fn new(
        endpoints: &HashMap<String, String>,
        max_message_bytes: usize,
    ) -> Result<Self, String> {
        let mut channels = HashMap::new();
        for (name, address) in endpoints {
            let endpoint = Endpoint::from_shared(address.clone())
                .map_err(|e| format!("upstream {name} address {address:?}: {e}"))?
                .connect_timeout(Duration::from_secs(2))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_while_idle(true);
            let pool = (0..CONNECTIONS_PER_UPSTREAM)
                .map(|_| endpoint.connect_lazy())
                .collect();
            channels.insert(name.clone(), pool);
        }
        Ok(Self {
            channels,
            next: std::sync::Arc::default(),
            max_message_bytes,
        })
    }

    fn client(&self, upstream: &str) -> Result<tonic::client::Grpc<Channel>, Status> {
        let pool = self
            .channels
            .get(upstream)
            .filter(|pool| !pool.is_empty())
            .ok_or_else(|| unavailable(upstream))?;
        let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let channel = pool[turn % pool.len()].clone();
        Ok(tonic::client::Grpc::new(channel)
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(self.max_message_bytes))
    }

    /// Forwards a unary call.
    pub async fn unary(
        &self,
        upstream: &str,
        path: &str,
        metadata: &MetadataMap,
        message: Bytes,
    ) -> Result<(MetadataMap, Bytes), Status> {
        let mut client = self.client(upstream)?;
        client.ready().await.map_err(|_| unavailable(upstream))?;
        let reply = client
            .unary(outgoing(metadata, message), path_of(path)?, RawCodec)
            .await
            .map_err(|status| upstream_status(upstream, status))?;
        let (metadata, message, _) = reply.into_parts();
        Ok((metadata, message))
    }

    /// Opens a server-streaming call.
    pub async fn server_streaming(
        &self,
        upstream: &str,
        path: &str,
        metadata: &MetadataMap,
        message: Bytes,
    ) -> Result<Streaming<Bytes>, Status> {
        let mut client = self.client(upstream)?;
        client.ready().await.map_err(|_| unavailable(upstream))?;
        let reply = client
            .server_streaming(outgoing(metadata, message), path_of(path)?, RawCodec)
            .await
            .map_err(|status| upstream_status(upstream, status))?;
        Ok(reply.into_inner())
    }
}

fn outgoing(metadata: &MetadataMap, message: Bytes) -> tonic::Request<Bytes> {
    let mut request = tonic::Request::new(message);
    let headers = metadata.clone().into_headers();
    for name in FORWARDED_HEADERS {
        if let Some(value) = headers.get(*name)
            && let Ok(value) = tonic::metadata::MetadataValue::try_from(value.as_bytes())
        {
            request.metadata_mut().insert(*name, value);
        }
    }
    // The service's span becomes a child of this call's span (replacing the caller's
    // `traceparent`, which is this span's parent), so the trace runs through the gateway.
    dossier_kit::telemetry::inject_context(request.metadata_mut());
    request
}

fn path_of(path: &str) -> Result<PathAndQuery, Status> {
    PathAndQuery::try_from(path).map_err(|_| Status::unimplemented("unknown method"))
}

/// `UNAVAILABLE` naming the service, without transport detail.
pub fn unavailable(upstream: &str) -> Status {
    Status::unavailable(format!("{upstream} is unavailable; retry later"))
}

/// A service's status as the caller sees it. Business errors pass through (their messages are
/// written for callers); transport failures become `UNAVAILABLE` naming the service, and
/// anything internal loses its detail.
pub fn upstream_status(upstream: &str, status: Status) -> Status {
    match status.code() {
        Code::Unavailable | Code::Unknown | Code::Cancelled => {
            tracing::warn!(%upstream, message = status.message(), "upstream call failed");
            unavailable(upstream)
        }
        Code::Internal | Code::DataLoss => {
            tracing::error!(%upstream, message = status.message(), "upstream internal error");
            Status::internal("internal error")
        }
        _ => status,
    }
}
