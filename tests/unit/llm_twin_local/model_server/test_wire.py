"""TGI 3.3's wire, byte for byte where clients depend on it, over real HTTP (research.md A1-A6).

Each refusal is TGI's own message; the streams end as TGI's end (`[DONE]` only on the
OpenAI-shaped routes, after an error event too); /info is TGI 3.x's field set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import requests

from llm_twin.protocol.sse import iter_sse_data
from llm_twin_local.model_server import wire
from llm_twin_local.model_server.events import Finished, Token
from tests.support.model_server import MAX_INPUT_TOKENS, MAX_TOTAL_TOKENS, Server

pytestmark = pytest.mark.timeout(120)

CHAT = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "temperature": 0}
LONG = "word " * (MAX_INPUT_TOKENS + 20)


def raw(server: Server, path: str, payload: object) -> tuple[int, bytes]:
    response = server.post(path, payload)
    return response.status_code, response.content


def data(server: Server, path: str, payload: object) -> list[str]:
    with server.post(path, payload, stream=True) as response:
        assert response.status_code == 200
        return list(iter_sse_data(response.iter_content(chunk_size=None)))


# The refusals, in TGI 3.3's words; each row breaks one rule and nothing before it.
REFUSED = {
    "top_p 1": ({"top_p": 1.0}, "`top_p` must be > 0.0 and < 1.0"),
    "typical_p 1.5": ({"typical_p": 1.5}, "`typical_p` must be > 0.0 and < 1.0"),
    "frequency_penalty 3": ({"frequency_penalty": 3}, "`frequency_penalty` must be >= -2.0 and <= 2.0"),
    "top_n_tokens 6": ({"top_n_tokens": 6}, "`top_n_tokens` must be >= 0 and <= 5. Given: 6"),
    "best_of greedy": ({"best_of": 2}, "you must use sampling when `best_of` is > 1"),
    "best_of and seed": (
        {"best_of": 2, "do_sample": True, "seed": 1},
        "`seed` must not be set when `best_of` > 1",
    ),
    "best_of 2": ({"best_of": 2, "do_sample": True}, "`best_of` != 1 is not allowed for this endpoint"),
    "stop 5": ({"stop": list("abcde")}, "`stop` supports up to 4 stop sequences. Given: 5"),
    "truncate 0": (
        {"truncate": 0},
        f"`truncate` must be strictly positive and less than {MAX_INPUT_TOKENS}. Given: 0",
    ),
    "truncate too big": (
        {"truncate": MAX_INPUT_TOKENS + 1},
        f"`truncate` must be strictly positive and less than {MAX_INPUT_TOKENS}. Given: {MAX_INPUT_TOKENS + 1}",
    ),
    "grammar": ({"grammar": {"type": "json", "value": {"properties": {}}}}, "grammar is not supported"),
    "order: temperature before top_p": (
        {"temperature": 0, "top_p": 1.0},
        "`temperature` must be strictly positive",
    ),
}


@pytest.mark.parametrize(("parameters", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_generate_refuses_as_tgi(server: Server, parameters: dict, message: str) -> None:
    status, body = raw(
        server, "/generate", {"inputs": "Hello", "parameters": {"max_new_tokens": 2, **parameters}}
    )
    assert (status, json.loads(body)) == (
        422,
        {"error": f"Input validation error: {message}", "error_type": "validation"},
    )


def test_the_total_is_checked_before_the_input_length(server: Server) -> None:
    status, body = raw(server, "/generate", {"inputs": LONG, "parameters": {"max_new_tokens": 2000}})
    assert status == 422
    # TGI 3.x counts min(max_new_tokens, 1024) against the total.
    assert json.loads(body)["error"].startswith(
        f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {MAX_TOTAL_TOKENS}. Given: "
    )
    assert json.loads(body)["error"].endswith(" `inputs` tokens and 1024 `max_new_tokens`")


def test_a_request_above_the_budget_gets_one_chunk(busy_server: Server) -> None:
    """5 + min(5000, 1024) fits in 2048: accepted; the re-queued input (5 + 1024) exceeds
    MAX_INPUT_TOKENS (1024), so TGI ends after the first chunk with "length"."""
    status, body = raw(
        busy_server, "/generate", {"inputs": "Hi", "parameters": {"max_new_tokens": 5000, "details": True}}
    )
    assert status == 200, body
    details = json.loads(body)["details"]
    assert (details["finish_reason"], details["generated_tokens"]) == ("length", 1024)


def test_stream_only_refusals_are_one_event_and_no_done(server: Server) -> None:
    for parameters, message in (
        (
            {"decoder_input_details": True},
            "`decoder_input_details` == true is not supported when streaming tokens",
        ),
        ({"best_of": 2, "do_sample": True}, "`best_of` != 1 is not supported when streaming tokens"),
    ):
        events = data(server, "/generate_stream", {"inputs": "Hi", "parameters": parameters})
        assert [json.loads(e) for e in events] == [
            {"error": f"Input validation error: {message}", "error_type": "validation"}
        ]


def test_generate_stream_ends_without_done(server: Server) -> None:
    events = data(
        server, "/generate_stream", {"inputs": "Hi", "parameters": {"max_new_tokens": 3, "details": True}}
    )
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert set(last) == {"index", "token", "generated_text", "details"}  # top_tokens left out when empty
    assert set(last["details"]) == {"finish_reason", "generated_tokens", "seed", "input_length"}


def test_truncate_keeps_the_last_tokens(server: Server) -> None:
    status, body = raw(
        server,
        "/generate",
        {"inputs": LONG, "parameters": {"max_new_tokens": 2, "truncate": 16, "decoder_input_details": True}},
    )
    assert status == 200
    assert len(json.loads(body)["details"]["prefill"]) == 16


def test_chat_stream_error_then_done(server: Server) -> None:
    with server.post("/v1/chat/completions", {**CHAT, "top_p": 1.0, "stream": True}, stream=True) as response:
        assert response.status_code == 200
        whole = response.content
    assert whole == (
        b'data: {"error":{"message":"Input validation error: `top_p` must be > 0.0 and < 1.0",'
        b'"http_status_code":422}}\n\ndata: [DONE]\n\n'
    )


def test_chat_errors_before_streaming_are_http_errors(server: Server) -> None:
    both = {**CHAT, "stream": True, "response_format": {"type": "json", "value": {}}, "tools": []}
    status, body = raw(server, "/v1/chat/completions", both)
    assert (status, json.loads(body)) == (
        422,
        {"error": "Tool error: Grammar and tools are mutually exclusive", "error_type": "tool_error"},
    )


def test_chat_grammar_is_refused_like_generate(server: Server) -> None:
    status, body = raw(
        server, "/v1/chat/completions", {**CHAT, "response_format": {"type": "json", "value": {}}}
    )
    assert (status, json.loads(body)["error"]) == (422, "Input validation error: grammar is not supported")


def test_chat_stream_usage_only_when_asked(server: Server) -> None:
    plain = [json.loads(d) for d in data(server, "/v1/chat/completions", {**CHAT, "stream": True})[:-1]]
    assert all(chunk["usage"] is None and len(chunk["choices"]) == 1 for chunk in plain)
    asked = data(
        server, "/v1/chat/completions", {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert asked[-1] == "[DONE]"
    usage = json.loads(asked[-2])
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 3
    assert json.loads(asked[-3])["choices"][0]["finish_reason"] == "length"


def test_chat_answers_carry_tgi_s_identity(server: Server) -> None:
    answer = server.post("/v1/chat/completions", CHAT).json()
    info = requests.get(server.url + "/info", timeout=5).json()
    assert answer["id"] == "" and answer["model"] == info["model_id"]
    assert answer["system_fingerprint"] == "3.3.6-native"
    assert (
        server.post("/v1/chat/completions", {**CHAT, "model": "my-adapter"}).json()["model"] == "my-adapter"
    )


def test_info_is_tgi_3_s_field_set(server: Server) -> None:
    info = requests.get(server.url + "/info", timeout=5).json()
    assert list(info) == [
        "model_id",
        "model_sha",
        "model_pipeline_tag",
        "max_concurrent_requests",
        "max_best_of",
        "max_stop_sequences",
        "max_input_tokens",
        "max_total_tokens",
        "validation_workers",
        "max_client_batch_size",
        "router",
        "version",
        "sha",
        "docker_label",
    ]
    assert (info["version"], info["router"], info["max_best_of"]) == ("3.3.6", "text-generation-router", 1)


def test_no_parameters_means_sampling(server: Server) -> None:
    """TGI's `default_parameters` (a body without `parameters`) has do_sample true; `{}` is greedy."""
    sampled = [server.post("/generate", {"inputs": "Hi"}).json()["generated_text"] for _ in range(2)]
    assert sampled[0] != sampled[1]
    greedy = [
        server.post("/generate", {"inputs": "Hi", "parameters": {}}).json()["generated_text"]
        for _ in range(2)
    ]
    assert greedy[0] == greedy[1]


def test_completions(server: Server) -> None:
    answer = server.post(
        "/v1/completions", {"prompt": ["Hi", "Ho"], "max_tokens": 3, "temperature": 0}
    ).json()
    assert answer["object"] == "text_completion" and [c["index"] for c in answer["choices"]] == [0, 1]
    assert answer["usage"]["completion_tokens"] == 6
    streamed = data(
        server, "/v1/completions", {"prompt": "Hi", "max_tokens": 3, "temperature": 0, "stream": True}
    )
    assert streamed[-1] == "[DONE]"
    chunks = [json.loads(d) for d in streamed[:-1]]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == ["", "", "length"]
    assert "usage" in chunks[-1] and "usage" not in chunks[0]
    assert "".join(c["choices"][0]["text"] for c in chunks) == answer["choices"][0]["text"]


@pytest.mark.parametrize(
    ("body", "error_type", "message"),
    [
        (
            {"prompt": "Hi", "suffix": "!"},
            "suffix not supported",
            "Suffix is not supported and can be achieved by preprocessing the prompt.",
        ),
        (
            {"prompt": ["a"] * 5},
            "batch size exceeded",
            "Number of prompts exceeds the maximum allowed batch size of 4",
        ),
    ],
)
def test_completions_refusals(server: Server, body: dict, error_type: str, message: str) -> None:
    status, answer = raw(server, "/v1/completions", body)
    assert (status, json.loads(answer)) == (422, {"error": message, "error_type": error_type})


def test_invocations_picks_the_route_by_body_shape(server: Server) -> None:
    completion = server.post("/invocations", {"prompt": "Hi", "max_tokens": 2, "temperature": 0}).json()
    assert completion["object"] == "text_completion"
    assert server.post("/invocations", CHAT).json()["object"] == "chat.completion"
    assert isinstance(
        server.post("/invocations", {"inputs": "Hi", "parameters": {"max_new_tokens": 2}}).json(), list
    )


# -- top tokens, as TGI places them (pure units: the engine reports them as `Token.top_tokens`) --


@dataclass(frozen=True)
class _TokenWithTop(Token):
    top_tokens: tuple[Token, ...] = ()


def _finished(tokens: list[Token]) -> Finished:
    return Finished("ab", "length", len(tokens), None, 3, tokens)


def test_top_tokens_are_left_out_when_empty_and_placed_as_tgi_does() -> None:
    alt = Token(9, "z", -2.5, False)
    plain = Token(1, "a", -0.5, False)
    rich = _TokenWithTop(2, "b", -0.25, False, (alt,))
    assert "top_tokens" not in wire.stream_json(1, plain, None, prompt=None, details=False)
    assert wire.stream_json(2, rich, None, prompt=None, details=False)["top_tokens"] == [wire.token_json(alt)]
    assert "top_tokens" not in wire.details_json(_finished([plain]))
    assert wire.details_json(_finished([plain, rich]))["top_tokens"] == [[], [wire.token_json(alt)]]
    logprobs = wire.chat_completion_json(
        _finished([plain, rich]), model="m", fingerprint="f", created=0, logprobs=True
    )["choices"][0]["logprobs"]
    assert logprobs == {
        "content": [
            {"token": "a", "logprob": -0.5, "top_logprobs": []},
            {"token": "b", "logprob": -0.25, "top_logprobs": [{"token": "z", "logprob": -2.5}]},
        ]
    }
