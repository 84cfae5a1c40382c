"""The client's vLLM parsers on the recordings of the project's vLLM-mode server
(`tests/fixtures/streams/vllm/`, recorded by its record.py), cut at every size; the non-stream
answers and refusals through a real boto3 client, as SageMaker relays them."""

from __future__ import annotations

import json

import pytest

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.client.results import completion_result
from llm_twin.client.stream.chat import parse_chat_stream
from llm_twin.client.stream.tgi import StreamDetails, TokenEvent
from llm_twin.client.stream.vllm import parse_completion_stream
from llm_twin.errors import GenerationError, ValidationError
from tests.support.aws_answers import ENDPOINT, Replay, runtime_error
from tests.support.streams import CHUNKINGS, raised, recorded, split_every

pytestmark = pytest.mark.timeout(60)

GREEDY_TOKENS = 12
"""record.py asks every generation for 12 greedy tokens."""


def vllm(name: str) -> bytes:
    return recorded(f"vllm/{name}")


def answer(name: str) -> dict[str, object]:
    return json.loads(vllm(name))


def chunk_texts(raw: bytes) -> list[str]:
    """Each chunk's text as the json module reads the same bytes (the referee)."""
    texts = []
    for line in raw.decode().splitlines():
        data = line.removeprefix("data: ")
        if line.startswith("data: ") and data != "[DONE]":
            texts.extend(choice["text"] for choice in json.loads(data).get("choices", []))
    return texts


def texts(events: list[TokenEvent]) -> str:
    return "".join(event.token.text for event in events)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_the_recorded_completion_stream(size: int) -> None:
    raw = vllm("completion_stream.sse")
    events = list(parse_completion_stream(split_every(raw, size)))

    assert [event.token.text for event in events] == chunk_texts(raw)
    assert [event.index for event in events] == list(range(1, len(events) + 1))
    assert events[-1].generated_text == texts(events)
    assert events[-1].details == StreamDetails("length", GREEDY_TOKENS, None)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_without_usage_the_stream_still_ends_with_its_text(size: int) -> None:
    events = list(parse_completion_stream(split_every(vllm("completion_stream_no_usage.sse"), size)))

    assert events[-1].generated_text == texts(events) and events[-1].details is None


@pytest.mark.parametrize("size", CHUNKINGS)
def test_a_stop_string_ends_the_recorded_stream_as_tgis_stop_sequence(size: int) -> None:
    events = list(parse_completion_stream(split_every(vllm("completion_stop_stream.sse"), size)))
    whole = completion_result(vllm("completion.json"))

    assert events[-1].details is not None and events[-1].details.finish_reason == "stop_sequence"
    assert whole.text.startswith(texts(events)) and len(texts(events)) < len(whole.text)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_the_recorded_error_mid_stream(size: int) -> None:
    raw = vllm("completion_error_midstream.sse")
    error = raised(split_every(raw, size), parse_completion_stream)

    assert type(error) is GenerationError
    assert (
        str(error) == "Request failed during generation: injected fault (LLM_TWIN_SERVER_FAULT=generation@3)"
    )
    assert error.partial_text == "".join(chunk_texts(raw))


@pytest.mark.parametrize("size", CHUNKINGS)
def test_the_recorded_chat_stream(size: int) -> None:
    deltas = list(parse_chat_stream(split_every(vllm("chat_stream.sse"), size)))
    whole = answer("chat.json")

    assert deltas[0].role == "assistant"
    assert deltas[-1].finish_reason == whole["choices"][0]["finish_reason"]  # type: ignore[index]


@pytest.mark.parametrize("size", CHUNKINGS)
def test_the_recorded_chat_error_mid_stream(size: int) -> None:
    error = raised(split_every(vllm("chat_error_midstream.sse"), size), parse_chat_stream)

    assert type(error) is GenerationError and str(error).startswith("Request failed during generation")


def test_the_recorded_completion_answer() -> None:
    result = completion_result(vllm("completion.json"))

    assert result.text == answer("completion.json")["choices"][0]["text"]  # type: ignore[index]
    assert (result.finish_reason, result.generated_tokens) == ("length", GREEDY_TOKENS)


@pytest.mark.parametrize("name", ["bad_request.json", "too_long.json", "no_handler.json"])
def test_a_recorded_refusal_through_sagemaker_is_a_validation_error_with_vllms_message(name: str) -> None:
    statuses = json.loads(vllm("statuses.json"))
    original = vllm(name).decode()
    relayed = runtime_error(
        424,
        "ModelError",
        {
            "Message": "Received client error",
            "OriginalMessage": original,
            "OriginalStatusCode": statuses[name],
        },
    )
    runtime = Replay("sagemaker-runtime", [relayed], config=runtime_config())
    llm = LLMInferenceSagemakerEndpoint(ENDPOINT, runtime.client, backend="vllm")

    with pytest.raises(ValidationError) as caught:
        llm.inference()
    assert str(caught.value) == json.loads(original)["error"]["message"]
