"""Text that is not valid Unicode is refused 422 with TGI's validation error, on every route.

JSON may escape a lone surrogate ("\\ud800"), which Python decodes into a str that no
tokenizer can encode: the body is refused before anything runs, like a body of the wrong
shape, instead of failing inside the generation. The bodies are json.dumps's bytes, as
Python clients send them.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.model_server import Server

pytestmark = pytest.mark.timeout(120)

LONE = "Hello \ud800 world"
"""A lone high surrogate: json.dumps escapes it as \\ud800, valid JSON but not valid Unicode."""
CHAT = {"messages": [{"role": "user", "content": LONE}], "max_tokens": 2}
BODIES = {
    "/generate": {"inputs": LONE, "parameters": {"max_new_tokens": 2}},
    "/generate_stream": {"inputs": LONE, "parameters": {"max_new_tokens": 2}},
    "/": {"inputs": LONE, "stream": True},
    "/invocations": {"inputs": LONE},
    "/v1/chat/completions": CHAT,
    "/v1/chat/completions stream": {**CHAT, "stream": True},
    "/invocations chat": {"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": LONE}]},
}
WHERE = {
    "/v1/chat/completions": "messages[0].content",
    "/v1/chat/completions stream": "messages[0].content",
    "/invocations chat": "messages[1].content",
}


def _post(server: Server, path: str, body: object) -> requests.Response:
    # json.dumps writes each lone surrogate as its \\u escape: the bytes stay valid UTF-8.
    return requests.post(
        server.url + path.split(" ")[0],
        data=json.dumps(body).encode("ascii"),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )


@pytest.mark.parametrize("route", BODIES)
def test_a_lone_surrogate_is_a_422_validation_error(server: Server, route: str) -> None:
    response = _post(server, route, BODIES[route])
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"error", "error_type"} and body["error_type"] == "validation"
    assert f"{WHERE.get(route, 'inputs')} holds a lone surrogate \\ud800 at character 6" in body["error"]
    assert body["error"].startswith("Failed to deserialize the JSON body into the target type: ")


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": "Hello", "parameters": {"stop": ["ok", "\udfff"]}},
        {"inputs": "Hello", "parameters": {"max_new_tokens": 2}, "\udc80": 1},
    ],
    ids=["in a stop sequence", "in a key"],
)
def test_a_lone_surrogate_anywhere_in_the_body_is_refused(server: Server, body: dict) -> None:
    response = _post(server, "/generate", body)
    assert response.status_code == 422 and "lone surrogate" in response.json()["error"]


def test_a_surrogate_pair_is_one_character_and_generates(server: Server) -> None:
    # The pair is escaped as two halves, exactly as JSON writes an emoji in ASCII.
    body = '{"inputs": "smile \\ud83d\\ude42", "parameters": {"max_new_tokens": 2}}'
    response = requests.post(server.url + "/generate", data=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["generated_text"]


def test_the_server_keeps_serving_after_invalid_text(server: Server) -> None:
    for _ in range(3):
        _post(server, "/generate_stream", BODIES["/generate_stream"])
    response = server.post("/generate", {"inputs": "Still alive?", "parameters": {"max_new_tokens": 2}})
    assert response.status_code == 200 and response.json()["generated_text"]
