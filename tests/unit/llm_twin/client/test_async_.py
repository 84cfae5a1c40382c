"""InvokeEndpointAsync through S3, offline: AWS's answers replayed to real boto3 clients."""

from __future__ import annotations

import json

import pytest

from llm_twin.client.async_ import AsyncInvocation
from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.client.results import GenerationResult
from llm_twin.errors import AsyncInferenceError, AsyncTimeoutError, AwsError
from tests.support.aws_answers import ENDPOINT, Answer, Replay, generated

BUCKET = "llm-twin-artifacts"
OUTPUT = f"s3://{BUCKET}/async/output/abc.out"
FAILURE = f"s3://{BUCKET}/async/failure/abc-error.out"
PENDING = AsyncInvocation("abc", f"s3://{BUCKET}/async/input/x.json", OUTPUT, FAILURE)
NO_SUCH_KEY = Answer(
    404,
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
    b"<Message>The specified key does not exist.</Message><Key>async/output/abc.out</Key></Error>",
    {"Content-Type": "application/xml"},
)
ACCESS_DENIED = Answer(
    403,
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
    {"Content-Type": "application/xml"},
)
STORED = Answer(200, b"", {"ETag": '"d41d8cd98f00b204e9800998ecf8427e"'})


def accepted() -> Answer:
    """InvokeEndpointAsync's 202: the id in the body, the locations in headers."""
    headers = {
        "Content-Type": "application/json",
        "X-Amzn-SageMaker-OutputLocation": OUTPUT,
        "X-Amzn-SageMaker-FailureLocation": FAILURE,
    }
    return Answer(202, json.dumps({"InferenceId": "abc"}).encode(), headers)


def endpoint(runtime: Replay | None = None) -> LLMInferenceSagemakerEndpoint:
    client = (runtime or Replay("sagemaker-runtime", config=runtime_config())).client
    llm = LLMInferenceSagemakerEndpoint(ENDPOINT, client)
    llm.set_payload("hi", {"max_new_tokens": 2})
    return llm


def test_submit_uploads_the_payload_then_invokes() -> None:
    s3 = Replay("s3", [STORED])
    runtime = Replay("sagemaker-runtime", [accepted()], config=runtime_config())

    invocation = endpoint(runtime).submit_async(s3.client, BUCKET)

    assert (s3.operations, runtime.operations) == (["PutObject"], ["InvokeEndpointAsync"])
    assert invocation.inference_id == "abc"
    assert (invocation.output_location, invocation.failure_location) == (OUTPUT, FAILURE)
    assert invocation.input_location.startswith(f"s3://{BUCKET}/async/input/")


def test_wait_polls_until_the_output_appears() -> None:
    s3 = Replay("s3", [NO_SUCH_KEY, NO_SUCH_KEY, generated("ok")])

    result = endpoint().wait_async(s3.client, PENDING, first_delay=0)

    assert result == GenerationResult("ok", "length", 2)
    assert s3.operations == ["GetObject"] * 3  # output, failure, output


def test_a_failure_object_is_an_async_inference_error() -> None:
    s3 = Replay("s3", [NO_SUCH_KEY, Answer(200, b"Received server error (500) from primary\n")])

    with pytest.raises(AsyncInferenceError, match=r"failed: Received server error \(500\) from primary \("):
        endpoint().wait_async(s3.client, PENDING, first_delay=0)


def test_nothing_within_the_timeout_is_an_async_timeout() -> None:
    s3 = Replay("s3", [NO_SUCH_KEY, NO_SUCH_KEY])

    with pytest.raises(AsyncTimeoutError, match="it may still finish"):
        endpoint().wait_async(s3.client, PENDING, timeout=0)


def test_an_unreadable_output_is_an_aws_error_not_a_wait() -> None:
    s3 = Replay("s3", [ACCESS_DENIED])

    with pytest.raises(AwsError, match=f"reading {OUTPUT} failed"):
        endpoint().wait_async(s3.client, PENDING, first_delay=0)
