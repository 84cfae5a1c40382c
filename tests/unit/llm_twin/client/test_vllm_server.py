"""The book's class against the project's vLLM-mode model server, for real.

The server (`llm_twin_local.model_server --api vllm`, a tiny checkpoint) answers each body the
client sends; SageMaker's part is played by a boto3 hook that POSTs the body to /invocations
and hands the answer back as SageMaker does (a stream as PayloadParts cut anywhere, a refusal
as a ModelError carrying the container's status and body). No emulator yet: the local runtime
serving a vLLM endpoint is another helper's; the system tests cover that path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from llm_twin.client.endpoint import GenerationResult, LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.client.results import ChatResult
from llm_twin.errors import ValidationError
from llm_twin.protocol.eventstream import payload_part
from llm_twin_local.model_server.checkpoint import create_sized_checkpoint
from tests.support.aws_answers import Answer, Replay, runtime_error
from tests.support.model_server import Server, start_server, stop_server
from tests.support.streams import random_split

pytestmark = pytest.mark.timeout(180)

MAX_MODEL_LEN = 256
PROMPT = "Write a haiku about the cloud"
GREEDY = {"max_new_tokens": 12, "do_sample": False, "temperature": None, "top_p": None}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    scratch = tmp_path_factory.mktemp("vllm-server")
    model_dir = create_sized_checkpoint(Path(scratch) / "tiny", "tiny")
    running = start_server(
        model_dir, scratch / "server.log", "--api", "vllm", "--max-model-len", str(MAX_MODEL_LEN)
    )
    try:
        yield running
    finally:
        stop_server(running)


class SageMaker(Replay):
    """sagemaker-runtime whose every call is answered by the container at `server`."""

    def __init__(self, server: Server) -> None:
        super().__init__("sagemaker-runtime", config=runtime_config())
        self.server = server
        self.calls = 0

    def _send(self, request: Any, event_name: str, **kwargs: object) -> Any:
        body = json.loads(request.body)
        answer = requests.post(f"{self.server.url}/invocations", json=body, timeout=120)
        if answer.status_code != 200:
            original = {"OriginalMessage": answer.text, "OriginalStatusCode": answer.status_code}
            self.answers.append(runtime_error(424, "ModelError", {"Message": "client error", **original}))
        elif event_name.endswith("InvokeEndpointWithResponseStream"):
            parts = random_split(answer.content, self.calls)
            stream = b"".join(payload_part(part) for part in parts)
            self.answers.append(Answer(200, stream, {"Content-Type": "application/vnd.amazon.eventstream"}))
        else:
            self.answers.append(Answer(200, answer.content, {"Content-Type": "application/json"}))
        self.calls += 1
        return super()._send(request, event_name, **kwargs)


@pytest.fixture
def llm(server: Server) -> LLMInferenceSagemakerEndpoint:
    return LLMInferenceSagemakerEndpoint("twin", SageMaker(server).client, backend="vllm")


def streamed_result(llm: LLMInferenceSagemakerEndpoint) -> GenerationResult:
    *_, last = llm.stream()
    assert isinstance(last, GenerationResult)
    return last


def test_greedy_stream_and_whole_answer_agree(llm: LLMInferenceSagemakerEndpoint) -> None:
    llm.set_payload(PROMPT, GREEDY)

    streamed = streamed_result(llm)
    whole = llm.generate()

    assert streamed == whole
    assert (whole.finish_reason, whole.generated_tokens) == ("length", 12)


def test_the_books_sampling_defaults_are_accepted_and_a_seed_repeats(
    llm: LLMInferenceSagemakerEndpoint,
) -> None:
    llm.set_payload(PROMPT, {"max_new_tokens": 8, "seed": 42})

    assert llm.generate() == llm.generate()


def test_no_max_new_tokens_is_refused_before_the_call(llm: LLMInferenceSagemakerEndpoint) -> None:
    # TGI fills the context's room; vLLM's completions would stop after 16 tokens (null: a 500 in
    # older releases), so the client asks for the number instead of silently getting 16.
    llm.set_payload(PROMPT, {"do_sample": False, "temperature": None, "top_p": None, "max_new_tokens": None})

    with pytest.raises(ValidationError, match="max_new_tokens must be set on SERVING_BACKEND=vllm"):
        llm.generate()


def test_a_stop_sequence_ends_the_stream_before_it(llm: LLMInferenceSagemakerEndpoint) -> None:
    llm.set_payload(PROMPT, GREEDY)
    text = llm.generate().text
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    llm.set_payload(PROMPT, {**GREEDY, "stop": [stop]})

    result = streamed_result(llm)

    assert result.finish_reason == "stop_sequence"
    assert result.text == text[: text.index(stop)]


def test_a_refusal_is_a_validation_error_with_vllms_message(llm: LLMInferenceSagemakerEndpoint) -> None:
    llm.set_payload(
        PROMPT, {"max_new_tokens": MAX_MODEL_LEN * 2, "do_sample": False, "temperature": None, "top_p": None}
    )

    with pytest.raises(ValidationError, match="maximum context length is 256 tokens"):
        llm.inference()


def test_chat_streamed_and_whole_agree(llm: LLMInferenceSagemakerEndpoint) -> None:
    messages = [{"role": "user", "content": PROMPT}]

    *_, streamed = llm.chat(messages, stream=True, max_tokens=10, temperature=0)
    whole = llm.chat(messages, max_tokens=10, temperature=0)

    assert isinstance(streamed, ChatResult)
    assert streamed == whole and whole.content
