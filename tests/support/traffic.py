"""A client invoking an endpoint every 50 ms while something changes it, and a watcher of its config.

A rollover without downtime means every one of these calls succeeds; retries are off, so a
call that fails counts as failed.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

INTERVAL = 0.05


@dataclass
class Invocation:
    at: float
    ok: bool
    detail: str
    """The answer, or the start of the failure."""


@dataclass
class Observation:
    """The endpoint and the configs that exist, seen at one moment through boto3."""

    at: float
    config: str
    status: str
    configs: frozenset[str]


def admin(port: str, service: str) -> Any:
    """Admin clients with retries off: a call that fails must count as failed."""
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-central-1"
    )
    config = Config(retries={"total_max_attempts": 1}, read_timeout=30)
    return session.client(service, endpoint_url=f"http://127.0.0.1:{port}", config=config)


@dataclass
class Traffic:
    """Invokes `endpoint` with `body` every 50 ms and watches its config, until the block ends."""

    port: str
    endpoint: str
    body: dict[str, Any]
    invocations: list[Invocation] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Traffic:
        self._threads = [threading.Thread(target=self._invoke), threading.Thread(target=self._observe)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self._threads:
            thread.join(timeout=60)

    @property
    def failures(self) -> list[Invocation]:
        return [i for i in self.invocations if not i.ok]

    def _invoke(self) -> None:
        runtime = admin(self.port, "sagemaker-runtime")
        body = json.dumps(self.body)
        while not self.stopped.is_set():
            at = time.monotonic()
            try:
                answer = runtime.invoke_endpoint(
                    EndpointName=self.endpoint, ContentType="application/json", Body=body
                )
                self.invocations.append(Invocation(at, True, answer["Body"].read().decode()))
            except Exception as exc:  # noqa: BLE001 - every failure is recorded, and fails the test
                self.invocations.append(Invocation(at, False, repr(exc)[:300]))
            self.stopped.wait(INTERVAL)

    def _observe(self) -> None:
        sagemaker = admin(self.port, "sagemaker")
        while not self.stopped.is_set():
            at = time.monotonic()
            try:
                endpoint = sagemaker.describe_endpoint(EndpointName=self.endpoint)
                configs = sagemaker.list_endpoint_configs()["EndpointConfigs"]
            except Exception as exc:  # noqa: BLE001 - an endpoint that vanished is recorded as such
                self.observations.append(Observation(at, f"<{exc!r:.100}>", "Missing", frozenset()))
            else:
                names = frozenset(c["EndpointConfigName"] for c in configs)
                self.observations.append(
                    Observation(at, endpoint["EndpointConfigName"], endpoint["EndpointStatus"], names)
                )
            self.stopped.wait(0.1)
