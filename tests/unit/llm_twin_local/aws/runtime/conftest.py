"""The runtime's shared emulator: endpoint "e" serving the tiny checkpoint, for the package.

Tests that only invoke "e" read it; the lifecycle tests add and remove endpoints of
their own names beside it. Tests that need the emulator's environment changed (faults,
rollout, model data, load) start emulators of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin_local.aws.daemon import LocalAws
from tests.conftest import client
from tests.support.runtime import deploy, running_emulator, wait_status


@pytest.fixture(scope="package")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    with running_emulator(tmp_path_factory.mktemp("runtime")) as emulator:
        yield emulator


@pytest.fixture(scope="package")
def endpoint(emulator: LocalAws, tiny_model: Path) -> dict:
    """One endpoint, created directly with boto3; its first DescribeEndpoint is kept."""
    sagemaker = client(emulator.port, "sagemaker")
    deploy(sagemaker, "e", tiny_model, MESSAGES_API_ENABLED="true")
    first = sagemaker.describe_endpoint(EndpointName="e")
    return {"first": first, "ready": wait_status(sagemaker, "e", "InService")}
