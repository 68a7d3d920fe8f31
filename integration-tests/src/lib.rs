//! Support for the end-to-end tests: a sandbox (PKI, data, config) with the broker and the
//! household adapter started through the real configuration path, and small call helpers.

use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use tongdao_cli::{
    client::{self, ClientFiles},
    sandbox::{InProcessStack, Sandbox},
};
use tongdao_core::Reason;
use tongdao_schemas::household::v1::{GetTranscriptRequest, Transcript};
use tonic::{Code, Status, metadata::MetadataMap};

pub use tongdao_cli::sandbox;

/// The household transcript method.
pub const GET_TRANSCRIPT: &str = "tongdao.household.v1.HouseholdRegistry/GetTranscript";

/// A running system for one test.
#[derive(Debug)]
pub struct System {
    /// The sandbox on disk.
    pub sandbox: Sandbox,
    /// The servers.
    pub stack: InProcessStack,
}

impl System {
    /// A sandbox of 20 households with broker and adapter running.
    pub async fn start() -> Self {
        tongdao_tls::install_crypto_provider();
        let mut sandbox = Sandbox::create(20).expect("sandbox");
        let stack = InProcessStack::start(&mut sandbox)
            .await
            .expect("stack starts");
        Self { sandbox, stack }
    }

    /// Calls the broker as the holder of `files`.
    pub async fn call(
        &self,
        files: &ClientFiles,
        method: &str,
        body: Bytes,
        metadata: &[(&str, &str)],
    ) -> Result<(Bytes, MetadataMap), Status> {
        let channel = client::channel(
            files,
            &self.sandbox.broker_addr().to_string(),
            Some(self.sandbox.broker_server_name()),
        )
        .expect("channel");
        let metadata: Vec<(String, String)> = metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        client::unary(
            channel,
            method,
            body,
            &metadata,
            Some(Duration::from_secs(10)),
        )
        .await
    }

    /// Asks for the transcript of `national_id` as agency `agency` (a file name under
    /// `agencies/`), for purpose 095.
    pub async fn transcript(&self, agency: &str, national_id: &str) -> Result<Transcript, Status> {
        self.transcript_for(agency, "095", national_id).await
    }

    /// Asks for the transcript of `national_id` as agency `agency` for `purpose`.
    pub async fn transcript_for(
        &self,
        agency: &str,
        purpose: &str,
        national_id: &str,
    ) -> Result<Transcript, Status> {
        let files = self.sandbox.agency_files(agency);
        let (body, _) = self
            .call(
                &files,
                GET_TRANSCRIPT,
                transcript_request(national_id),
                &[("tongdao-purpose", purpose)],
            )
            .await?;
        Ok(Transcript::decode(body).expect("valid transcript"))
    }

    /// Calls `method` through the broker as `identity` (a path stem under the PKI, e.g.
    /// `agencies/taipei-tax`) for `purpose`, and decodes the reply.
    pub async fn ask<Reply: prost::Message + Default>(
        &self,
        identity: &str,
        method: &str,
        purpose: &str,
        request: &impl prost::Message,
    ) -> Result<Reply, Status> {
        let files = self.sandbox.identity(identity);
        let (body, _) = self
            .call(
                &files,
                method,
                Bytes::from(request.encode_to_vec()),
                &[("tongdao-purpose", purpose)],
            )
            .await?;
        Ok(Reply::decode(body).expect("the reply decodes as the method's output"))
    }

    /// Asks the broker who the holder of `files` is (`tongdao.v1.Directory/WhoAmI`).
    pub async fn who_am_i(&self, files: &ClientFiles) -> tongdao_schemas::v1::WhoAmIResponse {
        let (body, _) = self
            .call(files, "tongdao.v1.Directory/WhoAmI", Bytes::new(), &[])
            .await
            .expect("WhoAmI answered");
        tongdao_schemas::v1::WhoAmIResponse::decode(body).expect("decodes")
    }

    /// A national ID of someone in the extract.
    pub fn someone(&self) -> String {
        self.sandbox.subject_ids()[0].clone()
    }
}

/// An encoded GetTranscriptRequest.
pub fn transcript_request(national_id: &str) -> Bytes {
    Bytes::from(
        GetTranscriptRequest {
            national_id: national_id.to_owned(),
            kind: 0,
        }
        .encode_to_vec(),
    )
}

/// Asserts a status carries `code` and the Tongdao `reason`, and an exchange id.
pub fn assert_refused(
    result: Result<impl std::fmt::Debug, Status>,
    code: Code,
    reason: Reason,
) -> Status {
    let status = result.expect_err("the call must be refused");
    assert_eq!(status.code(), code, "code of {status:?}");
    assert_eq!(
        tongdao_core::Rejection::reason_of(&status),
        Some(reason),
        "reason of {status:?}"
    );
    status
}

/// Waits up to a second for `counts` to show more than `before` refusals for `refusal`: the
/// server counts a refused handshake just after it fails, a moment after the client sees it.
pub async fn refusal_counted(
    counts: &tongdao_tls::HandshakeCounts,
    refusal: tongdao_tls::HandshakeRefusal,
    before: u64,
) -> bool {
    for _ in 0..50 {
        if counts.refused(refusal) > before {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
