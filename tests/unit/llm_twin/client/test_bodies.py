"""The body each container is sent: TGI's unchanged, vLLM's completion body with TGI's meanings."""

from __future__ import annotations

from typing import Any, get_type_hints

import pytest
from openai.types import completion_create_params

from llm_twin.client.bodies import completion_body, generate_body
from llm_twin.client.endpoint import DEFAULT_PARAMETERS
from llm_twin.client.parameters import request_parameters
from llm_twin.client.results import with_details
from llm_twin.errors import ValidationError

VLLM_EXTRAS = {"top_k", "repetition_penalty"}
"""Sampling parameters vLLM's CompletionRequest takes beyond OpenAI's (vLLM's "extra" fields)."""
OPENAI_COMPLETION_KEYS = set(get_type_hints(completion_create_params.CompletionCreateParamsStreaming)) - {
    "model"
}
"""The openai SDK's completion parameters: the names vLLM's CompletionRequest copies."""


def book(parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"inputs": "Hi", "parameters": {**DEFAULT_PARAMETERS, **(parameters or {})}}


@pytest.mark.parametrize("stream", [False, True])
def test_tgis_body_is_the_book_payload_with_details(stream: bool) -> None:
    payload = {**book(), "stream": not stream}

    expected = with_details(
        {"inputs": "Hi", "parameters": DEFAULT_PARAMETERS, **({"stream": True} if stream else {})}
    )
    assert generate_body("tgi", payload, stream=stream) == expected


def test_the_books_defaults_on_vllm() -> None:
    assert generate_body("vllm", book(), stream=False) == {
        "prompt": "Hi",
        "max_tokens": 256,
        "temperature": 0.7,
        "top_p": 0.9,
        "stream": False,
    }


def test_a_stream_asks_for_the_usage_chunk() -> None:
    body = completion_body(book(), stream=True)

    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})


def test_every_key_is_openais_or_a_vllm_sampling_extra() -> None:
    parameters = {"stop": ["\n"], "seed": 1, "top_k": 5, "repetition_penalty": 1.1, "frequency_penalty": 0.5}
    body = completion_body(book({**parameters, "return_full_text": True}), stream=True)

    assert set(body) <= OPENAI_COMPLETION_KEYS | VLLM_EXTRAS
    assert {key: body[key] for key in parameters} == parameters
    assert body["echo"] is True


@pytest.mark.parametrize(
    ("parameters", "sampling"),
    [
        # TGI samples only when asked to or given a warper; else it is greedy: temperature 0 on vLLM.
        ({}, {"temperature": 0}),
        ({"do_sample": False}, {"temperature": 0}),
        ({"do_sample": True}, {"temperature": 1.0}),
        ({"top_p": 0.5}, {"temperature": 1.0, "top_p": 0.5}),
        ({"top_k": 3}, {"temperature": 1.0, "top_k": 3}),
        ({"temperature": 0.2}, {"temperature": 0.2}),
    ],
)
def test_tgis_sampling_rule_carries_over(parameters: dict[str, Any], sampling: dict[str, Any]) -> None:
    body = completion_body({"inputs": "Hi", "parameters": {"max_new_tokens": 4, **parameters}}, stream=False)

    assert {key: body[key] for key in ("temperature", "top_p", "top_k") if key in body} == sampling


@pytest.mark.parametrize("parameters", [{}, {"max_new_tokens": None}], ids=["absent", "null"])
def test_no_max_new_tokens_is_refused_not_sent_as_vllm_s_16(parameters: dict[str, Any]) -> None:
    # TGI fills the context's room; vLLM stops after 16 tokens (absent, or null since #45491).
    with pytest.raises(ValidationError, match="max_new_tokens must be set on SERVING_BACKEND=vllm"):
        completion_body({"inputs": "Hi", "parameters": parameters}, stream=False)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"temperature": 0}, {"temperature": 0}),
        ({"temperature": 0.5, "top_p": 1}, {"temperature": 0.5}),
        ({"temperature": 0.5, "top_p": 0.8}, {"temperature": 0.5, "top_p": 0.8}),
    ],
)
def test_the_clis_options_on_vllm(options: dict[str, Any], expected: dict[str, Any]) -> None:
    """`llm-twin infer` builds TGI parameters; their meaning reaches vLLM (greedy is temperature 0,
    top_p 1 is no cut, so the book's default 0.9 is removed, not kept)."""
    parameters = request_parameters(chat=False, max_new_tokens=5, stop=("\n",), seed=7, **options)
    payload = {"inputs": "Hi", "parameters": {**DEFAULT_PARAMETERS, **parameters}}

    body = completion_body(payload, stream=False)

    assert {key: body[key] for key in ("temperature", "top_p") if key in body} == expected
    assert (body["max_tokens"], body["stop"], body["seed"]) == (5, ["\n"], 7)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"typical_p": 0.5}, "typical_p"),
        ({"truncate": 10}, "truncate"),
        ({"best_of": 2}, "best_of"),
        ({"watermark": True}, "watermark"),
        ({"top_n_tokens": 2}, "top_n_tokens"),
        ({"decoder_input_details": True}, "decoder_input_details"),
    ],
)
def test_a_tgi_parameter_vllm_cannot_honour_is_refused_by_name(extra: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=f"^{named}: no counterpart in vLLM's completion API"):
        completion_body(book(extra), stream=False)


def test_a_key_beside_inputs_is_refused_too() -> None:
    with pytest.raises(ValidationError, match="^adapter_id: "):
        completion_body({"inputs": "Hi", "adapter_id": "x"}, stream=False)


def test_null_or_neutral_values_are_not_refusals() -> None:
    body = completion_body(book({"typical_p": None, "best_of": 1, "details": True}), stream=False)

    assert "typical_p" not in body and "best_of" not in body
