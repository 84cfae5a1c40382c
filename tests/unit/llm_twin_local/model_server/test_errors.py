"""The stand-in's own errors, answered on the wire exactly as TGI answers them.

Each row drives the real ASGI app over an engine that fails on cue (no model, no
sockets): the HTTP status and `{"error", "error_type"}` of every error the server
raises, and the SSE error event of a stream refused before it ran.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from llm_twin.protocol.tgi import ERROR_STATUS
from llm_twin_local.model_server import errors
from llm_twin_local.model_server.app import ServerInfo, create_app
from llm_twin_local.model_server.events import ErrorEvent
from llm_twin_local.model_server.params import Limits

pytestmark = pytest.mark.timeout(60)


class _Tokenizer:
    def apply_chat_template(self, *args: Any, **kwargs: Any) -> str:
        raise ValueError("no template for this model")


@dataclass
class _FailingEngine:
    """An engine whose every submission fails with `failure`: an exception, or an ErrorEvent sent."""

    failure: Exception | ErrorEvent
    healthy: bool = True
    loaded: Any = field(
        default_factory=lambda: SimpleNamespace(
            tokenizer=_Tokenizer(), encode=lambda text, **_: [1] * len(text)
        )
    )

    def submit(self, request: Any, sink: Any) -> Any:
        if isinstance(self.failure, Exception):
            raise self.failure
        sink(self.failure)
        return SimpleNamespace(cancel=lambda: None)


def _call(engine: _FailingEngine, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request through the ASGI app: its status and whole body."""
    app = create_app(engine, ServerInfo(model_id="m", limits=Limits(max_input_tokens=8, max_total_tokens=16)))  # type: ignore[arg-type]
    sent: list[dict] = []
    received = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        if received:
            return received.pop()
        await asyncio.sleep(3600)  # the client never goes away
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "app": app,
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


GENERATE = json.dumps({"inputs": "hi", "parameters": {"max_new_tokens": 2}}).encode()
CHAT = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
OK = ErrorEvent("unused")
ROWS = {
    # name: (engine failure, route, body, status, error_type, message start)
    "not json": (OK, "/generate", b"{nope", 400, "validation", "Failed to parse the request body as JSON: "),
    "wrong shape": (
        OK,
        "/generate",
        b'{"inputs": 1}',
        422,
        "validation",
        "Failed to deserialize the JSON body into the target type: ",
    ),
    "too long": (
        OK,
        "/generate",
        json.dumps({"inputs": "x" * 9, "parameters": {"max_new_tokens": 1}}).encode(),
        422,
        "validation",
        "Input validation error: `inputs` must have less than 8 tokens. Given: 9",
    ),
    "template": (OK, "/v1/chat/completions", CHAT, 422, "template_error", "Template error: no template"),
    "overloaded": (
        errors.OverloadedError("Model is overloaded"),
        "/generate",
        GENERATE,
        429,
        "overloaded",
        "Model",
    ),
    "generation": (
        ErrorEvent("Request failed during generation: boom"),
        "/generate",
        GENERATE,
        424,
        "generation",
        "Request failed",
    ),
}


@pytest.mark.parametrize("row", sorted(ROWS))
def test_each_error_has_its_status_and_error_type(row: str) -> None:
    failure, path, body, status, error_type, message = ROWS[row]
    answered, payload = _call(_FailingEngine(failure), "POST", path, body)
    answer = json.loads(payload)
    assert (answered, answer["error_type"]) == (status, error_type)
    assert answer["error"].startswith(message) and set(answer) == {"error", "error_type"}


@pytest.mark.parametrize(
    ("failure", "body", "error_type"),
    [
        (OK, json.dumps({"inputs": "x" * 9, "stream": True}).encode(), "validation"),
        (errors.OverloadedError("Model is overloaded"), GENERATE, "overloaded"),
    ],
    ids=["validation", "overloaded"],
)
def test_a_stream_refused_before_it_ran_is_one_error_event(
    failure: Any, body: bytes, error_type: str
) -> None:
    status, payload = _call(_FailingEngine(failure), "POST", "/generate_stream", body)
    assert status == 200
    assert payload.startswith(b"data:") and payload.endswith(b"\n\n") and payload.count(b"data:") == 1
    assert json.loads(payload.removeprefix(b"data:"))["error_type"] == error_type


def test_an_unhealthy_engine_answers_503() -> None:
    status, payload = _call(_FailingEngine(OK, healthy=False), "GET", "/health")
    assert (status, json.loads(payload)) == (503, {"error": "unhealthy", "error_type": "healthcheck"})


def test_the_tree_carries_tgi_s_statuses_and_types() -> None:
    """One row per class, so a change to the wire shows here first."""
    table = {
        cls.__name__: (cls.status, cls.error_type)
        for cls in (
            errors.BadRequestError,
            errors.ValidationError,
            errors.ShapeError,
            errors.TemplateError,
            errors.ToolError,
            errors.OverloadedError,
            errors.GenerationError,
            errors.IncompleteGenerationError,
        )
    }
    assert table == {
        "BadRequestError": (400, "validation"),
        "ValidationError": (422, "validation"),
        "ShapeError": (422, "validation"),
        "TemplateError": (422, "template_error"),
        "ToolError": (422, "tool_error"),
        "OverloadedError": (429, "overloaded"),
        "GenerationError": (424, "generation"),
        "IncompleteGenerationError": (500, "incomplete_generation"),
    }
    # The same statuses as TGI's table (protocol.tgi.ERROR_STATUS, research.md A3).
    for status, error_type in table.values():
        if error_type in ERROR_STATUS:
            assert ERROR_STATUS[error_type] == status or error_type == "validation"
    assert errors.CompletionsError("x", "suffix not supported").error_type == "suffix not supported"
    assert issubclass(errors.RequestError, errors.ModelServerError)
    assert errors.SettingsError.exit_code == 2 and errors.ModelServerError.exit_code == 1
    # The server's tree is its own: nothing in it is one of the client's errors.
    from llm_twin.errors import LlmTwinError

    assert not issubclass(errors.ModelServerError, LlmTwinError)
