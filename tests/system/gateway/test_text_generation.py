"""TGI's own Python client (`text-generation` 0.7.0) against `llm-twin serve`, as TGI's docs show it.

`Client(base_url, headers={"Authorization": f"Bearer {token}"})`: `generate` and
`generate_stream` POST to the base URL (TGI's `POST /`) with every parameter, null or not,
and `details` forced on; `chat` POSTs to `/v1/chat/completions` with `tool_calls: null`
in each message. Answers are compared with the endpoint's own answer to the same body.

Not tested: `Client.chat(stream=True)`, broken against TGI 3.x itself (its `ChoiceDelta`
requires `tool_calls`, which TGI's deltas omit; the error path then reads `resp.status`,
which requests' Response lacks).
"""

from __future__ import annotations

from types import ModuleType

import pytest

from llm_twin.control.deploy.deployment import Deployment
from tests.support.clients import text_generation
from tests.support.gateway import (
    LONG_PROMPT,
    PROMPT,
    TOKEN,
    UNICODE_PROMPT,
    Gateway,
    endpoint_answer,
    endpoint_events,
)

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def tg() -> ModuleType:
    return text_generation()


def _client(tg: ModuleType, gateway: Gateway, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else None
    return tg.Client(gateway.url, headers=headers, timeout=60)


def test_generate_is_greedy_with_details_as_on_the_endpoint(
    tg: ModuleType, gateway: Gateway, applied_stack: Deployment
) -> None:
    answer = _client(tg, gateway).generate(PROMPT, max_new_tokens=12)
    reference = endpoint_answer(
        applied_stack,
        {"inputs": PROMPT, "parameters": {"max_new_tokens": 12, "details": True, "return_full_text": False}},
    )
    assert answer.generated_text == reference[0]["generated_text"]
    assert answer.details.finish_reason == "length" and answer.details.generated_tokens == 12
    assert answer.details.seed is None  # greedy: no sampling was asked for, none was added


def test_generate_stream_sends_nulls_and_reads_every_token(
    tg: ModuleType, gateway: Gateway, applied_stack: Deployment
) -> None:
    events = list(_client(tg, gateway).generate_stream(PROMPT, max_new_tokens=12))
    reference = endpoint_events(
        applied_stack,
        {"inputs": PROMPT, "parameters": {"max_new_tokens": 12, "details": True, "return_full_text": False}},
    )
    assert [e.token.id for e in events] == [e["token"]["id"] for e in reference]
    assert events[-1].generated_text == reference[-1]["generated_text"]
    assert events[-1].details.generated_tokens == 12


def test_a_unicode_prompt_arrives_unchanged(tg: ModuleType, gateway: Gateway) -> None:
    answer = _client(tg, gateway).generate(UNICODE_PROMPT, max_new_tokens=8, return_full_text=True)
    assert answer.generated_text.startswith(UNICODE_PROMPT)


def test_a_stop_sequence_ends_the_generation(tg: ModuleType, gateway: Gateway) -> None:
    client = _client(tg, gateway)
    free = client.generate(PROMPT, max_new_tokens=16).generated_text
    stop = free.split()[1] if len(free.split()) > 1 else free[-2:]
    answer = client.generate(PROMPT, max_new_tokens=16, stop_sequences=[stop])
    assert answer.generated_text.endswith(stop) and answer.details.finish_reason == "stop_sequence"


def test_a_seed_gives_the_same_sample_as_on_the_endpoint(
    tg: ModuleType, gateway: Gateway, applied_stack: Deployment
) -> None:
    parameters = {"max_new_tokens": 12, "do_sample": True, "temperature": 0.9, "seed": 42}
    answer = _client(tg, gateway).generate(PROMPT, **parameters)
    reference = endpoint_answer(
        applied_stack,
        {"inputs": PROMPT, "parameters": {**parameters, "details": True, "return_full_text": False}},
    )
    assert answer.generated_text == reference[0]["generated_text"] and answer.details.seed == 42


def test_truncate_keeps_the_last_tokens(tg: ModuleType, gateway: Gateway, applied_stack: Deployment) -> None:
    answer = _client(tg, gateway).generate(LONG_PROMPT, max_new_tokens=4, truncate=16)
    body = {
        "inputs": LONG_PROMPT,
        "parameters": {"max_new_tokens": 4, "truncate": 16, "return_full_text": False},
    }
    assert answer.generated_text == endpoint_answer(applied_stack, body)[0]["generated_text"]


def test_chat_accepts_tool_calls_null_and_answers_with_usage(tg: ModuleType, gateway: Gateway) -> None:
    messages = [tg.types.Message(role="user", content=UNICODE_PROMPT)]
    answer = _client(tg, gateway).chat(messages, max_tokens=8, temperature=0, seed=1)
    assert answer.choices[0].message.content
    assert answer.usage["completion_tokens"] == 8


def test_too_many_stop_sequences_is_a_validation_error(tg: ModuleType, gateway: Gateway) -> None:
    with pytest.raises(tg.errors.ValidationError, match="`stop` supports up to 4 stop sequences. Given: 5"):
        _client(tg, gateway).generate(PROMPT, max_new_tokens=4, stop_sequences=list("abcde"))
    with pytest.raises(tg.errors.ValidationError, match="`stop` supports up to 4"):
        list(_client(tg, gateway).generate_stream(PROMPT, max_new_tokens=4, stop_sequences=list("abcde")))


def test_the_endpoints_own_refusal_is_a_validation_error(tg: ModuleType, gateway: Gateway) -> None:
    # truncate over the endpoint's MAX_INPUT_TOKENS: only the endpoint knows its limits.
    with pytest.raises(tg.errors.ValidationError, match="`truncate` must be strictly positive and less than"):
        _client(tg, gateway).generate(PROMPT, max_new_tokens=4, truncate=5000)


def test_a_stream_cut_mid_generation_is_an_incomplete_generation(
    tg: ModuleType, faulty_gateway: Gateway
) -> None:
    with pytest.raises(tg.errors.IncompleteGenerationError, match="broke"):
        list(_client(tg, faulty_gateway).generate_stream(PROMPT, max_new_tokens=12))


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_without_the_token_it_is_401(tg: ModuleType, gateway: Gateway, token: str | None) -> None:
    # text-generation maps a status it does not know (401) to UnknownError, with the server's message.
    with pytest.raises(tg.errors.UnknownError, match="token"):
        _client(tg, gateway, token).generate(PROMPT, max_new_tokens=4)
    with pytest.raises(tg.errors.UnknownError, match="token"):
        list(_client(tg, gateway, token).generate_stream(PROMPT, max_new_tokens=4))


def test_an_endpoint_sagemaker_does_not_know_is_an_unknown_error(
    tg: ModuleType, endpointless_gateway: Gateway
) -> None:
    # A 502 with a type TGI never sends: the client's fallback, with the gateway's message.
    with pytest.raises(tg.errors.UnknownError, match="llm-twin-no-such-endpoint"):
        _client(tg, endpointless_gateway).generate(PROMPT, max_new_tokens=4)
