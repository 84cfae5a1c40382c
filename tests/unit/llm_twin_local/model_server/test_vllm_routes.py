"""The vLLM container's routes on the raw wire: /invocations' dispatch, the SageMaker health
check, framing of streams and of errors inside them (research.md C1, C4).

The expected bytes are vLLM's: its SageMaker router tries ChatCompletionRequest, then
CompletionRequest, and answers a body neither validates (a TGI `inputs` body) with 400
"Cannot find suitable handler for request. Expected one of: [...]"; its stream errors are
`json.dumps` of the ErrorResponse (default separators) followed by `data: [DONE]`.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

from llm_twin.protocol.sse import iter_sse_data
from tests.support.model_server import VLLM_MAX_MODEL_LEN, VLLM_SERVED_NAME, Server

pytestmark = pytest.mark.timeout(120)

NO_HANDLER = {
    "error": {
        "message": "Cannot find suitable handler for request. Expected one of: "
        "['ChatCompletionRequest', 'CompletionRequest']",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
}
EVENT = re.compile(rb"data: (\{.*?\}|\[DONE\])\n\n", re.S)


def events(raw: bytes) -> list[bytes]:
    """The events of a stream, checking that nothing but `data: ...\\n\\n` events is in it."""
    found = EVENT.findall(raw)
    assert b"".join(b"data: " + e + b"\n\n" for e in found) == raw, raw
    return found


def test_invocations_hands_messages_to_chat_and_prompt_to_completion(vllm_server: Server) -> None:
    chat = vllm_server.post(
        "/invocations", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    )
    assert chat.status_code == 200 and chat.json()["object"] == "chat.completion"
    completion = vllm_server.post("/invocations", {"prompt": "Hi", "max_tokens": 2})
    assert completion.status_code == 200 and completion.json()["object"] == "text_completion"
    # Chat is tried first: a body with both is a chat.
    both = vllm_server.post("/invocations", {"messages": [{"role": "user", "content": "Hi"}], "prompt": "x"})
    assert both.json()["object"] == "chat.completion"


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": "Write a haiku", "parameters": {"max_new_tokens": 5}},
        {"inputs": "Write a haiku", "stream": True},
        {"prompt": ""},
        {"prompt": "Hi", "stream_options": {"include_usage": True}},  # fails CompletionRequest's validator
        {"messages": "Hi"},
        [],
    ],
)
def test_invocations_refuses_a_body_no_request_type_takes(vllm_server: Server, body: object) -> None:
    answer = vllm_server.post("/invocations", body)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == NO_HANDLER


def test_invocations_needs_json(vllm_server: Server) -> None:
    plain = requests.post(vllm_server.url + "/invocations", data=b'{"prompt": "Hi"}', timeout=10)
    assert plain.status_code == 415
    broken = requests.post(
        vllm_server.url + "/invocations", data=b"{", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["message"].startswith("JSON decode error: ")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_ping_answers_both_methods(vllm_server: Server, method: str) -> None:
    answer = requests.request(method, vllm_server.url + "/ping", timeout=10)
    assert (answer.status_code, answer.content) == (200, b"")
    assert requests.get(vllm_server.url + "/health", timeout=10).status_code == 200


def test_models_and_version(vllm_server: Server) -> None:
    (card,) = requests.get(vllm_server.url + "/v1/models", timeout=10).json()["data"]
    assert card["id"] == VLLM_SERVED_NAME and card["object"] == "model"
    assert card["max_model_len"] == VLLM_MAX_MODEL_LEN
    assert requests.get(vllm_server.url + "/version", timeout=10).json() == {"version": "0.29.0"}
    assert requests.get(vllm_server.url + "/info", timeout=10).status_code == 404  # a TGI route


def test_a_stream_is_data_events_ending_with_done(vllm_server: Server) -> None:
    body = {"prompt": "Hi", "max_tokens": 5, "temperature": 0, "stream": True, "stream_options": {}}
    with vllm_server.post("/invocations", body, stream=True) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        raw = answer.content
    found = events(raw)
    assert found[-1] == b"[DONE]"
    chunks = [json.loads(e) for e in found[:-1]]
    # `stream_options: {}` is falsy: vLLM's validator lets it through, and include_usage stays off.
    assert [len(c["choices"]) for c in chunks] == [1] * 5
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 4 + ["length"]
    assert set(chunks[-1]["choices"][0]) >= {"index", "text", "logprobs", "finish_reason", "stop_reason"}


def test_the_usage_chunk_has_no_nulls(vllm_server: Server) -> None:
    body = {"prompt": "Hi", "max_tokens": 3, "stream": True, "stream_options": {"include_usage": True}}
    with vllm_server.post("/v1/completions", body, stream=True) as answer:
        found = events(answer.content)
    usage = json.loads(found[-2])
    assert usage["choices"] == [] and "null" not in found[-2].decode()
    assert usage["usage"]["completion_tokens"] == 3


def test_an_error_mid_stream_is_one_event_then_done(failing_vllm_server: Server) -> None:
    body = {"prompt": "Hi", "max_tokens": 10, "temperature": 0, "stream": True}
    with failing_vllm_server.post("/invocations", body, stream=True) as answer:
        assert answer.status_code == 200
        raw = answer.content
    found = events(raw)
    assert len(found) == 4 and found[-1] == b"[DONE]"
    message = "Request failed during generation: injected fault (LLM_TWIN_SERVER_FAULT=generation@2)"
    assert (
        found[-2]
        == json.dumps(
            {"error": {"message": message, "type": "InternalServerError", "param": None, "code": 500}}
        ).encode()
    )
    assert list(iter_sse_data([raw]))[-1] == "[DONE]"


def test_a_refused_stream_is_an_http_error_not_an_event(vllm_server: Server) -> None:
    answer = vllm_server.post("/invocations", {"prompt": "Hi", "top_p": 0, "stream": True})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["param"] == "top_p"


def test_an_engine_unsupported_field_is_refused_after_vllms_checks(vllm_server: Server) -> None:
    unsupported = vllm_server.post("/v1/completions", {"prompt": "Hi", "logprobs": 2})
    assert unsupported.status_code == 501
    assert unsupported.json()["error"]["type"] == "NotImplementedError"
    assert unsupported.json()["error"]["param"] == "logprobs"
    # vLLM's own range check comes first.
    both = vllm_server.post("/v1/completions", {"prompt": "Hi", "logprobs": 2, "top_p": 2})
    assert both.status_code == 400 and both.json()["error"]["param"] == "top_p"


def test_a_list_of_prompts_answers_one_choice_each(vllm_server: Server) -> None:
    one = vllm_server.post(
        "/v1/completions", {"prompt": "The cloud", "max_tokens": 3, "temperature": 0}
    ).json()
    two = vllm_server.post(
        "/v1/completions", {"prompt": ["Hi", "The cloud"], "max_tokens": 3, "temperature": 0}
    ).json()
    assert [c["index"] for c in two["choices"]] == [0, 1]
    assert two["choices"][1]["text"] == one["choices"][0]["text"]
    assert two["usage"]["completion_tokens"] == 6
    body = {"prompt": ["Hi", "The cloud"], "max_tokens": 3, "temperature": 0, "stream": True}
    with vllm_server.post("/v1/completions", body, stream=True) as answer:
        chunks = [json.loads(e) for e in events(answer.content)[:-1]]
    assert [c["choices"][0]["index"] for c in chunks] == [0, 0, 0, 1, 1, 1]
    assert "".join(c["choices"][0]["text"] for c in chunks[3:]) == one["choices"][0]["text"]
