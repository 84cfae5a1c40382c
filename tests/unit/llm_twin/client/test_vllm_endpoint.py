"""The book's class on a vLLM endpoint, offline: vLLM's answers replayed to a real boto3 client,
the bodies it sends read back, the same results as on TGI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_twin.client.endpoint import GenerationResult, LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.client.results import ChatResult
from llm_twin.client.stream.chat import ChatDelta
from llm_twin.client.stream.tgi import TokenEvent
from llm_twin.config import build_settings
from llm_twin.config.credentials import Credentials
from llm_twin.errors import (
    GenerationError,
    IncompleteGenerationError,
    InferenceError,
    OverloadedError,
    ValidationError,
)
from llm_twin.protocol.backends import Backend
from llm_twin.protocol.eventstream import payload_part
from tests.support.aws_answers import ENDPOINT, Answer, Replay, runtime_error
from tests.support.streams import random_split, recorded

pytestmark = pytest.mark.timeout(60)

EVENTSTREAM = {"Content-Type": "application/vnd.amazon.eventstream"}


def streamed(sse: bytes, seed: int = 0) -> Answer:
    """InvokeEndpointWithResponseStream's answer: `sse` cut into PayloadParts anywhere."""
    return Answer(200, b"".join(payload_part(part) for part in random_split(sse, seed)), EVENTSTREAM)


def answered(body: dict[str, Any]) -> Answer:
    return Answer(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


def vllm(answers: list[Answer]) -> tuple[LLMInferenceSagemakerEndpoint, Replay]:
    runtime = Replay("sagemaker-runtime", answers, config=runtime_config())
    return LLMInferenceSagemakerEndpoint(
        ENDPOINT, runtime.client, backend="vllm", throttle_backoff=0
    ), runtime


COMPLETION = {
    "id": "cmpl-1",
    "object": "text_completion",
    "created": 1,
    "model": "m",
    "choices": [
        {"index": 0, "text": " Paris.", "logprobs": None, "finish_reason": "length", "stop_reason": None}
    ],
    "usage": {"prompt_tokens": 4, "total_tokens": 6, "completion_tokens": 2},
}


@pytest.mark.parametrize("seed", range(3))
def test_stream_sends_the_completion_body_and_yields_tgis_events(seed: int) -> None:
    llm, runtime = vllm([streamed(recorded("completion_stream.sse"), seed)])
    llm.set_payload("The capital of France is", {"max_new_tokens": 8, "temperature": 0.5})

    events = list(llm.stream())

    assert runtime.bodies == [
        {
            "prompt": "The capital of France is",
            "max_tokens": 8,
            "temperature": 0.5,
            "top_p": 0.9,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ]
    tokens = [event for event in events if isinstance(event, TokenEvent)]
    assert "".join(t.token.text for t in tokens) == " Paris is the capital.\n"
    assert events[-1] == GenerationResult(" Paris is the capital.\n", "eos_token", 6)


def test_a_cut_stream_is_an_incomplete_generation_keeping_its_text() -> None:
    whole = recorded("completion_stream.sse")
    cut = whole[: whole.index(b"data:", whole.index(b" the"))]  # three whole chunks
    llm, _ = vllm([streamed(cut)])

    with pytest.raises(IncompleteGenerationError) as caught:
        list(llm.stream())
    assert caught.value.partial_text == " Paris is the"


def test_an_error_mid_stream_raises_with_the_text_before_it() -> None:
    llm, _ = vllm([streamed(recorded("completion_error_midstream.sse"))])

    with pytest.raises(GenerationError, match="^The engine core died unexpectedly.$") as caught:
        list(llm.stream())
    assert caught.value.partial_text == " Partial"


def test_inference_reads_the_text_completion() -> None:
    llm, runtime = vllm([answered(COMPLETION), answered(COMPLETION)])
    llm.set_payload("The capital of France is", {"do_sample": False, "temperature": None, "top_p": None})

    assert llm.inference() == " Paris."
    assert llm.generate() == GenerationResult(" Paris.", "length", 2)
    assert runtime.bodies[0] == {
        "prompt": "The capital of France is",
        "max_tokens": 256,
        "temperature": 0,
        "stream": False,
    }


def test_chat_sends_the_same_messages_body_as_on_tgi() -> None:
    chat_answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}
        ],
    }
    llm, runtime = vllm([answered(chat_answer), streamed(recorded("vllm_chat_stream.sse"))])
    messages = [{"role": "user", "content": "Hello"}]

    assert llm.chat(messages, max_tokens=5) == ChatResult("Hi!", "stop")
    streamed_events = list(llm.chat(messages, stream=True, max_tokens=5))

    assert runtime.bodies == [
        {"messages": messages, "max_tokens": 5},
        {"messages": messages, "max_tokens": 5, "stream": True},
    ]
    assert isinstance(streamed_events[0], ChatDelta)
    assert streamed_events[-1] == ChatResult("Hi there 日本", "stop")


def vllm_refusal(status: int, message: str, error_type: str) -> Answer:
    """vLLM's error answer, relayed by SageMaker as a ModelError."""
    original = json.dumps({"error": {"message": message, "type": error_type, "param": None, "code": status}})
    return runtime_error(
        424,
        "ModelError",
        {
            "Message": f"Received client error ({status}) from primary",
            "OriginalMessage": original,
            "OriginalStatusCode": status,
        },
    )


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (400, "BadRequestError", ValidationError),
        (404, "NotFoundError", GenerationError),
        (503, "ServiceUnavailableError", OverloadedError),
        (500, "InternalServerError", GenerationError),
    ],
)
def test_vllms_error_answer_maps_as_tgis_does_with_vllms_message(
    status: int, error_type: str, expected: type[GenerationError]
) -> None:
    message = "This model's maximum context length is 2048 tokens. However, you requested 5000 tokens."
    llm, _ = vllm([vllm_refusal(status, message, error_type)])

    with pytest.raises(GenerationError) as caught:
        llm.inference()
    assert (type(caught.value), str(caught.value)) == (expected, message)


def test_older_vllms_flat_error_maps_by_its_code() -> None:
    original = json.dumps(
        {"object": "error", "message": "top_p must be in (0, 1].", "type": "BadRequestError", "code": 400}
    )
    answer = runtime_error(
        424, "ModelError", {"Message": "x", "OriginalMessage": original, "OriginalStatusCode": 400}
    )
    llm, _ = vllm([answer])

    with pytest.raises(ValidationError, match=r"^top_p must be in \(0, 1\]\.$"):
        llm.inference()


def test_async_uploads_the_completion_body_and_reads_the_completion() -> None:
    bucket = "llm-twin-artifacts"
    output = f"s3://{bucket}/async/output/abc.out"
    accepted = Answer(
        202,
        b'{"InferenceId": "abc"}',
        {"Content-Type": "application/json", "X-Amzn-SageMaker-OutputLocation": output},
    )
    llm, runtime = vllm([accepted])
    llm.set_payload("Hi", {"max_new_tokens": 2})
    s3 = Replay("s3", [Answer(200, b""), Answer(200, json.dumps(COMPLETION).encode())])
    uploaded: list[dict[str, Any]] = []
    s3.client.meta.events.register(
        "provide-client-params.s3.PutObject", lambda params, **_: uploaded.append(json.loads(params["Body"]))
    )

    invocation = llm.submit_async(s3.client, bucket)
    result = llm.wait_async(s3.client, invocation, timeout=5)

    assert uploaded == [
        {
            "prompt": "Hi",
            "max_tokens": 2,
            "temperature": 0.7,
            "top_p": 0.9,
            "stream": False,
        }
    ]
    assert runtime.operations == ["InvokeEndpointAsync"]
    assert result == GenerationResult(" Paris.", "length", 2)


def test_a_tgi_parameter_vllm_has_not_is_refused_before_any_call() -> None:
    llm, runtime = vllm([])
    llm.set_payload("Hi", {"typical_p": 0.5})

    with pytest.raises(ValidationError, match="typical_p"):
        llm.inference()
    assert runtime.operations == []


def test_from_settings_takes_the_backend_and_copies_keep_it() -> None:
    settings = build_settings({"target": "local", "model.backend": "vllm"})
    keys = Credentials(access_key_id="AKIAINFERENCE", secret_access_key="secret")

    llm = LLMInferenceSagemakerEndpoint.from_settings(settings, credentials=keys)

    assert (llm.backend, llm.copy().backend) == ("vllm", "vllm")
    assert LLMInferenceSagemakerEndpoint("twin", object()).backend == "tgi"  # the book's default


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend must be one of tgi, vllm, got 'sglang'"):
        LLMInferenceSagemakerEndpoint("twin", object(), backend="sglang")  # type: ignore[arg-type]


def test_a_tgi_client_on_a_vllm_endpoint_is_told_the_setting() -> None:
    original = recorded("vllm/no_handler.json").decode()
    answer = runtime_error(
        424, "ModelError", {"Message": "x", "OriginalMessage": original, "OriginalStatusCode": 400}
    )
    runtime = Replay("sagemaker-runtime", [answer], config=runtime_config())
    llm = LLMInferenceSagemakerEndpoint(ENDPOINT, runtime.client)  # the book's default: tgi

    with pytest.raises(ValidationError) as caught:
        llm.inference()
    assert str(caught.value).startswith("Cannot find suitable handler for request.")
    assert str(caught.value).endswith("(the endpoint seems to run vllm, not tgi: set SERVING_BACKEND=vllm)")


def test_a_vllm_client_on_a_tgi_endpoint_is_told_the_setting() -> None:
    # TGI (axum) refuses a body without `inputs` in plain text, which SageMaker quotes in its Message.
    words = (
        "Failed to deserialize the JSON body into the target type: missing field `inputs` at line 1 column 60"
    )
    answer = runtime_error(
        424,
        "ModelError",
        {
            "Message": f'Received client error (422) from primary with message "{words}".',
            "OriginalMessage": words,
            "OriginalStatusCode": 422,
        },
    )
    llm, _ = vllm([answer])

    with pytest.raises(InferenceError) as caught:
        llm.inference()
    assert str(caught.value).endswith("(the endpoint seems to run tgi, not vllm: set SERVING_BACKEND=tgi)")


@pytest.mark.parametrize(
    ("backend", "recording", "text"),
    [("tgi", "chat_stream.sse", "Hi there! 日本"), ("vllm", "vllm_chat_stream.sse", "Hi there 日本")],
)
def test_a_chat_stream_cut_before_its_finish_is_incomplete_on_both_backends(
    backend: Backend, recording: str, text: str
) -> None:
    whole = recorded(recording)
    cut = whole[: whole.index(b'"finish_reason":"stop"')]
    cut = cut[: cut.rindex(b"data:")]  # every chunk before the finishing one, whole
    runtime = Replay("sagemaker-runtime", [streamed(cut)], config=runtime_config())
    llm = LLMInferenceSagemakerEndpoint(ENDPOINT, runtime.client, backend=backend)

    with pytest.raises(IncompleteGenerationError) as caught:
        list(llm.chat([{"role": "user", "content": "Hi"}], stream=True))
    assert caught.value.partial_text == text
