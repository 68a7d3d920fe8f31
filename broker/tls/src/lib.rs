//! Mutual TLS for the bus: loading certificate material, the server side every Tongdao server
//! shares (TLS 1.3, post-quantum hybrid key exchange preferred, client certificate required and
//! checked against CRLs, handshakes time-limited, HTTP/2 served per connection), and the
//! client side the broker uses toward adapters.

mod client;
mod material;
mod serve;
mod server;

pub use client::{ClientTls, TlsConnector};
pub use material::{Material, MaterialError, certificates};
pub use serve::{HandshakeCounts, Peer, ServeOptions, serve};
pub use server::{HandshakeRefusal, server_config, server_config_for_peer};

/// Installs aws-lc-rs as the process-wide rustls crypto provider. Call first thing in `main`
/// (and in tests): with no default installed, any code path that asks rustls for the default
/// provider panics, and cargo's feature unification can link a second provider.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The crypto provider every Tongdao TLS config is built with: aws-lc-rs, whose default key
/// exchange groups put the X25519MLKEM768 post-quantum hybrid first.
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
