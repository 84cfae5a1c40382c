"""The SSE gateway: browsers stream tokens; the AWS credentials stay on the server.

SageMaker's streaming API needs SigV4, which a browser cannot do without holding an AWS
key. This app holds the key (inside the injected inference client) and offers:

    GET  /                       the chat page (static files, no external CDN)
    GET  /health                 the endpoint's status; 200 when InService, else 503
    POST /generate_stream        TGI's body in, TGI's SSE out
    POST /v1/chat/completions    OpenAI's body in, chat.completion.chunk SSE (or one JSON)

The POST routes need `Authorization: Bearer <token>` (compared in constant time; 401
with `WWW-Authenticate: Bearer` otherwise), `Content-Type: application/json` (so a
cross-origin page can only send them after a CORS preflight), and a body no larger than
the limit, counted while it arrives (413 even without a Content-Length). The page and
`/health` are open: they carry no secret and spend no invocation.

Transport stays outside: `create_app` takes factories for the inference client and the
endpoint's health, so tests pass real clients on the emulator and `llm-twin serve` passes
clients built from the settings. The gateway knows nothing of how the endpoint was
deployed: `EndpointHealth` is all /health needs.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from llm_twin.client.endpoint import ChatResult, LLMInferenceSagemakerEndpoint
from llm_twin.client.stream import ChatDelta, TokenEvent
from llm_twin.config import Secret
from llm_twin.errors import GatewayRequestError, LlmTwinError, SettingsError
from llm_twin.gateway import framing
from llm_twin.gateway.payloads import parse_chat, parse_generate, parse_json
from llm_twin.gateway.relay import relay

__all__ = ["EndpointHealth", "GatewayConfig", "create_app"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
SSE_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and similar proxies buffer responses unless told not to; buffering would
    # hold every token back until the end.
    "X-Accel-Buffering": "no",
}
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class GatewayConfig:
    """The gateway's rules, from the GATEWAY_* settings."""

    token: Secret
    """The bearer token every POST must carry; never empty (serve generates one on loopback)."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed cross-origin; ("*",) any; () same-origin only."""
    max_body_bytes: int = 262144
    """Largest request body read; more is 413."""

    def __post_init__(self) -> None:
        if not self.token:
            # An empty token would let every request in: refuse to build such an app at all.
            raise SettingsError("the gateway needs a non-empty bearer token (GATEWAY_TOKEN)")


@dataclass(frozen=True)
class EndpointHealth:
    """The endpoint as /health reports it."""

    name: str
    status: str
    """SageMaker's EndpointStatus: only "InService" serves (200); anything else is 503."""
    failure_reason: str | None = None


def _check_token(request: Request, token: Secret) -> None:
    """Return when the request carries the token; raise the 401 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if not header:
        raise GatewayRequestError(401, "missing Authorization: Bearer <token>")
    if scheme.lower() != "bearer" or not given.strip():
        raise GatewayRequestError(401, "expected Authorization: Bearer <token>")
    # Bytes, so a non-ASCII guess cannot make compare_digest raise; constant time either way.
    if not hmac.compare_digest(given.strip().encode(), token.value.encode()):
        raise GatewayRequestError(401, "the bearer token is not valid")


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, never more than `limit` bytes of it: a larger one stops the reading with 413."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise GatewayRequestError(
            415, f"Content-Type must be application/json, got {content_type or 'none'!r}"
        )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise GatewayRequestError(400, f"Content-Length must be a number of bytes, got {declared!r}")
        if int(declared) > limit:
            raise GatewayRequestError(413, f"the body is {declared} bytes; at most {limit} are accepted")
    received = bytearray()
    # Counted as it arrives, so a chunked body or a Content-Length that lies cannot get past the limit.
    try:
        async for chunk in request.stream():
            received += chunk
            if len(received) > limit:
                raise GatewayRequestError(413, f"the body is over {limit} bytes, the most accepted")
    except ClientDisconnect:
        # The client left, or the body deadline cut it (limits.py already answered 408):
        # nobody reads this answer, but it ends the request without a logged traceback.
        raise GatewayRequestError(408, "the body stopped before its end") from None
    return bytes(received)


# 422 is TGI's own `validation`: a body the gateway refuses reads like one the endpoint refuses.
ERROR_TYPES = {
    401: "unauthorized",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation",
}


def _refusal(exc: GatewayRequestError) -> JSONResponse:
    """A refused request, in TGI's error shape (which OpenAI's clients also print)."""
    error_type = ERROR_TYPES.get(exc.status, "invalid_request")
    # RFC 6750: a 401 names the scheme the client should use.
    headers = {"WWW-Authenticate": 'Bearer realm="llm-twin"'} if exc.status == 401 else None
    return JSONResponse(
        {"error": str(exc), "error_type": error_type}, status_code=exc.status, headers=headers
    )


_NOTHING = object()


async def _first(events: AsyncIterator[Any]) -> Any:
    """The stream's first event (`_NOTHING` when it is empty); an error before it raises here."""
    async for event in events:
        return event
    return _NOTHING


def _sse(
    first: Any,
    events: AsyncGenerator[Any, None],
    frame: Callable[[Any], bytes | None],
    error_payload: Callable[[LlmTwinError], dict[str, Any]],
) -> StreamingResponse:
    """Each event framed and sent as soon as it arrives; a failure becomes a last error event."""

    async def frames() -> AsyncIterator[bytes]:
        try:
            event = first
            while event is not _NOTHING:
                data = frame(event)
                if data is not None:
                    yield data
                event = await anext(events, _NOTHING)
        except LlmTwinError as exc:
            yield framing.error_frame(error_payload(exc))
        finally:
            await events.aclose()

    return StreamingResponse(frames(), media_type="text/event-stream", headers=SSE_HEADERS)


def create_app(
    config: GatewayConfig,
    new_client: Callable[[], LLMInferenceSagemakerEndpoint],
    endpoint_health: Callable[[], EndpointHealth],
) -> Starlette:
    """The ASGI app. `new_client` gives a client per request (a client's payload is per call);
    `endpoint_health` is called (in a worker thread) for each GET /health."""

    async def guarded_json(request: Request) -> Any:
        _check_token(request, config.token)
        return parse_json(await _read_body(request, config.max_body_bytes))

    async def generate_stream(request: Request) -> Response:
        try:
            parsed = parse_generate(await guarded_json(request))
        except GatewayRequestError as exc:
            return _refusal(exc)
        client = new_client()
        client.set_payload(parsed.inputs, parsed.parameters)
        events = relay(client.stream())
        try:
            first = await _first(events)
        except LlmTwinError as exc:
            return JSONResponse(framing.tgi_error(exc), status_code=framing.error_status(exc))
        # The closing GenerationResult is not sent: TGI's last event already carries its text.
        return _sse(
            first,
            events,
            lambda event: framing.token_frame(event) if isinstance(event, TokenEvent) else None,
            framing.tgi_error,
        )

    async def chat_completions(request: Request) -> Response:
        try:
            parsed = parse_chat(await guarded_json(request))
        except GatewayRequestError as exc:
            return _refusal(exc)
        client = new_client()
        identity = framing.ChatStreamIdentity(model=client.endpoint_name)
        if not parsed.stream:
            try:
                # A lambda picks chat()'s non-streaming overload, which a bound method passed on cannot.
                result = await run_in_threadpool(lambda: client.chat(parsed.messages, **parsed.parameters))
            except LlmTwinError as exc:
                return JSONResponse(framing.chat_error(exc), status_code=framing.error_status(exc))
            return JSONResponse(framing.chat_completion(identity, result.content, result.finish_reason))
        events = relay(client.chat(parsed.messages, stream=True, **parsed.parameters))
        try:
            first = await _first(events)
        except LlmTwinError as exc:
            return JSONResponse(framing.chat_error(exc), status_code=framing.error_status(exc))

        def frame(event: ChatDelta | ChatResult) -> bytes:
            if isinstance(event, ChatDelta):
                return framing.chat_chunk(identity, event)
            return framing.DONE  # the closing ChatResult

        return _sse(first, events, frame, framing.chat_error)

    async def health(request: Request) -> Response:
        try:
            state = await run_in_threadpool(endpoint_health)
        except LlmTwinError as exc:
            return JSONResponse({"status": "unavailable", "error": f"{type(exc).__name__}: {exc}"}, 503)
        body: dict[str, str] = {
            "status": "ok" if state.status == "InService" else "unavailable",
            "endpoint": state.name,
            "endpoint_status": state.status,
        }
        if state.failure_reason:
            body["failure_reason"] = state.failure_reason
        return JSONResponse(body, status_code=200 if state.status == "InService" else 503)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)

    middleware = []
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                # The token travels in a header, not a cookie: credentials mode is never
                # needed, and leaving it off is what makes "*" safe to offer.
                allow_credentials=False,
                max_age=600,
            )
        )
    routes = [
        Route("/", page, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/generate_stream", generate_stream, methods=["POST"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(routes=routes, middleware=middleware)
