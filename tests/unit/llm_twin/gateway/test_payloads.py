"""What the gateway lets through to the endpoint: TGI's bodies, checked as TGI checks them (pure logic)."""

from __future__ import annotations

import pytest

from llm_twin.errors import GatewayRequestError
from llm_twin.gateway.payloads import parse_chat, parse_generate, parse_json

# text-generation 0.7.0's generate_stream body, as it sends it (every field, null or not).
TEXT_GENERATION_PARAMETERS = {
    "best_of": None,
    "decoder_input_details": False,
    "details": True,
    "do_sample": False,
    "frequency_penalty": None,
    "grammar": None,
    "max_new_tokens": 5,
    "repetition_penalty": None,
    "return_full_text": False,
    "seed": None,
    "stop": [],
    "temperature": None,
    "top_k": None,
    "top_n_tokens": None,
    "top_p": None,
    "truncate": None,
    "typical_p": None,
    "watermark": False,
}


def test_text_generations_body_with_every_null_goes_on_unchanged() -> None:
    parsed = parse_generate({"inputs": "hi", "parameters": TEXT_GENERATION_PARAMETERS, "stream": True})
    assert parsed.stream is True
    assert parsed.body == {"inputs": "hi", "parameters": TEXT_GENERATION_PARAMETERS, "stream": True}


def test_no_parameter_is_added_and_unknown_ones_are_dropped_as_serde_ignores_them() -> None:
    parsed = parse_generate({"inputs": "hi", "parameters": {"max_new_tokens": 3, "shiny": 1}, "extra": True})
    assert parsed.body == {"inputs": "hi", "parameters": {"max_new_tokens": 3}, "stream": False}
    assert parse_generate({"inputs": "hi"}).body == {"inputs": "hi", "stream": False}


def test_the_route_decides_streaming_over_the_body() -> None:
    assert parse_generate({"inputs": "hi", "stream": False}, stream=True).body["stream"] is True
    assert parse_generate({"inputs": "hi", "stream": True}, stream=False).stream is False


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"temperature": 0}, "Input validation error: `temperature` must be strictly positive"),
        ({"top_p": 1.0}, "Input validation error: `top_p` must be > 0.0 and < 1.0"),
        ({"typical_p": 1.5}, "Input validation error: `typical_p` must be > 0.0 and < 1.0"),
        ({"top_k": 0}, "Input validation error: `top_k` must be strictly positive"),
        ({"frequency_penalty": 3}, "Input validation error: `frequency_penalty` must be >= -2.0 and <= 2.0"),
        ({"max_new_tokens": 0}, "Input validation error: `max_new_tokens` must be strictly positive"),
        ({"stop": list("abcde")}, "Input validation error: `stop` supports up to 4 stop sequences. Given: 5"),
        ({"best_of": 2}, "Input validation error: you must use sampling when `best_of` is > 1"),
        ({"top_n_tokens": 6}, "Input validation error: `top_n_tokens` must be >= 0 and <= 5. Given: 6"),
    ],
)
def test_what_tgi_refuses_is_refused_with_tgis_words(parameters: dict, message: str) -> None:
    with pytest.raises(GatewayRequestError) as caught:
        parse_generate({"inputs": "hi", "parameters": parameters})
    assert caught.value.status == 422 and str(caught.value) == message


def test_a_stream_refuses_what_tgi_refuses_on_a_stream() -> None:
    with pytest.raises(GatewayRequestError, match="`decoder_input_details` == true is not supported"):
        parse_generate({"inputs": "hi", "parameters": {"decoder_input_details": True}}, stream=True)
    assert parse_generate({"inputs": "hi", "parameters": {"decoder_input_details": True}}).stream is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the body: invalid type: sequence, expected a map"),
        ({"prompt": "x"}, "missing field `inputs`"),
        ({"inputs": 3}, "inputs: invalid type: integer `3`, expected a string"),
        ({"inputs": ""}, "Input validation error: `inputs` cannot be empty"),
        ({"inputs": "hi", "stream": "yes"}, 'stream: invalid type: string "yes", expected a boolean'),
        ({"inputs": "hi", "parameters": []}, "parameters: invalid type: sequence, expected a map"),
        (
            {"inputs": "hi", "parameters": {"max_new_tokens": True}},
            "invalid type: boolean `true`, expected u32",
        ),
        (
            {"inputs": "hi", "parameters": {"max_new_tokens": 2.5}},
            "invalid type: floating point `2.5`, expected u32",
        ),
        ({"inputs": "hi", "parameters": {"seed": -1}}, "invalid value: integer `-1`, expected u64"),
        (
            {"inputs": "hi", "parameters": {"do_sample": None}},
            "do_sample: invalid type: null, expected a boolean",
        ),
        ({"inputs": "hi", "parameters": {"stop": "\n"}}, "stop: invalid type: string"),
        ({"inputs": "hi", "parameters": {"grammar": {"type": "xml"}}}, "unknown variant"),
    ],
)
def test_a_body_serde_refuses_is_422_naming_the_field(body: object, message: str) -> None:
    with pytest.raises(GatewayRequestError) as caught:
        parse_generate(body)
    assert caught.value.status == 422 and message in str(caught.value)


def test_a_chat_body_keeps_what_tgi_reads_null_included() -> None:
    messages = [{"role": "user", "content": "hi", "name": None, "tool_calls": None, "mood": "x"}]
    parsed = parse_chat(
        {"model": "tgi", "messages": messages, "max_tokens": 3, "temperature": 0, "tools": None, "extra": 1}
    )
    assert parsed.body == {
        "messages": [{"role": "user", "content": "hi", "name": None, "tool_calls": None}],
        "model": "tgi",
        "max_tokens": 3,
        "temperature": 0,
        "tools": None,
        "stream": False,
    }


def test_stream_options_are_relayed() -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert parse_chat(body).body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": []}, "Input validation error: `messages` cannot be empty"),
        ({"messages": [{"content": "x"}]}, "messages[0]: missing field `role`"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content: invalid type: integer `3`"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "expected a boolean"),
        (
            {"messages": [{"role": "user", "content": "x"}], "temperature": -1},
            "`temperature` must be strictly positive",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "top_p": 1}, "`top_p` must be > 0.0 and < 1.0"),
    ],
)
def test_a_bad_chat_body_is_422_naming_the_field(body: object, message: str) -> None:
    with pytest.raises(GatewayRequestError) as caught:
        parse_chat(body)
    assert caught.value.status == 422 and message in str(caught.value)


@pytest.mark.parametrize("raw", [b"{", b'{"inputs": NaN}', b"[Infinity]"])
def test_a_body_that_is_not_json_is_400(raw: bytes) -> None:
    with pytest.raises(GatewayRequestError, match="Failed to parse the request body as JSON") as caught:
        parse_json(raw)
    assert caught.value.status == 400
