"""Service Quotas for SageMaker in the emulator, through boto3, and the admin route tests use."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin.control.aws import AwsClients, Credentials
from llm_twin.control.preflight.lookups import lookup_endpoint_quota
from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.aws.quotas import ADMIN_PATH, DEFAULT_ENDPOINT_QUOTA, set_endpoint_quota
from tests.conftest import client

G5_2XL = "L-9614C779"


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    state = tmp_path_factory.mktemp("quotas")
    emulator = LocalAws(state, free_port())
    emulator.up()
    try:
        yield emulator.port
    finally:
        emulator.down()


def test_endpoint_quotas_are_listed_and_read_by_code(port: int) -> None:
    quotas = client(port, "service-quotas")
    listed = [
        q
        for page in quotas.get_paginator("list_service_quotas").paginate(ServiceCode="sagemaker")
        for q in page["Quotas"]
    ]
    names = {q["QuotaName"] for q in listed}
    assert {"ml.g5.2xlarge for endpoint usage", "ml.p5.48xlarge for endpoint usage"} <= names
    assert "ml.inf2.xlarge for endpoint usage" in names  # no known code: a stable emulator one
    quota = quotas.get_service_quota(ServiceCode="sagemaker", QuotaCode=G5_2XL)["Quota"]
    assert quota["QuotaName"] == "ml.g5.2xlarge for endpoint usage"
    assert quota["QuotaArn"] == f"arn:aws:servicequotas:eu-central-1:123456789012:sagemaker/{G5_2XL}"
    assert quota["Value"] == DEFAULT_ENDPOINT_QUOTA


def test_a_test_sets_a_quota_and_only_the_applied_value_moves(port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    quotas = client(port, "service-quotas")
    assert set_endpoint_quota(url, "ml.g6e.2xlarge", 0)["Value"] == 0
    try:
        code = "L-F8D7F460"
        assert quotas.get_service_quota(ServiceCode="sagemaker", QuotaCode=code)["Quota"]["Value"] == 0
        default = quotas.get_aws_default_service_quota(ServiceCode="sagemaker", QuotaCode=code)
        assert default["Quota"]["Value"] == DEFAULT_ENDPOINT_QUOTA
        other_region = set_endpoint_quota(url, "ml.g6e.2xlarge", 3, region="us-east-1")
        assert other_region["QuotaArn"].startswith("arn:aws:servicequotas:us-east-1:")
        assert quotas.get_service_quota(ServiceCode="sagemaker", QuotaCode=code)["Quota"]["Value"] == 0
    finally:
        set_endpoint_quota(url, "ml.g6e.2xlarge", DEFAULT_ENDPOINT_QUOTA)


def test_unknown_codes_and_bad_admin_requests_are_refused(port: int) -> None:
    quotas = client(port, "service-quotas")
    with pytest.raises(quotas.exceptions.NoSuchResourceException):
        quotas.get_service_quota(ServiceCode="sagemaker", QuotaCode="L-00000000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{ADMIN_PATH}", data=json.dumps({"value": -1}).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert "instance_type" in json.loads(refused.value.read())["error"]


def test_lookup_finds_types_without_a_known_code_by_name(port: int) -> None:
    clients = AwsClients(Credentials("test", "test"), "eu-central-1", f"http://127.0.0.1:{port}")
    found = lookup_endpoint_quota(clients, "ml.inf2.xlarge")
    assert found.value == DEFAULT_ENDPOINT_QUOTA and found.code and found.code.startswith("L-")
    missing = lookup_endpoint_quota(clients, "ml.m5.xlarge")
    assert missing.value is None and "no 'ml.m5.xlarge for endpoint usage' quota" in (missing.error or "")


def test_a_lookup_denied_by_iam_comes_back_as_denied(tmp_path: Path) -> None:
    emulator = LocalAws(tmp_path, free_port(), enforce_iam=True)
    emulator.up()
    try:
        iam = client(emulator.port, "iam")
        iam.create_user(UserName="llm-twin-no-quotas")
        key = iam.create_access_key(UserName="llm-twin-no-quotas")["AccessKey"]
        clients = AwsClients(
            Credentials(key["AccessKeyId"], key["SecretAccessKey"]),
            "eu-central-1",
            f"http://127.0.0.1:{emulator.port}",
        )
        found = lookup_endpoint_quota(clients, "ml.g5.2xlarge")
    finally:
        emulator.down()
    assert found.denied and found.value is None
    assert "AccessDenied" in (found.error or "")
