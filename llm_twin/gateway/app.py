"""The gateway: TGI's and OpenAI's HTTP API in front of a SageMaker endpoint; the AWS key stays here.

SageMaker's API needs SigV4, which neither a browser nor a TGI client can do without holding an
AWS key. This app holds the key (inside the injected inference client) and offers TGI 3.3's
routes, so huggingface_hub, text-generation and the openai SDK work unchanged:

    GET  /                       the chat page (static files, no external CDN)
    GET  /health                 the endpoint's status; 200 when InService, else 503
    POST /                       TGI's compat route: `stream` false -> a JSON array, true -> SSE
    POST /generate               one JSON answer        POST /generate_stream    SSE
    POST /v1/chat/completions    the Messages API: one chat.completion, or chunks then [DONE]
    POST /v1/completions         (vLLM only) a completion: one text_completion, or chunks then [DONE]
    POST /login, GET /session    the page's one-time login link and its cookie (login.py)

In front of a vLLM endpoint (`GatewayConfig.backend`), the OpenAI routes relay the body and the
answer as they are (vLLM checks the body itself, and its answers are already OpenAI's), and
TGI's generate routes are refused with 404 naming the backend: a TGI answer carries token ids,
logprobs, special flags and details that vLLM's completion stream does not, so a translation
would hand TGI's clients invented values as fact.

A body is checked as TGI checks it (payloads.py) and sent on unchanged; the endpoint's answer
comes back as it was written. The POST routes need `Authorization: Bearer <token>` (compared in
constant time) or the page's session cookie; `Content-Type: application/json` (so a cross-origin
page can only send them after a CORS preflight); and a body no larger than the limit, counted
while it arrives. The page and /health are open: they carry no secret and spend nothing.

Transport stays outside: `create_app` takes factories for the inference client and the
endpoint's health, so tests pass real clients on the emulator and `llm-twin serve` passes
clients built from the settings.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint
from llm_twin.config import Secret
from llm_twin.errors import GatewayRequestError, LlmTwinError, SettingsError
from llm_twin.gateway import answers
from llm_twin.gateway.answers import openai_answer, tgi_answer, vllm_answer
from llm_twin.gateway.login import LoginCodes, cookie_name
from llm_twin.gateway.payloads import parse_chat, parse_generate, parse_json
from llm_twin.protocol.backends import Backend

__all__ = ["EndpointHealth", "GatewayConfig", "create_app"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
NO_GENERATE_ON_VLLM = (
    "POST {path} is TGI's generate route, and this gateway fronts a vLLM endpoint "
    "(SERVING_BACKEND=vllm), whose answers carry no token ids, logprobs or details to fill it "
    "honestly: use POST /v1/completions (a prompt) or /v1/chat/completions (messages)"
)
NO_COMPLETIONS_ON_TGI = (
    "POST /v1/completions needs a vLLM endpoint; this gateway fronts TGI (SERVING_BACKEND=tgi), "
    "whose /invocations takes generate bodies only: use POST /generate, /generate_stream or /v1/chat/completions"
)


@dataclass(frozen=True)
class GatewayConfig:
    """The gateway's rules, from the GATEWAY_* settings."""

    token: Secret
    """The bearer token every POST must carry; never empty (serve generates one on loopback)."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed cross-origin; ("*",) any; () same-origin only."""
    max_body_bytes: int = 262144
    """Largest request body read; more is 413."""
    login: LoginCodes | None = None
    """The page's one-time login codes (serve makes them on loopback only); None: the page asks for the token."""
    backend: Backend = "tgi"
    """The endpoint's serving container (SERVING_BACKEND): which routes are served, and how."""

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


def _check_token(header: str, token: Secret) -> None:
    """Return when `header` carries the token; raise the 401 otherwise."""
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise GatewayRequestError(401, "expected Authorization: Bearer <token>")
    # Bytes, so a non-ASCII guess cannot make compare_digest raise; constant time either way.
    if not hmac.compare_digest(given.strip().encode(), token.value.encode()):
        raise GatewayRequestError(401, "the bearer token is not valid")


def _authorize(request: Request, config: GatewayConfig) -> None:
    """The bearer token when one is sent, else the page's session cookie; 401 without either."""
    header = request.headers.get("authorization")
    if header is not None:
        _check_token(header, config.token)
        return
    session = request.cookies.get(cookie_name(request.url.port))
    if config.login is not None and config.login.signed_in(session):
        # SameSite=Strict already keeps the cookie off cross-site requests; a foreign Origin
        # (another site's fetch, an old browser) is refused as well.
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            raise GatewayRequestError(403, f"the session cookie is not accepted from origin {origin!r}")
        return
    raise GatewayRequestError(401, "missing Authorization: Bearer <token> (or the chat page's login)")


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


def create_app(
    config: GatewayConfig,
    new_client: Callable[[], LLMInferenceSagemakerEndpoint],
    endpoint_health: Callable[[], EndpointHealth],
) -> Starlette:
    """The ASGI app. `new_client` gives a client per request; `endpoint_health` is called (in a
    worker thread) for each GET /health."""

    async def guarded_json(request: Request) -> Any:
        _authorize(request, config)
        return parse_json(await _read_body(request, config.max_body_bytes))

    async def relay_generate(request: Request, *, stream: bool | None, compat: bool) -> Response:
        if config.backend == "vllm":
            try:
                _authorize(request, config)
            except GatewayRequestError as exc:
                return tgi_answer(exc)
            return tgi_answer(GatewayRequestError(404, NO_GENERATE_ON_VLLM.format(path=request.url.path)))
        try:
            parsed = parse_generate(await guarded_json(request), stream=stream)
        except GatewayRequestError as exc:
            return tgi_answer(exc)
        body = parsed.body
        if not compat:
            # /generate and /generate_stream return only the new text unless asked (POST / decides
            # by the model's pipeline tag, at the endpoint). Without `parameters`, TGI's defaults.
            body["parameters"] = body.get("parameters", {"do_sample": True})
            if body["parameters"].get("return_full_text") is None:
                body["parameters"]["return_full_text"] = False
        client = new_client()
        if parsed.stream:
            return await answers.generate_stream(client, body)
        try:
            raw = await run_in_threadpool(client.invoke_body, body)
        except LlmTwinError as exc:
            return tgi_answer(exc)
        if compat:
            return Response(raw, media_type="application/json")
        answer = json.loads(raw)  # TGI's /invocations answers a generate body as a list of one
        return JSONResponse(answer[0] if isinstance(answer, list) and answer else answer)

    async def compat_generate(request: Request) -> Response:
        return await relay_generate(request, stream=None, compat=True)

    async def generate(request: Request) -> Response:
        return await relay_generate(request, stream=False, compat=False)

    async def generate_stream(request: Request) -> Response:
        return await relay_generate(request, stream=True, compat=False)

    async def relay_openai(request: Request) -> Response:
        """vLLM: the body as it came (a JSON object), the answer as vLLM wrote it."""
        try:
            body = await guarded_json(request)
            if not isinstance(body, dict):
                raise GatewayRequestError(400, "the body must be a JSON object")
        except GatewayRequestError as exc:
            return vllm_answer(exc)
        client = new_client()
        if body.get("stream") is True:
            return await answers.vllm_stream(client, body)
        try:
            raw = await run_in_threadpool(client.invoke_body, body)
        except LlmTwinError as exc:
            return vllm_answer(exc)
        return Response(raw, media_type="application/json")

    async def completions(request: Request) -> Response:
        if config.backend == "vllm":
            return await relay_openai(request)
        try:
            _authorize(request, config)
        except GatewayRequestError as exc:
            return openai_answer(exc)
        return openai_answer(GatewayRequestError(404, NO_COMPLETIONS_ON_TGI))

    async def chat_completions(request: Request) -> Response:
        if config.backend == "vllm":
            return await relay_openai(request)
        try:
            parsed = parse_chat(await guarded_json(request))
        except GatewayRequestError as exc:
            return openai_answer(exc)
        client = new_client()
        if parsed.stream:
            return await answers.chat_stream(client, parsed.body)
        try:
            raw = await run_in_threadpool(client.invoke_body, parsed.body)
        except LlmTwinError as exc:
            return openai_answer(exc)
        return Response(raw, media_type="application/json")

    async def login(request: Request) -> Response:
        if config.login is None:
            return tgi_answer(
                GatewayRequestError(403, "login links are off: this gateway is not on loopback")
            )
        try:
            body = parse_json(await _read_body(request, 1024))
            code = body.get("code") if isinstance(body, dict) else None
            if not isinstance(code, str):
                raise GatewayRequestError(422, 'the body must be {"code": "<the code of the login link>"}')
        except GatewayRequestError as exc:
            return tgi_answer(exc)
        session = config.login.redeem(code)
        if session is None:
            message = "this login link was used already or has expired: restart `llm-twin serve` for a new one, or enter the gateway token"
            return tgi_answer(GatewayRequestError(403, message))
        response = Response(status_code=204)
        response.set_cookie(
            cookie_name(request.url.port), session, httponly=True, samesite="strict", path="/"
        )
        return response

    async def session(request: Request) -> Response:
        signed_in = config.login is not None and config.login.signed_in(
            request.cookies.get(cookie_name(request.url.port))
        )
        return JSONResponse(
            {"signed_in": signed_in, "login_links": config.login is not None, "backend": config.backend}
        )

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
                # Other origins authenticate with the token in a header, never the page's cookie:
                # credentials mode is never offered, which is what makes "*" safe.
                allow_credentials=False,
                max_age=600,
            )
        )
    routes = [
        Route("/", page, methods=["GET"]),
        Route("/", compat_generate, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/generate", generate, methods=["POST"]),
        Route("/generate_stream", generate_stream, methods=["POST"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/login", login, methods=["POST"]),
        Route("/session", session, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(routes=routes, middleware=middleware)
