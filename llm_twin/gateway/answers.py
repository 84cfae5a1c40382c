"""What the gateway answers: the endpoint's stream relayed event by event, or an error in TGI's
or OpenAI's shape (the bytes and bodies themselves are framing.py's).

A stream's first event is awaited before the answer starts, so an error before any token
(the endpoint missing, the container refusing the body) keeps its HTTP status. After that the
status is 200, and whatever goes wrong becomes the stream's last event, as on TGI:

    generate   the endpoint's events as written; a cut stream ends with an `incomplete_generation`
               error event (both TGI clients raise IncompleteGenerationError); no [DONE]
    chat       the endpoint's chunks as written, usage chunk included; an error (the endpoint's,
               or a cut) is TGI 3.x's chat error event; `data: [DONE]` always ends it
    vllm       (chat and completion chunks of a vLLM endpoint) the endpoint's events as written;
               a failure of our own (a cut, the transport) is vLLM's error event
               `{"error": {"message", "type", "param", "code"}}`; `data: [DONE]` always ends it

Before any token, a vLLM endpoint's refusal is relayed as it wrote it, status and body
(`vllm_answer`); the gateway's own refusals take vLLM's error shape too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint
from llm_twin.client.errors import container_answer
from llm_twin.errors import LlmTwinError
from llm_twin.gateway import framing
from llm_twin.gateway.relay import relay
from llm_twin.protocol import vllm
from llm_twin.protocol.sse import sse_batches

__all__ = ["chat_stream", "generate_stream", "openai_answer", "tgi_answer", "vllm_answer", "vllm_stream"]

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and similar proxies buffer responses unless told not to; buffering would
    # hold every token back until the end.
    "X-Accel-Buffering": "no",
}
CUT = "the endpoint's stream ended before the generation's final event"
_NOTHING = b""


def _headers(status: int) -> dict[str, str] | None:
    # RFC 6750: a 401 names the scheme the client should use.
    return {"WWW-Authenticate": 'Bearer realm="llm-twin"'} if status == 401 else None


def _failure(exc: LlmTwinError) -> tuple[int, str, str]:
    """Status, message and TGI error type of a failure: the container's own answer when it gave one."""
    answer = container_answer(exc)
    if answer is not None:
        status, body = answer
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
            kind = parsed.get("error_type")
            return status, parsed["error"], kind if isinstance(kind, str) else framing.error_type(exc)
        return status, body, framing.error_type(exc)
    return framing.error_status(exc), str(exc), framing.error_type(exc)


def tgi_answer(exc: LlmTwinError) -> JSONResponse:
    """A refusal or failure before any token, in TGI's shape."""
    status, message, kind = _failure(exc)
    # No error_type on a 401: huggingface_hub then raises its HTTP error with the status (a
    # type it does not know would be an UnknownError); text-generation maps 401 to UnknownError either way.
    body = {"error": message} if status == 401 else framing.tgi_error(message, kind)
    return JSONResponse(body, status_code=status, headers=_headers(status))


def openai_answer(exc: LlmTwinError) -> JSONResponse:
    """A refusal or failure before any token, in OpenAI's shape."""
    status, message, kind = _failure(exc)
    return JSONResponse(
        framing.openai_error(message, kind, status), status_code=status, headers=_headers(status)
    )


def vllm_answer(exc: LlmTwinError) -> Response:
    """A refusal or failure before any token on a vLLM endpoint: the container's own answer as it
    wrote it (status and body), else the gateway's, in vLLM's error shape."""
    answer = container_answer(exc)
    if answer is not None:
        status, body = answer
        return Response(body, status_code=status, media_type="application/json")
    status = framing.error_status(exc)
    return JSONResponse(dict(vllm.error_body(str(exc), status)), status_code=status, headers=_headers(status))


def _vllm_error_event(message: str) -> bytes:
    return framing.event(vllm.error_body(message, 500))


def _events(client: LLMInferenceSagemakerEndpoint, body: Mapping[str, Any]) -> Iterator[bytes]:
    """Each event's data, from the container's bytes as SageMaker cut them. A generator, so the
    blocking call itself runs in the relay's thread too, never in the event loop."""
    parts = client.stream_body(body)
    try:
        for batch in sse_batches(parts):
            yield from batch
    finally:
        parts.close()


async def _first(events: AsyncIterator[bytes]) -> bytes:
    """The stream's first event (`_NOTHING` when it is empty); an error before it raises here."""
    async for data in events:
        return data
    return _NOTHING


def _object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def generate_stream(client: LLMInferenceSagemakerEndpoint, body: Mapping[str, Any]) -> Response:
    """TGI's generate stream, relayed; a failure before the first event keeps its status."""
    events = relay(_events(client, body))
    try:
        first = await _first(events)
    except LlmTwinError as exc:
        return tgi_answer(exc)

    async def frames() -> AsyncGenerator[bytes]:
        ended = False
        try:
            data = first
            while data is not _NOTHING:
                obj = _object(data)
                # The endpoint's own error event, or its last token event, ends the generation.
                ended = obj.get("error") is not None or obj.get("generated_text") is not None
                if data.strip() != b"[DONE]":
                    yield framing.event(data)
                data = await anext(events, _NOTHING)
        except LlmTwinError as exc:
            yield framing.event(framing.tgi_error(str(exc), framing.error_type(exc)))
            ended = True
        finally:
            await events.aclose()
        if not ended:
            yield framing.event(framing.tgi_error(CUT, framing.INCOMPLETE))

    return StreamingResponse(frames(), media_type="text/event-stream", headers=SSE_HEADERS)


async def chat_stream(client: LLMInferenceSagemakerEndpoint, body: Mapping[str, Any]) -> Response:
    """The Messages API's stream, relayed; it always ends with `data: [DONE]`."""
    return await _openai_stream(client, body, framing.chat_stream_error, openai_answer)


async def vllm_stream(client: LLMInferenceSagemakerEndpoint, body: Mapping[str, Any]) -> Response:
    """A vLLM endpoint's chat or completion stream, relayed; it always ends with `data: [DONE]`."""
    return await _openai_stream(client, body, _vllm_error_event, vllm_answer)


async def _openai_stream(
    client: LLMInferenceSagemakerEndpoint,
    body: Mapping[str, Any],
    error_event: Callable[[str], bytes],
    refusal: Callable[[LlmTwinError], Response],
) -> Response:
    """OpenAI-style chunks relayed; a failure before the first is `refusal`, after it `error_event`."""
    events = relay(_events(client, body))
    try:
        first = await _first(events)
    except LlmTwinError as exc:
        return refusal(exc)

    async def frames() -> AsyncGenerator[bytes]:
        ended = False
        try:
            data = first
            while data is not _NOTHING and data.strip() != b"[DONE]":
                obj = _object(data)
                error = obj.get("error")
                if isinstance(error, str):  # a generate-shaped error event: the chat shape instead
                    yield error_event(error)
                else:
                    yield framing.event(data)
                choices = obj.get("choices") or [{}]
                finished = isinstance(choices[0], dict) and choices[0].get("finish_reason") is not None
                ended = ended or error is not None or finished
                data = await anext(events, _NOTHING)
        except LlmTwinError as exc:
            yield error_event(str(exc))
            ended = True
        finally:
            await events.aclose()
        if not ended:
            yield error_event(CUT)
        yield framing.DONE

    return StreamingResponse(frames(), media_type="text/event-stream", headers=SSE_HEADERS)
