"""Whole answers as typed results: TGI's generate answer and the Messages API's chat.completion."""

from __future__ import annotations

import json

import pytest

from llm_twin.client.results import ChatResult, GenerationResult, chat_result, generation_result, with_details
from llm_twin.errors import StreamParseError

DETAILS = {"finish_reason": "eos_token", "generated_tokens": 3}


@pytest.mark.parametrize(
    "answer",
    [{"generated_text": "Hi!", "details": DETAILS}, [{"generated_text": "Hi!", "details": DETAILS}]],
    ids=["object", "list of one"],
)
def test_tgi_answers_an_object_or_a_list_of_one(answer: object) -> None:
    assert generation_result(json.dumps(answer).encode()) == GenerationResult("Hi!", "eos_token", 3)


def test_an_answer_without_details_has_no_finish() -> None:
    assert generation_result(b'{"generated_text":"x"}') == GenerationResult("x", None, None)


@pytest.mark.parametrize("raw", [b"<html>502</html>", b"[]", b'{"text":"x"}', b'"x"'])
def test_what_is_not_a_generate_answer_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(StreamParseError):
        generation_result(raw)


def test_a_chat_completion_is_its_first_choice() -> None:
    answer = {
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hey"}, "finish_reason": "stop"}
        ],
    }
    assert chat_result(json.dumps(answer).encode()) == ChatResult("Hey", "stop")


@pytest.mark.parametrize("raw", [b'{"choices":[]}', b'{"choices":[{"message":"x"}]}', b"nope"])
def test_what_is_not_a_chat_completion_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(StreamParseError):
        chat_result(raw)


def test_details_and_only_the_new_text_are_asked_for_unless_the_caller_said_otherwise() -> None:
    assert with_details({"inputs": "x"}) == {
        "inputs": "x",
        "parameters": {"details": True, "return_full_text": False},
    }
    assert with_details({"parameters": {"details": False, "return_full_text": True, "seed": 1}}) == {
        "parameters": {"details": False, "return_full_text": True, "seed": 1}
    }
