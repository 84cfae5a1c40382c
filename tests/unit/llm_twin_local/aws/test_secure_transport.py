"""Bucket policies on the emulator: TLS-only statements hold for its loopback transport, others still bite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from llm_twin.control.state.bucket import tls_only_policy
from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.aws.secure_transport import effective_statements
from tests.conftest import client

TLS_ONLY = tls_only_policy("b")["Statement"][0]


def test_transport_conditions_resolve_for_a_secure_request() -> None:
    assert effective_statements([TLS_ONLY]) == []  # "deny when insecure" does not apply
    require_tls_allow = {
        **TLS_ONLY,
        "Effect": "Allow",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}},
    }
    assert effective_statements([require_tls_allow]) == [
        {k: v for k, v in require_tls_allow.items() if k != "Condition"}
    ]
    mixed = {**TLS_ONLY, "Condition": {"Bool": {"aws:SecureTransport": "true"}, "StringEquals": {"k": "v"}}}
    assert effective_statements([mixed])[0]["Condition"] == {"StringEquals": {"k": "v"}}
    plain = {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}
    assert effective_statements([plain]) == [plain]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    emulator = LocalAws(Path(tmp_path_factory.mktemp("transport")), free_port())
    emulator.up()
    yield client(emulator.port, "s3")
    emulator.down()


def _bucket(s3, name: str, policy: dict) -> None:
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))


def test_tls_only_bucket_serves_objects(s3) -> None:
    _bucket(s3, "llm-twin-tls-only", tls_only_policy("llm-twin-tls-only"))
    s3.put_object(Bucket="llm-twin-tls-only", Key="k", Body=b"v")
    assert s3.get_object(Bucket="llm-twin-tls-only", Key="k")["Body"].read() == b"v"


def test_other_deny_statements_still_apply(s3) -> None:
    name = "llm-twin-no-puts"
    deny_puts = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{name}/*",
    }
    policy = tls_only_policy(name)
    policy["Statement"].append(deny_puts)
    _bucket(s3, name, policy)
    with pytest.raises(ClientError, match="Forbidden|AccessDenied"):
        s3.put_object(Bucket=name, Key="k", Body=b"v")
