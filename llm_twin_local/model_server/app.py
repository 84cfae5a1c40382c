"""The Starlette app: TGI's HTTP API and SageMaker's container contract over an `Engine`.

Non-streaming routes answer errors with an HTTP status and `{"error", "error_type"}`.
Streaming routes, like TGI, validate inside the stream: the response is 200 and the
error arrives as an SSE event. A body that is not JSON is a 400, a body of the wrong
shape a 422, on every route. A client that disconnects cancels its sequence, which
leaves the running batch before the next decode step.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import TypedDict, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from llm_twin.protocol.text import json_text_problem

from . import wire
from .engine import Engine, ErrorEvent, Finished, TokenEvent
from .errors import (
    BadRequestError,
    GenerationError,
    RequestError,
    ShapeError,
    TemplateError,
    ValidationError,
)
from .generation import EventStreamResponse, Generation, wait_disconnect
from .params import (
    GenerateRequest,
    Limits,
    ParameterError,
    ValidRequest,
    chat_messages,
    parse_chat_parameters,
    parse_generate_request,
    validate,
)
from .sse import DONE, event

VERSION = "3.0.0"
"""The TGI API version this server stands in for."""
ROUTER = "llm-twin-model-server"


class _ChatCommon(TypedDict):
    """What every Messages API answer of one request repeats."""

    model: str
    fingerprint: str
    created: int


@dataclass(frozen=True)
class ServerInfo:
    """What `/info` reports besides the engine's own limits."""

    model_id: str
    limits: Limits
    messages_api_enabled: bool = False


Parsed = TypeVar("Parsed")


def _error(message: str, error_type: str, status: int) -> JSONResponse:
    return JSONResponse(wire.error_json(message, error_type), status_code=status)


async def _read_json(request: Request) -> object:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequestError(f"Failed to parse the request body as JSON: {err}") from err
    # A lone surrogate (JSON's \ud800 escape) is no text a tokenizer can encode: refused up front.
    problem = json_text_problem(body)
    if problem:
        raise ShapeError(f"Failed to deserialize the JSON body into the target type: {problem}")
    return body


def _shape(parse: Callable[[], Parsed]) -> Parsed:
    try:
        return parse()
    except ParameterError as err:
        raise ShapeError(f"Failed to deserialize the JSON body into the target type: {err}") from err


class ModelServerApp:
    """Route handlers bound to one engine."""

    def __init__(self, engine: Engine, info: ServerInfo) -> None:
        self.engine = engine
        self.info = info
        self.tokenizer = engine.loaded.tokenizer
        self.fingerprint = f"{VERSION}-native"

    # -- helpers -----------------------------------------------------------------------

    def _validate(self, request: GenerateRequest) -> ValidRequest:
        ids = []
        if request.inputs:
            ids = self.engine.loaded.encode(request.inputs, add_special_tokens=request.add_special_tokens)
        try:
            return validate(request, ids, self.info.limits)
        except ParameterError as err:
            raise ValidationError(f"Input validation error: {err}") from err

    async def _finish(self, request: Request, generation: Generation) -> Finished | None:
        """Wait for the last token; None when the client went away first (its sequence is cancelled)."""

        async def last() -> Finished:
            async for item in generation.events():
                if isinstance(item, ErrorEvent):
                    raise GenerationError(item.message)
                if item.finished is not None:
                    return item.finished
            raise GenerationError("Incomplete generation")

        finishing = asyncio.ensure_future(last())
        watching = asyncio.ensure_future(wait_disconnect(request.receive))
        try:
            await asyncio.wait({finishing, watching}, return_when=asyncio.FIRST_COMPLETED)
            if finishing.done():
                return finishing.result()
            generation.cancel()
            return None
        finally:
            for task in (finishing, watching):
                task.cancel()
            await asyncio.gather(finishing, watching, return_exceptions=True)

    async def _generate(self, request: Request, parsed: GenerateRequest, *, as_list: bool) -> Response:
        valid = self._validate(parsed)
        started = time.monotonic()
        done = await self._finish(request, Generation(self.engine, valid))
        if done is None:
            return Response(status_code=499)
        prompt = parsed.inputs if parsed.parameters.return_full_text else None
        details = parsed.parameters.details or parsed.parameters.decoder_input_details
        payload = wire.generate_json(done, prompt=prompt, details=details)
        headers = {
            "x-compute-type": "cpu",
            "x-compute-time": f"{time.monotonic() - started:.6f}",
            "x-prompt-tokens": str(done.input_length),
            "x-generated-tokens": str(done.generated_tokens),
        }
        return JSONResponse([payload] if as_list else payload, headers=headers)

    async def _token_events(self, parsed: GenerateRequest) -> AsyncGenerator[TokenEvent | bytes, None]:
        """Validate, submit and relay; errors become one SSE error event (bytes)."""
        try:
            generation = Generation(self.engine, self._validate(parsed))
        except RequestError as err:  # refused before it ran: validation, or a full queue
            yield event(wire.error_json(str(err), err.error_type))
            return
        try:
            async for item in generation.events():
                if isinstance(item, ErrorEvent):
                    yield event(wire.error_json(item.message, item.error_type))
                    return
                yield item
        finally:
            generation.cancel()

    def _stream_generate(self, parsed: GenerateRequest) -> Response:
        prompt = parsed.inputs if parsed.parameters.return_full_text else None
        details = parsed.parameters.details

        async def events() -> AsyncGenerator[bytes, None]:
            index = 0
            tokens = self._token_events(parsed)
            try:
                async for item in tokens:
                    if isinstance(item, bytes):
                        yield item
                        continue
                    index += 1
                    yield event(
                        wire.stream_json(index, item.token, item.finished, prompt=prompt, details=details)
                    )
            finally:
                await tokens.aclose()

        return EventStreamResponse(events())

    # -- routes ------------------------------------------------------------------------

    async def generate(self, request: Request) -> Response:
        body = await _read_json(request)
        return await self._generate(request, _shape(lambda: parse_generate_request(body)), as_list=False)

    async def generate_stream(self, request: Request) -> Response:
        body = await _read_json(request)
        return self._stream_generate(_shape(lambda: parse_generate_request(body)))

    async def compat_generate(self, request: Request) -> Response:
        body = await _read_json(request)
        return await self._compat(request, body)

    async def _compat(self, request: Request, body: object) -> Response:
        parsed = _shape(lambda: parse_generate_request(body))
        if parsed.stream:
            return self._stream_generate(parsed)
        return await self._generate(request, parsed, as_list=True)

    async def invocations(self, request: Request) -> Response:
        """SageMaker's entry point: a Messages API body or a TGI generate body."""
        body = await _read_json(request)
        if isinstance(body, dict) and "messages" in body:
            return await self._chat(request, body)
        return await self._compat(request, body)

    async def chat_completions(self, request: Request) -> Response:
        body = await _read_json(request)
        return await self._chat(request, body)

    async def _chat(self, request: Request, body: object) -> Response:
        if not isinstance(body, dict):
            raise ShapeError("Failed to deserialize the JSON body into the target type: expected an object")
        messages = _shape(lambda: chat_messages(body))
        params = _shape(lambda: parse_chat_parameters(body))
        try:
            prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as err:  # jinja raises anything
            raise TemplateError(f"Template error: {err}") from err
        assert isinstance(prompt, str)  # tokenize=False: the text (transformers types every return shape)
        parsed = GenerateRequest(inputs=prompt, parameters=params, add_special_tokens=False)
        logprobs = bool(body.get("logprobs"))
        stream_options = body.get("stream_options") or {}
        include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
        created = int(time.time())
        common = _ChatCommon(model=self.info.model_id, fingerprint=self.fingerprint, created=created)
        if not body.get("stream"):
            valid = self._validate(parsed)
            done = await self._finish(request, Generation(self.engine, valid))
            if done is None:
                return Response(status_code=499)
            return JSONResponse(wire.chat_completion_json(done, logprobs=logprobs, **common))

        async def events() -> AsyncGenerator[bytes, None]:
            tokens = self._token_events(parsed)
            try:
                async for item in tokens:
                    if isinstance(item, bytes):
                        yield item
                        return
                    chunk = wire.chat_chunk_json(
                        item.token, item.finished, logprobs=logprobs, include_usage=include_usage, **common
                    )
                    yield event(chunk)
                yield DONE
            finally:
                await tokens.aclose()

        return EventStreamResponse(events())

    async def health(self, request: Request) -> Response:
        if self.engine.healthy:
            return Response(status_code=200)
        return _error("unhealthy", "healthcheck", 503)

    async def model_info(self, request: Request) -> Response:
        limits, cfg = self.info.limits, self.engine.config
        return JSONResponse(
            {
                "model_id": self.info.model_id,
                "model_sha": None,
                "model_dtype": f"torch.{self.engine.loaded.dtype.removeprefix('torch.')}",
                "model_device_type": "cpu",
                "model_pipeline_tag": None,
                "max_concurrent_requests": cfg.max_concurrent_requests,
                "max_best_of": 1,
                "max_stop_sequences": limits.max_stop_sequences,
                "max_input_tokens": limits.max_input_tokens,
                "max_input_length": limits.max_input_tokens,
                "max_total_tokens": limits.max_total_tokens,
                "max_batch_total_tokens": cfg.max_batch_total_tokens,
                "max_batch_prefill_tokens": cfg.max_batch_prefill_tokens,
                "max_batch_size": cfg.max_batch_size,
                "validation_workers": 1,
                "max_client_batch_size": 1,
                "messages_api_enabled": self.info.messages_api_enabled,
                "router": ROUTER,
                "version": VERSION,
                "sha": None,
                "docker_label": None,
            }
        )

    async def metrics(self, request: Request) -> Response:
        """A few of TGI's Prometheus gauges (the scheduler's view)."""
        lines = [
            "# TYPE tgi_batch_current_size gauge",
            f"tgi_batch_current_size {self.engine.batch_size}",
            "# TYPE tgi_queue_size gauge",
            f"tgi_queue_size {self.engine.queue_size}",
            "# TYPE tgi_requests_in_flight gauge",
            f"tgi_requests_in_flight {self.engine.in_flight}",
            "# TYPE tgi_batch_decode_steps counter",
            f"tgi_batch_decode_steps {self.engine.steps}",
        ]
        return PlainTextResponse("\n".join(lines) + "\n")

    async def models(self, request: Request) -> Response:
        model = {"id": self.info.model_id, "object": "model", "created": 0, "owned_by": self.info.model_id}
        return JSONResponse({"object": "list", "data": [model]})


async def _answer(request: Request, exc: Exception) -> Response:
    """A refused or failed request as TGI answers it: its status, `{"error", "error_type"}`."""
    assert isinstance(exc, RequestError)
    return _error(str(exc), exc.error_type, exc.status)


def create_app(engine: Engine, info: ServerInfo) -> Starlette:
    """The ASGI app; the caller starts and stops the engine."""
    server = ModelServerApp(engine, info)
    routes = [
        Route("/", server.compat_generate, methods=["POST"]),
        Route("/", server.health, methods=["GET"]),
        Route("/generate", server.generate, methods=["POST"]),
        Route("/generate_stream", server.generate_stream, methods=["POST"]),
        Route("/v1/chat/completions", server.chat_completions, methods=["POST"]),
        Route("/invocations", server.invocations, methods=["POST"]),
        Route("/health", server.health, methods=["GET"]),
        Route("/ping", server.health, methods=["GET"]),
        Route("/info", server.model_info, methods=["GET"]),
        Route("/v1/models", server.models, methods=["GET"]),
        Route("/metrics", server.metrics, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={RequestError: _answer})
