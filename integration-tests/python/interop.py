#!/usr/bin/env python3
"""Calls the Tongdao broker from another language's gRPC stack (Python grpcio, on gRPC C-core
and BoringSSL) over mutual TLS, with stubs generated from the repository's .proto files.

Checks what a Python client relies on: a transcript comes back for an allowed agency, the
exchange id arrives in the response metadata, and a refusal carries the status code and the
google.rpc.ErrorInfo reason of the contract. Exits non-zero on the first mismatch.
"""
import argparse
import os
import sys
import tempfile

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_tools import protoc


def generate_stubs(proto_dir: str, out_dir: str) -> None:
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    files = ["tongdao/v1/options.proto", "tongdao/household/v1/household.proto"]
    code = protoc.main(
        ["protoc", f"-I{proto_dir}", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *files]
    )
    if code != 0:
        sys.exit(f"protoc failed with {code}")


def channel(args, cert: str, key: str) -> grpc.Channel:
    with open(args.ca, "rb") as ca, open(cert, "rb") as chain, open(key, "rb") as private_key:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca.read(), private_key=private_key.read(), certificate_chain=chain.read()
        )
    options = [("grpc.ssl_target_name_override", args.server_name)]
    return grpc.secure_channel(args.addr, credentials, options=options)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ["addr", "server-name", "ca", "proto-dir", "agency-cert", "agency-key", "citizen-cert", "citizen-key", "national-id"]:
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()

    out_dir = tempfile.mkdtemp(prefix="tongdao-py-")
    generate_stubs(args.proto_dir, out_dir)
    sys.path.insert(0, out_dir)
    from tongdao.household.v1 import household_pb2, household_pb2_grpc  # noqa: E402

    request = household_pb2.GetTranscriptRequest(national_id=args.national_id)
    purpose = [("tongdao-purpose", "095")]

    stub = household_pb2_grpc.HouseholdRegistryStub(channel(args, args.agency_cert, args.agency_key))
    transcript, call = stub.GetTranscript.with_call(request, metadata=purpose, timeout=10)
    if not any(m.national_id == args.national_id for m in transcript.members):
        sys.exit("the transcript does not list the subject")
    metadata = dict(call.initial_metadata()) | dict(call.trailing_metadata())
    if "tongdao-exchange-id" not in metadata:
        sys.exit(f"no tongdao-exchange-id in {metadata}")
    print(f"ok: transcript {transcript.household_number} with {len(transcript.members)} members, "
          f"exchange {metadata['tongdao-exchange-id']}")

    citizen = household_pb2_grpc.HouseholdRegistryStub(channel(args, args.citizen_cert, args.citizen_key))
    try:
        citizen.GetTranscript(request, metadata=purpose, timeout=10)
        sys.exit("a citizen certificate was allowed to call an agency service")
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.PERMISSION_DENIED:
            sys.exit(f"expected PERMISSION_DENIED, got {error.code()}: {error.details()}")
        status = rpc_status.from_call(error)
        if status is None:
            sys.exit("no google.rpc.Status details on the error")
        reasons = []
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reasons.append((info.domain, info.reason))
        # The citizen's own transcript is a self-access service, for purpose 073 only.
        if ("tongdao", "PURPOSE_NOT_ALLOWED") not in reasons:
            sys.exit(f"expected ErrorInfo tongdao/PURPOSE_NOT_ALLOWED, got {reasons}")
        print("ok: citizen refused with PERMISSION_DENIED tongdao/PURPOSE_NOT_ALLOWED")


if __name__ == "__main__":
    main()
