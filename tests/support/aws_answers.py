"""AWS's answers as the wire carries them, replayed to a real boto3 client (no network).

Each `Answer` is an HTTP status, headers and body in the shape the service sends: sagemaker-runtime
is rest-json (the code in `x-amzn-ErrorType`, `Code:namespace` as AWS writes it), the sagemaker
control plane is JSON 1.1 (the code in `__type`). botocore parses them itself, so a test sees the
`ClientError.response` that botocore builds from real bytes, modeled fields included
(a ModelError's `OriginalMessage`), not a dict we wrote by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from tests.support.streams import RawStream

ACCOUNT = "123456789012"
REGION = "eu-central-1"
ENDPOINT = "twin"
ENDPOINT_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"
_CORAL = "http://internal.amazon.com/coral/com.amazon.sagemaker/"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers, body."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def runtime_error(status: int, code: str, body: dict[str, Any]) -> Answer:
    """A sagemaker-runtime error (rest-json)."""
    headers = {"x-amzn-ErrorType": f"{code}:{_CORAL}", "Content-Type": "application/json"}
    return Answer(status, json.dumps(body).encode(), headers)


def control_error(code: str, message: str) -> Answer:
    """A sagemaker control-plane error (JSON 1.1)."""
    body = {"__type": f"com.amazon.coral.validate#{code}", "Message": message}
    return Answer(400, json.dumps(body).encode(), {"Content-Type": "application/x-amz-json-1.1"})


def control_ok(body: dict[str, Any]) -> Answer:
    return Answer(200, json.dumps(body).encode(), {"Content-Type": "application/x-amz-json-1.1"})


def described(status: str, failure_reason: str | None = None) -> Answer:
    """DescribeEndpoint's answer for an endpoint in `status`."""
    body: dict[str, Any] = {
        "EndpointName": ENDPOINT,
        "EndpointArn": ENDPOINT_ARN,
        "EndpointConfigName": f"{ENDPOINT}-config",
        "EndpointStatus": status,
        "CreationTime": 1_767_225_600.0,
        "LastModifiedTime": 1_767_225_900.0,
    }
    if failure_reason is not None:
        body["FailureReason"] = failure_reason
    return control_ok(body)


def generated(text: str) -> Answer:
    """InvokeEndpoint's answer from TGI: its generate JSON as the body."""
    body = [{"generated_text": text, "details": {"finish_reason": "length", "generated_tokens": 2}}]
    return Answer(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


class Replay:
    """A real boto3 client of `service` whose calls answer the queued `Answer`s, in order."""

    def __init__(self, service: str, answers: Iterable[Answer] = (), config: Config | None = None) -> None:
        self.answers = list(answers)
        self.operations: list[str] = []
        """The operations called, in order (a test can say a call was not made)."""
        self.bodies: list[Any] = []
        """The request bodies, JSON decoded (None where a body is not JSON): what the client sent."""
        self.client = boto3.client(
            service,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
        self.client.meta.events.register("before-send", self._send)

    def _send(self, request: Any, event_name: str, **_: object) -> AWSResponse:
        self.operations.append(event_name.rsplit(".", 1)[-1])
        try:
            self.bodies.append(json.loads(request.body or b""))
        except (TypeError, ValueError):
            self.bodies.append(None)
        if not self.answers:
            raise AssertionError(f"no answer queued for {request.url}")
        answer = self.answers.pop(0)
        headers = {"x-amzn-RequestId": "replayed", **answer.headers}
        return AWSResponse(request.url, answer.status, headers, RawStream([answer.body]))
