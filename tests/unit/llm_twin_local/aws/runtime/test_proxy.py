"""Invocations through `RuntimeMiddleware`: real emulator, real model server, real boto3.

Endpoint "e" of the package's shared emulator serves the tiny checkpoint (see conftest.py).
"""

from __future__ import annotations

import io
import json

import pytest
from botocore.exceptions import ClientError

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint
from llm_twin_local.aws.daemon import LocalAws
from llm_twin_local.aws.runtime.proxy import InvocationError, read_body
from tests.conftest import client
from tests.support.runtime import GREEDY_WITH_DETAILS as GREEDY
from tests.support.runtime import stream_events


@pytest.mark.stack
def test_streamed_tokens_equal_the_invoked_text(emulator: LocalAws, endpoint: dict) -> None:
    runtime = client(emulator.port, "sagemaker-runtime")
    body = json.dumps({"inputs": "Write a haiku about the cloud", "parameters": GREEDY})
    answer = runtime.invoke_endpoint(EndpointName="e", Body=body, ContentType="application/json")
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-invoked-production-variant"] == "AllTraffic"
    text = json.loads(answer["Body"].read())[0]["generated_text"]
    events, _ = stream_events(emulator.port, "e", GREEDY)
    assert "".join(e.token.text for e in events if not e.token.special) == text
    assert events[-1].generated_text == text and events[-1].details.generated_tokens == len(events)


@pytest.mark.stack
def test_sampling_with_a_seed_is_reproducible_through_both_apis(emulator: LocalAws, endpoint: dict) -> None:
    parameters = {"max_new_tokens": 16, "do_sample": True, "temperature": 0.9, "seed": 7}
    sdk = LLMInferenceSagemakerEndpoint("e", client(emulator.port, "sagemaker-runtime"))
    sdk.set_payload("Write a haiku about the cloud", parameters)
    *_, result = sdk.stream()
    assert result.text == sdk.inference()


@pytest.mark.stack
def test_unknown_endpoint_is_aws_validation_error(emulator: LocalAws) -> None:
    runtime = client(emulator.port, "sagemaker-runtime")
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint_with_response_stream(EndpointName="nope", Body=b"{}")
    assert caught.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint nope of account 123456789012 not found.",
    }


@pytest.mark.stack
def test_container_errors_are_model_errors(emulator: LocalAws, endpoint: dict) -> None:
    runtime = client(emulator.port, "sagemaker-runtime")
    body = json.dumps({"inputs": "hi", "parameters": {"max_new_tokens": 100000}})
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        runtime.invoke_endpoint(EndpointName="e", Body=body, ContentType="application/json")
    assert caught.value.response["OriginalStatusCode"] == 422
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424


def test_an_invocation_error_is_answered_as_aws_answers_it() -> None:
    answered: list = []
    error = InvocationError(424, "ModelError", "boom", OriginalStatusCode=422)
    body = error.respond(lambda status, headers: answered.extend([status, headers]))
    assert answered[0] == "424 Failed Dependency"
    assert ("x-amzn-ErrorType", "ModelError") in answered[1]
    assert json.loads(b"".join(body)) == {"message": "boom", "OriginalStatusCode": 422}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"CONTENT_LENGTH": "3"}, b"abc"),
        ({"wsgi.input_terminated": True}, b"abcdef"),  # chunked: read to its end
        ({}, b""),  # neither: nothing to read to, on a connection kept alive
    ],
)
def test_a_body_is_read_by_its_length_or_to_its_end(environ: dict, expected: bytes) -> None:
    assert read_body({"wsgi.input": io.BytesIO(b"abcdef"), **environ}) == expected
