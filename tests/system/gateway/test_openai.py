"""The openai SDK against `llm-twin serve`'s Messages API, as TGI's docs show it.

`OpenAI(base_url=f"{gateway}/v1", api_key=token)`. Answers are compared with the endpoint's
own answer to the same body (sent unchanged through InvokeEndpoint); refusals must reach the
SDK as its own exception classes, carrying the server's message.
"""

from __future__ import annotations

import openai
import pytest

from llm_twin.control.deploy.deployment import Deployment
from tests.support.gateway import PROMPT, TOKEN, TOO_LONG_PROMPT, UNICODE_PROMPT, Gateway, endpoint_answer

pytestmark = pytest.mark.stack

MESSAGES = [{"role": "user", "content": PROMPT}]


def _client(gateway: Gateway, token: str = TOKEN) -> openai.OpenAI:
    # No retries: a refusal must surface at once, and a retried 5xx would hide what was sent.
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=token, max_retries=0, timeout=60)


def test_a_completion_is_the_endpoints_answer_with_usage(gateway: Gateway, applied_stack: Deployment) -> None:
    completion = _client(gateway).chat.completions.create(
        model="tgi", messages=MESSAGES, max_tokens=8, temperature=0
    )
    reference = endpoint_answer(applied_stack, {"messages": MESSAGES, "max_tokens": 8, "temperature": 0})
    assert completion.choices[0].message.content == reference["choices"][0]["message"]["content"]
    assert completion.usage.completion_tokens == 8
    assert completion.usage.prompt_tokens == reference["usage"]["prompt_tokens"]


def test_a_stream_has_the_same_text_and_ends_with_the_usage_chunk(gateway: Gateway) -> None:
    client = _client(gateway)
    whole = client.chat.completions.create(model="tgi", messages=MESSAGES, max_tokens=8, temperature=0)
    chunks = list(
        client.chat.completions.create(
            model="tgi",
            messages=MESSAGES,
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == whole.usage.total_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_a_unicode_conversation_and_a_seed(gateway: Gateway, applied_stack: Deployment) -> None:
    messages = [
        {"role": "user", "content": UNICODE_PROMPT},
        {"role": "assistant", "content": "🌸 はい。"},
        {"role": "user", "content": "cafe\u0301?"},
    ]
    body = {"messages": messages, "max_tokens": 8, "temperature": 0.9, "seed": 5}
    completion = _client(gateway).chat.completions.create(model="tgi", **body)
    assert (
        completion.choices[0].message.content
        == endpoint_answer(applied_stack, body)["choices"][0]["message"]["content"]
    )


def test_a_stop_sequence_ends_the_answer(gateway: Gateway) -> None:
    client = _client(gateway)
    free = client.chat.completions.create(model="tgi", messages=MESSAGES, max_tokens=16, temperature=0)
    words = free.choices[0].message.content.split()
    stop = words[1] if len(words) > 1 else words[0]
    stopped = client.chat.completions.create(
        model="tgi", messages=MESSAGES, max_tokens=16, temperature=0, stop=[stop]
    )
    content = stopped.choices[0].message.content
    assert content.endswith(stop) and len(content) <= len(free.choices[0].message.content)


def test_a_refused_parameter_is_unprocessable_with_the_message(gateway: Gateway) -> None:
    with pytest.raises(openai.UnprocessableEntityError, match="temperature") as raised:
        _client(gateway).chat.completions.create(model="tgi", messages=MESSAGES, max_tokens=4, temperature=-1)
    assert raised.value.status_code == 422 and raised.value.param == "temperature"


def test_the_endpoints_own_refusal_is_unprocessable_with_the_message(gateway: Gateway) -> None:
    # A prompt over the endpoint's MAX_INPUT_TOKENS: only the endpoint knows its limits.
    messages = [{"role": "user", "content": TOO_LONG_PROMPT}]
    with pytest.raises(openai.UnprocessableEntityError, match="must have less than"):
        _client(gateway).chat.completions.create(model="tgi", messages=messages, max_tokens=4)


def test_a_malformed_message_is_a_bad_request_or_unprocessable(gateway: Gateway) -> None:
    with pytest.raises(openai.APIStatusError, match="messages") as raised:
        _client(gateway).chat.completions.create(model="tgi", messages=[], max_tokens=4)
    assert raised.value.status_code in (400, 422)


def test_a_stream_cut_mid_generation_raises_the_message(faulty_gateway: Gateway) -> None:
    stream = _client(faulty_gateway).chat.completions.create(
        model="tgi", messages=MESSAGES, max_tokens=12, stream=True
    )
    with pytest.raises(openai.APIError, match="broke"):
        list(stream)


def test_a_wrong_token_is_an_authentication_error(gateway: Gateway) -> None:
    # The SDK refuses to start without a key, so a wrong one is what a user can get wrong.
    with pytest.raises(openai.AuthenticationError, match="token"):
        _client(gateway, "not-the-token").chat.completions.create(
            model="tgi", messages=MESSAGES, max_tokens=4
        )


def test_an_endpoint_sagemaker_does_not_know_is_a_server_error(endpointless_gateway: Gateway) -> None:
    with pytest.raises(openai.InternalServerError, match="llm-twin-no-such-endpoint") as raised:
        _client(endpointless_gateway).chat.completions.create(model="tgi", messages=MESSAGES, max_tokens=4)
    assert raised.value.status_code == 502
