"""The openai SDK against a real model server in vLLM mode, as vLLM's docs use it (base_url .../v1).

vLLM answers refusals in OpenAI's own shape, `{"error": {"message", "type", "param", "code"}}`,
so the SDK raises the class of the status with vLLM's message; inside a stream the same
body arrives as an event, which the SDK raises as `APIError`. Texts are checked against
transformers' greedy `generate` on the same checkpoint.
"""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from tests.support.model_server import VLLM_MAX_MODEL_LEN, VLLM_SERVED_NAME, Reference, Server

pytestmark = pytest.mark.timeout(120)

PROMPT = "Write a haiku about the cloud"
MESSAGES = [{"role": "user", "content": "Hi there"}]

_clients: dict[str, OpenAI] = {}


def client(server: Server) -> OpenAI:
    """One client per server; no retries, so a refusal reaches the test as the SDK raises it."""
    if server.url not in _clients:
        _clients[server.url] = OpenAI(base_url=server.url + "/v1", api_key="-", max_retries=0, timeout=60)
    return _clients[server.url]


def complete(server: Server, **kwargs: object):  # type: ignore[no-untyped-def]
    kwargs.setdefault("prompt", PROMPT)
    return client(server).completions.create(model=VLLM_SERVED_NAME, **kwargs)  # type: ignore[call-overload]


def chat(server: Server, **kwargs: object):  # type: ignore[no-untyped-def]
    return client(server).chat.completions.create(model=VLLM_SERVED_NAME, messages=MESSAGES, **kwargs)  # type: ignore[call-overload]


def test_completion_is_transformers_greedy(vllm_server: Server, reference: Reference) -> None:
    ids = reference.ids(PROMPT)
    expected = reference.greedy(ids, 10)
    out = complete(vllm_server, max_tokens=10, temperature=0)
    assert out.object == "text_completion"
    assert out.id.startswith("cmpl-") and out.model == VLLM_SERVED_NAME
    assert out.choices[0].text == reference.text(expected)
    assert out.choices[0].finish_reason == ("length" if len(expected) == 10 else "stop")
    assert out.usage is not None
    assert (out.usage.prompt_tokens, out.usage.completion_tokens, out.usage.total_tokens) == (
        len(ids),
        len(expected),
        len(ids) + len(expected),
    )


def test_completion_max_tokens_defaults_to_16(vllm_server: Server, reference: Reference) -> None:
    out = complete(vllm_server, temperature=0)
    expected = reference.greedy(reference.ids(PROMPT), 16)
    assert out.usage is not None and out.usage.completion_tokens == len(expected)
    assert out.choices[0].text == reference.text(expected)


def test_completion_stream_with_usage(vllm_server: Server, reference: Reference) -> None:
    whole = complete(vllm_server, max_tokens=8, temperature=0).choices[0].text
    chunks = list(
        complete(
            vllm_server, max_tokens=8, temperature=0, stream=True, stream_options={"include_usage": True}
        )
    )
    *tokens, last = chunks
    assert "".join(c.choices[0].text for c in tokens) == whole
    assert all(c.usage is None and c.object == "text_completion" for c in tokens)
    assert len({c.id for c in chunks}) == 1
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (len(reference.ids(PROMPT)), 8)


def test_chat_is_transformers_greedy(vllm_server: Server, reference: Reference) -> None:
    ids = reference.chat_ids(MESSAGES)
    expected = reference.greedy(ids, 10)
    out = chat(vllm_server, max_tokens=10, temperature=0)
    assert out.object == "chat.completion" and out.id.startswith("chatcmpl-")
    assert out.model == VLLM_SERVED_NAME
    assert out.choices[0].message.role == "assistant"
    assert out.choices[0].message.content == reference.text(expected)
    assert out.usage is not None and (out.usage.prompt_tokens, out.usage.completion_tokens) == (
        len(ids),
        len(expected),
    )


def test_chat_without_max_tokens_may_fill_the_context(vllm_server: Server, reference: Reference) -> None:
    ids = reference.chat_ids(MESSAGES)
    expected = reference.greedy(ids, VLLM_MAX_MODEL_LEN - len(ids))
    out = chat(vllm_server, temperature=0)
    assert out.usage is not None and out.usage.completion_tokens == len(expected)
    assert out.choices[0].finish_reason == (
        "length" if len(ids) + len(expected) == VLLM_MAX_MODEL_LEN else "stop"
    )


def test_chat_stream_opens_with_the_role_and_ends_with_usage(vllm_server: Server) -> None:
    whole = chat(vllm_server, max_tokens=8, temperature=0).choices[0].message.content
    chunks = list(
        chat(vllm_server, max_tokens=8, temperature=0, stream=True, stream_options={"include_usage": True})
    )
    first, *tokens, last = chunks
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert "".join(c.choices[0].delta.content or "" for c in tokens) == whole
    assert tokens[-1].choices[0].finish_reason is not None
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens == 8


def test_top_p_one_is_accepted_where_tgi_refuses_it(vllm_server: Server) -> None:
    out = complete(vllm_server, max_tokens=3, temperature=0, top_p=1.0)
    assert out.usage is not None and out.usage.completion_tokens == 3


def test_a_seed_repeats_a_sampled_completion(vllm_server: Server) -> None:
    first = complete(vllm_server, max_tokens=12, temperature=0.9, seed=7).choices[0].text
    again = complete(vllm_server, max_tokens=12, temperature=0.9, seed=7, stream=True)
    assert "".join(c.choices[0].text for c in again) == first


def test_stop_ends_the_text_before_the_stop_string(vllm_server: Server) -> None:
    whole = complete(vllm_server, max_tokens=20, temperature=0).choices[0].text
    stop = whole[len(whole) // 2 : len(whole) // 2 + 3]
    out = complete(vllm_server, max_tokens=20, temperature=0, stop=[stop])
    choice = out.choices[0]
    assert choice.text == whole[: whole.find(stop)]
    assert choice.finish_reason == "stop"
    assert choice.model_extra is not None and choice.model_extra["stop_reason"] == stop
    streamed = complete(vllm_server, max_tokens=20, temperature=0, stop=[stop], stream=True)
    assert "".join(c.choices[0].text for c in streamed) == choice.text


@pytest.mark.parametrize(
    ("kwargs", "message", "param"),
    [
        ({"top_p": 1.5}, "top_p must be in (0, 1], got 1.5. (parameter=top_p, value=1.5)", "top_p"),
        ({"temperature": -1}, "temperature must be non-negative, got -1.0.", "temperature"),
        ({"max_tokens": 0}, "max_tokens must be at least 1, got 0.", "max_tokens"),
        ({"stop": [""]}, "stop cannot contain an empty string.", None),
        (
            {"max_tokens": 500},
            "'max_tokens' or 'max_completion_tokens' is too large: 500. This model's maximum context length "
            f"is {VLLM_MAX_MODEL_LEN} tokens",
            "max_tokens",
        ),
        (
            {"prompt": "the cloud " * 200},
            f"This model's maximum context length is {VLLM_MAX_MODEL_LEN} tokens. However, your request has",
            "input_tokens",
        ),
        (
            {"stream_options": {"include_usage": True}},
            "Stream options can only be defined when `stream=True`.",
            None,
        ),
    ],
)
def test_refusals_are_bad_requests_with_vllms_words(
    vllm_server: Server, kwargs: dict, message: str, param: str | None
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        complete(vllm_server, **kwargs)
    assert caught.value.status_code == 400
    assert message in caught.value.message
    assert caught.value.type == "BadRequestError"
    if param is not None:
        assert caught.value.param == param


def test_a_stream_refused_before_it_starts_is_an_http_error(vllm_server: Server) -> None:
    with pytest.raises(openai.BadRequestError, match=r"top_p must be in \(0, 1\]"):
        list(chat(vllm_server, top_p=0, stream=True))


def test_another_model_name_is_not_found(vllm_server: Server) -> None:
    with pytest.raises(openai.NotFoundError, match="The model `gpt-4o` does not exist."):
        client(vllm_server).completions.create(model="gpt-4o", prompt=PROMPT, max_tokens=2)


def test_a_failure_mid_stream_raises_the_servers_message(failing_vllm_server: Server) -> None:
    stream = chat(failing_vllm_server, max_tokens=10, temperature=0, stream=True)
    received = []
    with pytest.raises(openai.APIError, match="Request failed during generation: injected fault") as caught:
        for chunk in stream:
            received.append(chunk)
    assert caught.value.body == {
        "message": caught.value.message,
        "type": "InternalServerError",
        "param": None,
        "code": 500,
    }
    assert len(received) == 3  # the role chunk, then the two tokens before the fault


def test_a_failure_not_streamed_is_an_internal_server_error(failing_vllm_server: Server) -> None:
    with pytest.raises(openai.InternalServerError, match="injected fault"):
        complete(failing_vllm_server, max_tokens=10, temperature=0)
