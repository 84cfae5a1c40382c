"""text-generation's `Client` (TGI's own Python client) against a real model server.

It posts every field, nulls included, to the base URL (TGI's `POST /`), with `details`
forced on. Its own pydantic checks run first, so each server-side refusal here is one the
client lets through (the message says "Input validation error:", which only the server writes).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clients import UNICODE_PROMPT, text_generation
from tests.support.model_server import MAX_INPUT_TOKENS, Reference, Server, refused_while_busy

pytestmark = pytest.mark.timeout(120)

PROMPT = "The quick brown fox"


@pytest.fixture(scope="module")
def tg() -> Any:
    return text_generation()


def client(tg: Any, server: Server) -> Any:
    return tg.Client(server.url, timeout=60)


def test_generate_is_transformers_greedy(tg: Any, server: Server, reference: Reference) -> None:
    expected = reference.greedy(reference.ids(PROMPT), 12)
    out = client(tg, server).generate(PROMPT, max_new_tokens=12)
    assert [t.id for t in out.details.tokens] == expected
    assert out.generated_text == reference.text(expected)
    assert out.details.finish_reason == "length" and out.details.seed is None


def test_generate_prefill(tg: Any, server: Server, reference: Reference) -> None:
    out = client(tg, server).generate(PROMPT, max_new_tokens=3, decoder_input_details=True)
    assert [t.id for t in out.details.prefill] == reference.ids(PROMPT)


def test_generate_stream(tg: Any, server: Server, reference: Reference) -> None:
    events = list(client(tg, server).generate_stream(PROMPT, max_new_tokens=8))
    assert [e.token.id for e in events] == reference.greedy(reference.ids(PROMPT), 8)
    assert events[-1].details.finish_reason == "length" and events[-1].details.generated_tokens == 8
    assert events[-1].generated_text == "".join(e.token.text for e in events if not e.token.special)


def test_unicode_prompt_round_trips(tg: Any, server: Server, reference: Reference) -> None:
    out = client(tg, server).generate(
        UNICODE_PROMPT, max_new_tokens=4, return_full_text=True, decoder_input_details=True
    )
    assert out.generated_text.startswith(UNICODE_PROMPT)
    assert [t.id for t in out.details.prefill] == reference.ids(UNICODE_PROMPT)
    streamed = list(
        client(tg, server).generate_stream(UNICODE_PROMPT, max_new_tokens=4, return_full_text=True)
    )
    assert streamed[-1].generated_text == out.generated_text


def test_stop_sequences(tg: Any, server: Server, reference: Reference) -> None:
    expected = reference.greedy(reference.ids(PROMPT), 30)
    texts = [reference.tokenizer.decode([i]) for i in expected]
    index = next(i for i in range(3, len(texts)) if texts[i].strip() and texts[i] not in "".join(texts[:i]))
    out = client(tg, server).generate(PROMPT, max_new_tokens=30, stop_sequences=[texts[index]])
    assert out.details.finish_reason == "stop_sequence"
    assert [t.id for t in out.details.tokens] == expected[: index + 1]
    events = list(
        client(tg, server).generate_stream(PROMPT, max_new_tokens=30, stop_sequences=[texts[index]])
    )
    assert events[-1].details.finish_reason == "stop_sequence" and len(events) == index + 1


def test_same_seed_same_text(tg: Any, server: Server) -> None:
    def sample(seed: int) -> str:
        return (
            client(tg, server).generate(PROMPT, max_new_tokens=16, do_sample=True, seed=seed).generated_text
        )

    assert sample(11) == sample(11)
    assert sample(11) != sample(12)
    streamed = list(client(tg, server).generate_stream(PROMPT, max_new_tokens=16, do_sample=True, seed=11))
    assert streamed[-1].generated_text == sample(11) and streamed[-1].details.seed == 11


def test_truncate_keeps_the_last_tokens(tg: Any, server: Server, reference: Reference) -> None:
    long_prompt = "word " * (MAX_INPUT_TOKENS + 20)
    ids = reference.ids(long_prompt)
    out = client(tg, server).generate(long_prompt, max_new_tokens=6, truncate=16, decoder_input_details=True)
    assert [t.id for t in out.details.prefill] == ids[-16:]
    assert [t.id for t in out.details.tokens] == reference.greedy(ids[-16:], 6)


def test_validation_error(tg: Any, server: Server) -> None:
    # top_n_tokens > 0 passes the client's own check; TGI's limit is 5.
    with pytest.raises(tg.errors.ValidationError, match=r"^Input validation error: `top_n_tokens` must be"):
        client(tg, server).generate(PROMPT, max_new_tokens=2, top_n_tokens=6)


def test_validation_error_in_stream(tg: Any, server: Server) -> None:
    with pytest.raises(
        tg.errors.ValidationError, match=r"^Input validation error: `inputs` must have less than"
    ):
        list(client(tg, server).generate_stream("word " * (MAX_INPUT_TOKENS + 20), max_new_tokens=2))


def test_overloaded(tg: Any, busy_server: Server) -> None:
    refused = refused_while_busy(
        busy_server, lambda: client(tg, busy_server).generate("Hi", max_new_tokens=2)
    )
    assert isinstance(refused, tg.errors.OverloadedError)


def test_overloaded_in_stream(tg: Any, busy_server: Server) -> None:
    refused = refused_while_busy(
        busy_server, lambda: list(client(tg, busy_server).generate_stream("Hi", max_new_tokens=2))
    )
    assert isinstance(refused, tg.errors.OverloadedError)


def test_generation_error(tg: Any, failing_server: Server) -> None:
    with pytest.raises(tg.errors.GenerationError, match="^Request failed during generation: "):
        client(tg, failing_server).generate(PROMPT, max_new_tokens=8)


def test_generation_error_in_stream(tg: Any, failing_server: Server) -> None:
    with pytest.raises(tg.errors.GenerationError, match="^Request failed during generation: "):
        list(client(tg, failing_server).generate_stream(PROMPT, max_new_tokens=8))


def test_chat_is_transformers_greedy(tg: Any, server: Server, reference: Reference) -> None:
    messages = [{"role": "user", "content": UNICODE_PROMPT}]
    ids = reference.chat_ids(messages)
    out = client(tg, server).chat([tg.types.Message(**m) for m in messages], max_tokens=6, temperature=0)
    assert out.choices[0].message.content == reference.text(reference.greedy(ids, 6))
    assert out.usage["prompt_tokens"] == len(ids) and out.usage["completion_tokens"] == 6


def test_chat_validation_error(tg: Any, server: Server) -> None:
    with pytest.raises(
        tg.errors.ValidationError, match=r"^Input validation error: `top_p` must be > 0.0 and < 1.0"
    ):
        client(tg, server).chat([tg.types.Message(role="user", content="Hi")], max_tokens=2, top_p=1.0)


def test_chat_stream_is_broken_in_the_client(tg: Any, server: Server) -> None:
    """A known defect of text-generation 0.7.0 (research.md B2), pinned so an upgrade that fixes it shows.

    Its `ChoiceDelta.tool_calls` has no default, so a TGI 3.x chunk (which omits the key)
    fails validation, and the error path reads `requests.Response.status`, which does not exist.
    """
    stream = client(tg, server).chat([tg.types.Message(role="user", content="Hi")], max_tokens=2, stream=True)
    with pytest.raises(AttributeError, match="'Response' object has no attribute 'status'"):
        next(iter(stream))


def test_chat_overloaded_and_generation_errors(tg: Any, busy_server: Server, failing_server: Server) -> None:
    hi = [tg.types.Message(role="user", content="Hi")]
    refused = refused_while_busy(busy_server, lambda: client(tg, busy_server).chat(hi, max_tokens=2))
    assert isinstance(refused, tg.errors.OverloadedError)
    with pytest.raises(tg.errors.GenerationError, match="^Request failed during generation: "):
        client(tg, failing_server).chat(hi, max_tokens=8)
