"""Shared fixtures: an embedded local AWS on a free port, and one applied stack.

Read-only tests share one emulator and one applied stack per session (per xdist worker);
tests that mutate start their own (see `fresh_env`). Every emulator is stopped at the
end. Terraform's provider plugin cache is shared by every stack of a worker, so the 700 MB
provider is linked once; each worker has its own, since terraform's cache is not safe for
concurrent inits.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from llm_twin.config import Settings, load_settings
from llm_twin.control.deploy.deployment import Deployment
from llm_twin_local.aws.daemon import LocalAws, free_port

REPO = Path(__file__).resolve().parent.parent
FIXTURES_DIR = REPO / "tests" / "fixtures"
PLUGIN_CACHE = REPO / ".llm-twin" / f"plugin-cache-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def stack_environ(state_dir: Path, port: int, **overrides: str) -> dict[str, str]:
    """The settings environment of an isolated local target (never the developer's .env)."""
    env = {
        "TARGET": "local",
        "AWS_REGION": "eu-central-1",
        "LLM_TWIN_STATE_DIR": str(state_dir),
        "LOCAL_AWS_PORT": str(port),
        "TF_PLUGIN_CACHE_DIR": str(PLUGIN_CACHE),
        "TF_PLUGIN_DIR": os.environ.get("TF_PLUGIN_DIR", ""),
        "TF_CLI": os.environ.get("TF_CLI", "terraform"),
        # The suite asks for the stand-in: a Hub id is never downloaded (tests/system/test_hub_model.py does).
        "LOCAL_MODEL": "stand-in",
    }
    env.update(overrides)
    return env


def settings_for(environ: dict[str, str]) -> Settings:
    return load_settings(environ, dotenv_path=None)


def client(port: int | str, service: str):
    """An admin boto3 client on the emulator, for inspecting what Terraform made."""
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-central-1"
    )
    return session.client(service, endpoint_url=f"http://127.0.0.1:{port}")


@contextlib.contextmanager
def private_target(state_dir: Path, **overrides: str) -> Iterator[dict[str, str]]:
    """Settings for an isolated local target on a free port; its emulator is stopped on exit."""
    port = free_port()
    try:
        yield stack_environ(state_dir, port, **overrides)
    finally:
        LocalAws(state_dir, port).down()


@contextlib.contextmanager
def emulator_with_bucket(state_dir: Path, bucket: str) -> Iterator[LocalAws]:
    """A private emulator holding one empty bucket; stopped on exit."""
    emulator = LocalAws(state_dir, free_port())
    emulator.up()
    try:
        client(emulator.port, "s3").create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        yield emulator
    finally:
        emulator.down()


@pytest.fixture(scope="session", autouse=True)
def sigint_reaches_children() -> None:
    """The Ctrl-C tests signal their children, which inherit an ignored SIGINT.

    A shell starts background jobs with SIGINT ignored, and exec keeps it ignored, so a
    suite run as `make test &` would see every child shrug off Ctrl-C. A handler here
    becomes the default action in each child instead.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def fresh_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private emulator for a test that mutates."""
    with private_target(tmp_path / "state") as env:
        yield env


@pytest.fixture(scope="session")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    overrides = {
        "AUTOSCALING_ENABLED": "true",
        "AUTOSCALING_MIN_CAPACITY": "1",
        "AUTOSCALING_MAX_CAPACITY": "3",
    }
    with private_target(tmp_path_factory.mktemp("shared") / "state", **overrides) as env:
        yield env


@pytest.fixture(scope="session")
def applied_stack(shared_env: dict[str, str]) -> Deployment:
    """Bootstrap plus main stack, applied once for every read-only test."""
    deployment = Deployment(settings_for(shared_env))
    deployment.apply()
    return deployment
