"""huggingface_hub's InferenceClient against a real model server, as a user points it at TGI.

`text_generation` posts to the base URL (TGI's `POST /`), `chat_completion` to
`/v1/chat/completions`; greedy texts are checked against transformers' own `generate`.
On `POST /`, TGI prepends the prompt unless `return_full_text=False` (a model without a
pipeline tag, as TGI's `compat_return_full_text`; hub models tagged text-generation too).
"""

from __future__ import annotations

import pytest
from huggingface_hub import InferenceClient
from huggingface_hub.errors import (
    GenerationError,
    HfHubHTTPError,
    OverloadedError,
    UnknownError,
    ValidationError,
)

from tests.support.clients import UNICODE_PROMPT
from tests.support.model_server import MAX_INPUT_TOKENS, Reference, Server, refused_while_busy

pytestmark = pytest.mark.timeout(120)

PROMPT = "The quick brown fox"
MESSAGES = [{"role": "user", "content": "Hi there"}]


_clients: dict[str, InferenceClient] = {}


def client(server: Server) -> InferenceClient:
    """One client per server, kept alive: a stream's response closes with the client that opened it."""
    if server.url not in _clients:
        _clients[server.url] = InferenceClient(base_url=server.url, timeout=60)
    return _clients[server.url]


# -- text_generation -----------------------------------------------------------------------


def test_text_generation_is_transformers_greedy(server: Server, reference: Reference) -> None:
    expected = reference.greedy(reference.ids(PROMPT), 12)
    out = client(server).text_generation(PROMPT, max_new_tokens=12, details=True)
    assert [t.id for t in out.details.tokens] == expected
    assert out.generated_text == PROMPT + reference.text(expected)
    assert client(server).text_generation(PROMPT, max_new_tokens=12) == out.generated_text
    new_text = client(server).text_generation(PROMPT, max_new_tokens=12, return_full_text=False)
    assert new_text == reference.text(expected)


def test_details_and_prefill(server: Server, reference: Reference) -> None:
    out = client(server).text_generation(PROMPT, max_new_tokens=5, details=True, decoder_input_details=True)
    assert out.details.finish_reason == "length" and out.details.generated_tokens == 5
    assert out.details.seed is None  # greedy
    assert [t.id for t in out.details.prefill] == reference.ids(PROMPT)
    assert out.details.prefill[0].logprob is None


def test_stream_tokens_and_input_length(server: Server, reference: Reference) -> None:
    ids = reference.ids(PROMPT)
    events = list(client(server).text_generation(PROMPT, max_new_tokens=8, stream=True, details=True))
    assert [e.token.id for e in events] == reference.greedy(ids, 8)
    assert all(e.details is None and e.generated_text is None for e in events[:-1])
    last = events[-1]
    assert last.details.input_length == len(ids)
    assert last.details.finish_reason == "length" and last.details.generated_tokens == 8
    assert last.generated_text == PROMPT + "".join(e.token.text for e in events if not e.token.special)


def test_unicode_prompt_round_trips(server: Server, reference: Reference) -> None:
    out = client(server).text_generation(
        UNICODE_PROMPT, max_new_tokens=4, details=True, decoder_input_details=True, return_full_text=True
    )
    assert out.generated_text.startswith(UNICODE_PROMPT)  # byte for byte: no normalization
    assert [t.id for t in out.details.prefill] == reference.ids(UNICODE_PROMPT)
    streamed = list(
        client(server).text_generation(UNICODE_PROMPT, max_new_tokens=4, stream=True, details=True)
    )
    assert streamed[-1].details.input_length == len(reference.ids(UNICODE_PROMPT))


def test_stop_sequence(server: Server, reference: Reference) -> None:
    expected = reference.greedy(reference.ids(PROMPT), 30)
    texts = [reference.tokenizer.decode([i]) for i in expected]
    index = next(i for i in range(3, len(texts)) if texts[i].strip() and texts[i] not in "".join(texts[:i]))
    out = client(server).text_generation(PROMPT, max_new_tokens=30, stop=[texts[index]], details=True)
    assert out.details.finish_reason == "stop_sequence"
    assert [t.id for t in out.details.tokens] == expected[: index + 1]
    assert out.generated_text.endswith(texts[index])


def test_same_seed_same_text(server: Server) -> None:
    def sample(seed: int) -> str:
        return client(server).text_generation(
            PROMPT, max_new_tokens=16, do_sample=True, temperature=0.9, top_k=50, seed=seed
        )

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_truncate_keeps_the_last_tokens(server: Server, reference: Reference) -> None:
    long_prompt = "word " * (MAX_INPUT_TOKENS + 20)
    ids = reference.ids(long_prompt)
    assert len(ids) > MAX_INPUT_TOKENS
    out = client(server).text_generation(
        long_prompt, max_new_tokens=6, truncate=16, details=True, decoder_input_details=True
    )
    assert [t.id for t in out.details.prefill] == ids[-16:]
    assert [t.id for t in out.details.tokens] == reference.greedy(ids[-16:], 6)


def test_validation_error(server: Server) -> None:
    with pytest.raises(ValidationError, match=r"^Input validation error: `top_p` must be > 0.0 and < 1.0$"):
        client(server).text_generation(PROMPT, max_new_tokens=2, top_p=1.0)


def test_validation_error_in_stream(server: Server) -> None:
    with pytest.raises(ValidationError, match=r"`typical_p` must be > 0.0 and < 1.0"):
        list(client(server).text_generation(PROMPT, max_new_tokens=2, typical_p=1.5, stream=True))


def test_overloaded(busy_server: Server) -> None:
    refused = refused_while_busy(
        busy_server, lambda: client(busy_server).text_generation("Hi", max_new_tokens=2)
    )
    assert isinstance(refused, OverloadedError) and str(refused).startswith("Model is overloaded")


def test_overloaded_in_stream(busy_server: Server) -> None:
    refused = refused_while_busy(
        busy_server, lambda: list(client(busy_server).text_generation("Hi", max_new_tokens=2, stream=True))
    )
    assert isinstance(refused, OverloadedError)


def test_generation_error(failing_server: Server) -> None:
    with pytest.raises(GenerationError, match="^Request failed during generation: "):
        client(failing_server).text_generation(PROMPT, max_new_tokens=8)


def test_generation_error_in_stream(failing_server: Server) -> None:
    tokens = []
    with pytest.raises(GenerationError, match="^Request failed during generation: "):
        for token in client(failing_server).text_generation(PROMPT, max_new_tokens=8, stream=True):
            tokens.append(token)
    assert len(tokens) == 2


# -- chat_completion -----------------------------------------------------------------------


def test_chat_completion_is_transformers_greedy(server: Server, reference: Reference) -> None:
    ids = reference.chat_ids(MESSAGES)
    out = client(server).chat_completion(MESSAGES, max_tokens=10, temperature=0)
    assert out.choices[0].message.content == reference.text(reference.greedy(ids, 10))
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (len(ids), 10)
    assert out.usage.total_tokens == len(ids) + 10


def test_chat_stream_ends_cleanly(server: Server) -> None:
    whole = client(server).chat_completion(MESSAGES, max_tokens=10, temperature=0)
    chunks = list(client(server).chat_completion(MESSAGES, max_tokens=10, temperature=0, stream=True))
    assert "".join(c.choices[0].delta.content for c in chunks) == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(c.usage is None for c in chunks)


def test_chat_stream_include_usage(server: Server, reference: Reference) -> None:
    chunks = list(
        client(server).chat_completion(
            MESSAGES, max_tokens=6, temperature=0, stream=True, stream_options={"include_usage": True}
        )
    )
    usage = chunks[-1]
    assert usage.choices == []
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens) == (
        len(reference.chat_ids(MESSAGES)),
        6,
    )
    assert all(c.usage is None and len(c.choices) == 1 for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "length"


def test_chat_unicode_round_trips(server: Server, reference: Reference) -> None:
    messages = [{"role": "user", "content": UNICODE_PROMPT}]
    out = client(server).chat_completion(messages, max_tokens=4, temperature=0)
    assert out.usage.prompt_tokens == len(reference.chat_ids(messages))
    assert out.choices[0].message.content == reference.text(reference.greedy(reference.chat_ids(messages), 4))


def test_chat_same_seed_same_text(server: Server) -> None:
    def sample(seed: int) -> str:
        out = client(server).chat_completion(MESSAGES, max_tokens=16, temperature=0.9, seed=seed)
        return out.choices[0].message.content

    assert sample(3) == sample(3)
    assert sample(3) != sample(4)


def test_chat_validation_error_is_an_http_error(server: Server) -> None:
    with pytest.raises(HfHubHTTPError) as raised:
        client(server).chat_completion(MESSAGES, max_tokens=2, top_p=1.0)
    assert raised.value.response.status_code == 422
    assert "Input validation error: `top_p` must be > 0.0 and < 1.0" in str(raised.value)


def test_chat_stream_error_is_unknown_error(server: Server) -> None:
    """TGI's chat-stream error event has no `error_type`: huggingface_hub can only say UnknownError."""
    with pytest.raises(UnknownError, match="Input validation error: `top_p` must be > 0.0 and < 1.0"):
        list(client(server).chat_completion(MESSAGES, max_tokens=2, top_p=1.0, stream=True))


def test_chat_overloaded_and_generation_errors_are_http_errors(
    busy_server: Server, failing_server: Server
) -> None:
    """chat_completion does not map TGI's error types (research.md B1): the status tells them apart."""
    refused = refused_while_busy(
        busy_server, lambda: client(busy_server).chat_completion(MESSAGES, max_tokens=2)
    )
    assert isinstance(refused, HfHubHTTPError) and refused.response.status_code == 429
    with pytest.raises(HfHubHTTPError) as raised:
        client(failing_server).chat_completion(MESSAGES, max_tokens=8)
    assert raised.value.response.status_code == 424
    assert "Request failed during generation: " in str(raised.value)
