"""What the gateway lets through to the endpoint (pure logic)."""

from __future__ import annotations

import pytest

from llm_twin.errors import GatewayRequestError
from llm_twin.gateway.payloads import parse_chat, parse_generate, parse_json


def test_a_generate_body_keeps_its_known_parameters() -> None:
    parsed = parse_generate({"inputs": "hi", "parameters": {"max_new_tokens": 5, "seed": 1, "stop": "\n"}})
    assert parsed.inputs == "hi" and parsed.parameters == {"max_new_tokens": 5, "seed": 1, "stop": ["\n"]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the body must be a JSON object"),
        ({"inputs": "  "}, "inputs must be a non-empty string"),
        ({"inputs": "hi", "prompt": "x"}, "unknown field 'prompt'"),
        ({"inputs": "hi", "stream": False}, "stream must be true"),
        ({"inputs": "hi", "parameters": []}, "parameters must be a JSON object"),
        ({"inputs": "hi", "parameters": {"max_new_tokens": True}}, "max_new_tokens must be a whole number"),
        ({"inputs": "hi", "parameters": {"temperature": 0}}, "temperature must be a number > 0"),
        ({"inputs": "hi", "parameters": {"top_p": 1.0}}, "top_p must be a number in (0, 1)"),
        ({"inputs": "hi", "parameters": {"stop": ["a"] * 5}}, "stop must be"),
        ({"inputs": "hi", "parameters": {"seed": -1}}, "seed must be a whole number from 0"),
    ],
)
def test_a_bad_generate_body_is_422_naming_the_field(body: object, message: str) -> None:
    with pytest.raises(GatewayRequestError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        parse_generate(body)
    assert caught.value.status == 422


def test_a_chat_body_drops_openai_only_fields_and_keeps_sampling() -> None:
    parsed = parse_chat(
        {"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "temperature": 0}
    )
    assert parsed.messages == [{"role": "user", "content": "hi"}]
    assert parsed.parameters == {"max_tokens": 3, "temperature": 0} and parsed.stream is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": []}, "messages must be a non-empty list"),
        ({"messages": [{"role": "tool", "content": "x"}]}, r"messages\[0\] must be an object with role"),
        ({"messages": [{"role": "user", "content": "x"}], "tools": []}, "unknown field 'tools'"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream must be true or false"),
    ],
)
def test_a_bad_chat_body_is_422_naming_the_field(body: object, message: str) -> None:
    with pytest.raises(GatewayRequestError, match=message):
        parse_chat(body)


def test_a_body_that_is_not_json_is_400() -> None:
    with pytest.raises(GatewayRequestError, match="not valid JSON") as caught:
        parse_json(b"{")
    assert caught.value.status == 400
