//! A gRPC client over Tongdao's mTLS, driven by descriptors: JSON in, JSON out. Used by
//! `tongdao call`, the demo and the benchmark.

use std::{path::PathBuf, time::Duration};

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use rustls_pki_types::ServerName;
use tongdao_core::codec::RawCodec;
use tongdao_schemas::descriptors;
use tongdao_tls::{ClientTls, Material};
use tonic::{
    Status,
    metadata::{MetadataKey, MetadataMap, MetadataValue},
    transport::{Channel, Endpoint},
};

/// Certificate files a client presents and trusts.
#[derive(Debug, Clone)]
pub struct ClientFiles {
    /// PEM chain: the client certificate, then its issuing CA.
    pub certificate: PathBuf,
    /// PEM private key.
    pub private_key: PathBuf,
    /// PEM trust anchors for the server's certificate.
    pub trust_anchors: Vec<PathBuf>,
}

/// Opens a channel to `addr` (`host:port`) over mTLS, verifying the server as `server_name`
/// (defaults to the host part of `addr`). The connection is made on first use: with TLS 1.3 a
/// refused client certificate shows up on the first call, not here.
pub fn channel(
    files: &ClientFiles,
    addr: &str,
    server_name: Option<&str>,
) -> Result<Channel, String> {
    let material = Material::load(
        &files.certificate,
        &files.private_key,
        &files.trust_anchors,
        &[],
    )
    .map_err(|e| e.to_string())?;
    let tls = ClientTls::new(&material).map_err(|e| format!("TLS: {e}"))?;
    let host = server_name.map(str::to_owned).unwrap_or_else(|| {
        addr.rsplit_once(':')
            .map_or(addr, |(host, _)| host)
            .trim_matches(['[', ']'])
            .to_owned()
    });
    lazy_channel(&tls, addr, &host)
}

/// A channel to `addr` whose connections are TLS by `tls`, verifying the server as `server_name`.
fn lazy_channel(tls: &ClientTls, addr: &str, server_name: &str) -> Result<Channel, String> {
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| format!("server name {server_name:?}: {e}"))?;
    // The scheme is nominal: the connector does the TLS.
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| format!("address {addr:?}: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    Ok(endpoint.connect_with_connector_lazy(tls.connector(name)))
}

/// Like [`channel`], but presenting no client certificate (to check that servers refuse it).
pub fn anonymous_channel(
    trust_anchor: &std::path::Path,
    addr: &str,
    server_name: &str,
) -> Result<Channel, String> {
    let roots = tongdao_tls::certificates(trust_anchor).map_err(|e| e.to_string())?;
    let tls = ClientTls::without_client_certificate(&roots).map_err(|e| format!("TLS: {e}"))?;
    lazy_channel(&tls, addr, server_name)
}

/// Finds a method by `package.Service/Method` (a leading `/` is allowed).
pub fn method(path: &str) -> Result<MethodDescriptor, String> {
    let trimmed = path.trim_start_matches('/');
    let (service, method) = trimmed
        .split_once('/')
        .ok_or_else(|| format!("{path:?}: expected package.Service/Method"))?;
    let service = descriptors::pool()
        .get_service_by_name(service)
        .ok_or_else(|| format!("{service}: no such service in the schemas"))?;
    let found = service.methods().find(|m| m.name() == method);
    found.ok_or_else(|| format!("{}: no method {method}", service.full_name()))
}

/// Encodes a JSON request as the method's input message.
pub fn encode_json(method: &MethodDescriptor, json: &str) -> Result<Bytes, String> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let message = DynamicMessage::deserialize(method.input(), &mut deserializer).map_err(|e| {
        format!(
            "request is not a valid {} in JSON: {e}",
            method.input().full_name()
        )
    })?;
    deserializer
        .end()
        .map_err(|e| format!("trailing characters after the JSON request: {e}"))?;
    Ok(Bytes::from(message.encode_to_vec()))
}

/// Decodes a response message to JSON (proto3 JSON mapping).
pub fn decode_json(method: &MethodDescriptor, body: Bytes) -> Result<serde_json::Value, String> {
    let message = DynamicMessage::decode(method.output(), body).map_err(|e| {
        format!(
            "response is not a valid {}: {e}",
            method.output().full_name()
        )
    })?;
    serde_json::to_value(&message).map_err(|e| format!("response to JSON: {e}"))
}

/// Makes a unary call with raw bytes; on success returns the response body and metadata
/// (headers and trailers).
pub async fn unary(
    channel: Channel,
    path: &str,
    body: Bytes,
    metadata: &[(String, String)],
    timeout: Option<Duration>,
) -> Result<(Bytes, MetadataMap), Status> {
    let mut request = tonic::Request::new(body);
    for (key, value) in metadata {
        let key = MetadataKey::from_bytes(key.as_bytes())
            .map_err(|_| Status::invalid_argument(format!("bad metadata key {key:?}")))?;
        let value = MetadataValue::try_from(value.as_str())
            .map_err(|_| Status::invalid_argument(format!("bad metadata value for {key}")))?;
        request.metadata_mut().insert(key, value);
    }
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    let path = format!("/{}", path.trim_start_matches('/'));
    let path = http::uri::PathAndQuery::try_from(path)
        .map_err(|_| Status::invalid_argument("method path is not a valid URI path"))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("cannot connect: {e}")))?;
    let response = grpc.unary(request, path, RawCodec).await?;
    let (metadata, body, _) = response.into_parts();
    Ok((body, metadata))
}

/// A one-line description of an error status: code, Tongdao reason, message.
pub fn describe_status(status: &Status) -> String {
    let reason = tongdao_core::Rejection::reason_of(status)
        .map(|r| r.as_str_name().to_owned())
        .unwrap_or_else(|| "-".to_owned());
    format!(
        "code={:?} reason={reason} message={:?}",
        status.code(),
        status.message()
    )
}

/// The innermost cause of a transport-level failure, e.g. `received fatal alert: UnknownCA`
/// when the server refused our certificate in the handshake.
pub fn transport_cause(status: &Status) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    let mut innermost = None;
    while let Some(error) = cause {
        innermost = Some(error.to_string());
        cause = error.source();
    }
    innermost
}
