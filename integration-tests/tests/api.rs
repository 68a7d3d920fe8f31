//! The broker's own API: gRPC health, server reflection (v1 and v1alpha) and the directory.

use prost::Message as _;
use tongdao_integration_tests::System;
use tongdao_schemas::v1::ListServicesResponse;
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse, health_check_response::ServingStatus,
};

#[tokio::test]
async fn health_reports_serving() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("taipei-tax");
    let request = bytes::Bytes::from(
        HealthCheckRequest {
            service: String::new(),
        }
        .encode_to_vec(),
    );
    let (body, _) = system
        .call(&files, "grpc.health.v1.Health/Check", request, &[])
        .await
        .expect("answered");
    let response = HealthCheckResponse::decode(body).expect("decodes");
    assert_eq!(response.status, ServingStatus::Serving as i32);
    system.stack.stop().await;
}

#[tokio::test]
async fn directory_lists_the_domain_services_with_their_data_classes() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("taipei-tax");
    let (body, _) = system
        .call(
            &files,
            "tongdao.v1.Directory/ListServices",
            bytes::Bytes::new(),
            &[],
        )
        .await
        .expect("answered");
    let listing = ListServicesResponse::decode(body).expect("decodes");
    let household = listing
        .services
        .iter()
        .find(|s| s.name == "tongdao.household.v1.HouseholdRegistry")
        .expect("household service listed");
    assert!(household.available, "its adapter is configured and up");
    assert_eq!(household.provider_name, "內政部戶政司");
    let method = &household.methods[0];
    assert_eq!(
        method.path,
        "/tongdao.household.v1.HouseholdRegistry/GetTranscript"
    );
    assert!(method.data_classes.iter().any(|c| c == "C001"));
    for domain in ["land", "tax", "health", "commerce"] {
        assert!(
            listing
                .services
                .iter()
                .any(|s| s.name.starts_with(&format!("tongdao.{domain}.v1."))),
            "{domain} listed from the schemas"
        );
    }
    system.stack.stop().await;
}

async fn reflection_channel(system: &System) -> tonic::transport::Channel {
    tongdao_cli::client::channel(
        &system.sandbox.agency_files("taipei-tax"),
        &system.sandbox.broker_addr().to_string(),
        Some(system.sandbox.broker_server_name()),
    )
    .expect("channel")
}

#[tokio::test]
async fn reflection_v1_lists_services() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let system = System::start().await;
    let mut client = ServerReflectionClient::new(reflection_channel(&system).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("stream")
        .expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection response {response:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"tongdao.household.v1.HouseholdRegistry"),
        "{names:?}"
    );
    assert!(names.contains(&"tongdao.v1.Directory"), "{names:?}");
    system.stack.stop().await;
}

#[tokio::test]
async fn reflection_v1alpha_describes_a_domain_file() {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let system = System::start().await;
    let mut client = ServerReflectionClient::new(reflection_channel(&system).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(
            "tongdao.household.v1.HouseholdRegistry".into(),
        )),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("stream")
        .expect("one response");
    let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
        panic!("unexpected reflection response {response:?}");
    };
    assert!(!files.file_descriptor_proto.is_empty());
    system.stack.stop().await;
}
