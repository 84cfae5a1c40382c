"""huggingface_hub's InferenceClient against `llm-twin serve`, as its docs show it for a TGI URL.

`InferenceClient(base_url=gateway, api_key=token)`: `text_generation` POSTs TGI's body to the
base URL (TGI's `POST /`), `chat_completion` to `/v1/chat/completions`. Every answer is compared
with the endpoint's own answer to the same body, sent unchanged through InvokeEndpoint.
"""

from __future__ import annotations

import pytest
from huggingface_hub import InferenceClient
from huggingface_hub.errors import (
    HfHubHTTPError,
    IncompleteGenerationError,
    TextGenerationError,
    ValidationError,
)

from llm_twin.control.deploy.deployment import Deployment
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


@pytest.fixture(autouse=True)
def no_saved_token(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Only the token a test passes is sent: no HF_TOKEN, no token saved by `hf auth login`."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


_KEPT: list[InferenceClient] = []


def _client(gateway: Gateway, token: str | None = TOKEN) -> InferenceClient:
    # A stream is read through the client's exit stack, which its __del__ closes: kept alive
    # here, as a user's `client = InferenceClient(...)` keeps it.
    client = InferenceClient(base_url=gateway.url, api_key=token, timeout=60)
    _KEPT.append(client)
    return client


def test_text_generation_is_greedy_and_the_endpoints_own_answer(
    gateway: Gateway, applied_stack: Deployment
) -> None:
    text = _client(gateway).text_generation(PROMPT, max_new_tokens=12)
    # hf sends {"inputs", "parameters": {"max_new_tokens": 12}}: no sampling asked, none added.
    reference = endpoint_answer(applied_stack, {"inputs": PROMPT, "parameters": {"max_new_tokens": 12}})
    assert text == reference[0]["generated_text"]
    assert _client(gateway).text_generation(PROMPT, max_new_tokens=12) == text


def test_details_are_only_there_when_asked_and_relayed_whole(
    gateway: Gateway, applied_stack: Deployment
) -> None:
    answer = _client(gateway).text_generation(PROMPT, max_new_tokens=12, details=True)
    body = {"inputs": PROMPT, "parameters": {"max_new_tokens": 12, "details": True}}
    reference = endpoint_answer(applied_stack, body)[0]
    assert answer.generated_text == reference["generated_text"]
    assert answer.details.finish_reason == reference["details"]["finish_reason"] == "length"
    assert [t.id for t in answer.details.tokens] == [t["id"] for t in reference["details"]["tokens"]]
    assert answer.details.seed is None  # greedy


def test_a_stream_carries_each_token_and_the_final_details_with_input_length(
    gateway: Gateway, applied_stack: Deployment
) -> None:
    events = list(_client(gateway).text_generation(PROMPT, max_new_tokens=12, stream=True, details=True))
    reference = endpoint_events(
        applied_stack, {"inputs": PROMPT, "parameters": {"max_new_tokens": 12, "details": True}}
    )
    assert [e.token.id for e in events] == [e["token"]["id"] for e in reference]
    assert events[-1].generated_text == reference[-1]["generated_text"]
    details = events[-1].details
    assert details.input_length == reference[-1]["details"]["input_length"] > 0
    assert details.generated_tokens == 12 and details.finish_reason == "length"


def test_a_stream_without_details_has_none(gateway: Gateway) -> None:
    events = list(_client(gateway).text_generation(PROMPT, max_new_tokens=4, stream=True, details=True))
    plain = list(_client(gateway).text_generation(PROMPT, max_new_tokens=4, stream=True))
    assert plain == [e.token.text for e in events]


def test_a_unicode_prompt_arrives_unchanged(gateway: Gateway, applied_stack: Deployment) -> None:
    text = _client(gateway).text_generation(UNICODE_PROMPT, max_new_tokens=8, return_full_text=True)
    assert text.startswith(UNICODE_PROMPT)
    body = {"inputs": UNICODE_PROMPT, "parameters": {"max_new_tokens": 8, "return_full_text": True}}
    assert text == endpoint_answer(applied_stack, body)[0]["generated_text"]


def test_a_stop_sequence_ends_the_generation(gateway: Gateway) -> None:
    client = _client(gateway)
    free = client.text_generation(PROMPT, max_new_tokens=16, return_full_text=False)
    stop = free.split()[1] if len(free.split()) > 1 else free[-2:]
    answer = client.text_generation(
        PROMPT, max_new_tokens=16, stop=[stop], details=True, return_full_text=False
    )
    assert answer.generated_text.endswith(stop) and len(answer.generated_text) <= len(free)
    assert answer.details.finish_reason == "stop_sequence"


def test_a_seed_gives_the_same_sample_as_on_the_endpoint(gateway: Gateway, applied_stack: Deployment) -> None:
    parameters = {"max_new_tokens": 12, "do_sample": True, "temperature": 0.9, "seed": 42}
    answer = _client(gateway).text_generation(PROMPT, details=True, **parameters)
    reference = endpoint_answer(
        applied_stack, {"inputs": PROMPT, "parameters": {**parameters, "details": True}}
    )
    assert answer.generated_text == reference[0]["generated_text"] and answer.details.seed == 42


def test_truncate_keeps_the_last_tokens(gateway: Gateway, applied_stack: Deployment) -> None:
    events = list(
        _client(gateway).text_generation(
            LONG_PROMPT, max_new_tokens=4, truncate=16, stream=True, details=True
        )
    )
    assert events[-1].details.input_length == 16
    body = {"inputs": LONG_PROMPT, "parameters": {"max_new_tokens": 4, "truncate": 16}}
    assert events[-1].generated_text == endpoint_answer(applied_stack, body)[0]["generated_text"]


def test_chat_completion_has_usage_and_a_stream_ends_with_the_usage_chunk(gateway: Gateway) -> None:
    messages = [{"role": "user", "content": UNICODE_PROMPT}]
    whole = _client(gateway).chat_completion(messages, max_tokens=8, temperature=0)
    usage = whole.usage
    assert usage.completion_tokens == 8 and usage.total_tokens == usage.prompt_tokens + 8
    chunks = list(
        _client(gateway).chat_completion(
            messages, max_tokens=8, temperature=0, stream=True, stream_options={"include_usage": True}
        )
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == whole.choices[0].message.content
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == usage.total_tokens


@pytest.mark.parametrize("stream", [False, True])
def test_a_parameter_tgi_refuses_is_a_validation_error(gateway: Gateway, stream: bool) -> None:
    with pytest.raises(ValidationError, match="`top_p` must be > 0.0 and < 1.0"):
        result = _client(gateway).text_generation(PROMPT, max_new_tokens=4, top_p=1.0, stream=stream)
        list(result) if stream else None


def test_the_endpoints_own_refusal_is_a_validation_error(gateway: Gateway) -> None:
    # truncate over the endpoint's MAX_INPUT_TOKENS: only the endpoint knows its limits.
    with pytest.raises(ValidationError, match="`truncate` must be strictly positive and less than"):
        _client(gateway).text_generation(PROMPT, max_new_tokens=4, truncate=5000)


def test_a_stream_cut_mid_generation_is_an_incomplete_generation(faulty_gateway: Gateway) -> None:
    with pytest.raises(IncompleteGenerationError):
        list(_client(faulty_gateway).text_generation(PROMPT, max_new_tokens=12, stream=True))


def test_a_chat_refusal_names_the_parameter(gateway: Gateway) -> None:
    messages = [{"role": "user", "content": PROMPT}]
    with pytest.raises(HfHubHTTPError, match="temperature") as raised:
        _client(gateway).chat_completion(messages, max_tokens=4, temperature=-1)
    assert raised.value.response.status_code == 422


def test_a_chat_stream_cut_mid_generation_raises(faulty_gateway: Gateway) -> None:
    messages = [{"role": "user", "content": PROMPT}]
    with pytest.raises(TextGenerationError, match="broke"):
        list(_client(faulty_gateway).chat_completion(messages, max_tokens=12, stream=True))


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_without_the_token_it_is_401(gateway: Gateway, token: str | None) -> None:
    with pytest.raises(HfHubHTTPError) as raised:
        _client(gateway, token).text_generation(PROMPT, max_new_tokens=4)
    assert raised.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as raised:
        _client(gateway, token).chat_completion([{"role": "user", "content": PROMPT}], max_tokens=4)
    assert raised.value.response.status_code == 401


def test_an_endpoint_sagemaker_does_not_know_is_an_http_error_naming_it(
    endpointless_gateway: Gateway,
) -> None:
    with pytest.raises(TextGenerationError, match="llm-twin-no-such-endpoint"):
        _client(endpointless_gateway).text_generation(PROMPT, max_new_tokens=4)
    with pytest.raises(HfHubHTTPError, match="llm-twin-no-such-endpoint") as raised:
        _client(endpointless_gateway).chat_completion([{"role": "user", "content": PROMPT}], max_tokens=4)
    assert raised.value.response.status_code == 502
