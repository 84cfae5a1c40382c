"""The openai SDK against a real model server's Messages API, as TGI's docs show it (base_url .../v1).

TGI answers non-stream refusals in its own shape (`{"error": str, "error_type"}`), which the
SDK maps by status only; inside a stream it sends OpenAI's `{"error": {"message", ...}}`,
which the SDK raises as `APIError` with TGI's message.
"""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from tests.support.clients import UNICODE_PROMPT
from tests.support.model_server import Reference, Server, refused_while_busy

pytestmark = pytest.mark.timeout(120)

MESSAGES = [{"role": "user", "content": "Hi there"}]


_clients: dict[str, OpenAI] = {}


def client(server: Server) -> OpenAI:
    """One client per server, made once: building one takes long enough to miss a busy server's window.

    No retries: a refusal must reach the test as the SDK raises it, not be retried away.
    """
    if server.url not in _clients:
        _clients[server.url] = OpenAI(base_url=server.url + "/v1", api_key="-", max_retries=0, timeout=60)
    return _clients[server.url]


def chat(server: Server, **kwargs: object):  # type: ignore[no-untyped-def]
    return client(server).chat.completions.create(model="tgi", messages=MESSAGES, **kwargs)  # type: ignore[call-overload]


def test_chat_is_transformers_greedy(server: Server, reference: Reference) -> None:
    ids = reference.chat_ids(MESSAGES)
    out = chat(server, max_tokens=10, temperature=0)
    assert out.object == "chat.completion"
    assert out.choices[0].message.content == reference.text(reference.greedy(ids, 10))
    assert out.choices[0].finish_reason == "length"
    assert (out.usage.prompt_tokens, out.usage.completion_tokens, out.usage.total_tokens) == (
        len(ids),
        10,
        len(ids) + 10,
    )


def test_chat_stream(server: Server) -> None:
    whole = chat(server, max_tokens=10, temperature=0).choices[0].message.content
    chunks = list(chat(server, max_tokens=10, temperature=0, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "length"


def test_chat_stream_include_usage(server: Server, reference: Reference) -> None:
    chunks = list(
        chat(server, max_tokens=6, temperature=0, stream=True, stream_options={"include_usage": True})
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (len(reference.chat_ids(MESSAGES)), 6)
    assert all(c.usage is None and len(c.choices) == 1 for c in chunks[:-1])


def test_chat_unicode_round_trips(server: Server, reference: Reference) -> None:
    messages = [{"role": "user", "content": UNICODE_PROMPT}]
    out = client(server).chat.completions.create(model="tgi", messages=messages, max_tokens=4, temperature=0)  # type: ignore[arg-type]
    ids = reference.chat_ids(messages)
    assert out.usage is not None and out.usage.prompt_tokens == len(ids)
    assert out.choices[0].message.content == reference.text(reference.greedy(ids, 4))


def test_chat_stop_sequence(server: Server, reference: Reference) -> None:
    expected = reference.greedy(reference.chat_ids(MESSAGES), 30)
    texts = [reference.tokenizer.decode([i]) for i in expected]
    index = next(i for i in range(3, len(texts)) if texts[i].strip() and texts[i] not in "".join(texts[:i]))
    out = chat(server, max_tokens=30, temperature=0, stop=[texts[index]])
    # TGI keeps its own name for this reason on the Messages API (FinishReason::format, research.md A4).
    assert out.choices[0].finish_reason == "stop_sequence"
    assert out.choices[0].message.content == reference.text(expected[: index + 1])


def test_chat_same_seed_same_text(server: Server) -> None:
    def sample(seed: int) -> str:
        return chat(server, max_tokens=16, temperature=0.9, seed=seed).choices[0].message.content

    assert sample(5) == sample(5)
    assert sample(5) != sample(6)


def test_validation_error(server: Server) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        chat(server, max_tokens=2, top_p=1.0)
    assert raised.value.status_code == 422
    assert raised.value.body == "Input validation error: `top_p` must be > 0.0 and < 1.0"


def test_validation_error_in_stream(server: Server) -> None:
    with pytest.raises(
        openai.APIError, match=r"^Input validation error: `top_p` must be > 0.0 and < 1.0$"
    ) as raised:
        list(chat(server, max_tokens=2, top_p=1.0, stream=True))
    assert raised.value.body == {
        "message": "Input validation error: `top_p` must be > 0.0 and < 1.0",
        "http_status_code": 422,
    }


def test_overloaded(busy_server: Server) -> None:
    refused = refused_while_busy(busy_server, lambda: chat(busy_server, max_tokens=2))
    assert isinstance(refused, openai.RateLimitError) and refused.body == "Model is overloaded"


def test_overloaded_in_stream(busy_server: Server) -> None:
    refused = refused_while_busy(busy_server, lambda: list(chat(busy_server, max_tokens=2, stream=True)))
    assert type(refused) is openai.APIError and refused.message == "Model is overloaded"


def test_generation_error(failing_server: Server) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        chat(failing_server, max_tokens=8)
    assert raised.value.status_code == 424
    assert str(raised.value.body).startswith("Request failed during generation: ")


def test_generation_error_in_stream(failing_server: Server) -> None:
    chunks = []
    with pytest.raises(openai.APIError, match="^Request failed during generation: "):
        for chunk in chat(failing_server, max_tokens=8, stream=True):
            chunks.append(chunk)
    assert len(chunks) == 2


def test_completions(server: Server, reference: Reference) -> None:
    completions = client(server).completions
    out = completions.create(model="tgi", prompt="The quick brown fox", max_tokens=8, temperature=0)
    ids = reference.ids("The quick brown fox")
    assert out.choices[0].text == reference.text(reference.greedy(ids, 8))
    assert out.usage is not None and out.usage.prompt_tokens == len(ids)
    chunks = list(
        completions.create(
            model="tgi", prompt="The quick brown fox", max_tokens=8, temperature=0, stream=True
        )
    )
    assert "".join(c.choices[0].text for c in chunks) == out.choices[0].text
