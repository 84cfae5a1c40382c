"""The Starlette app: TGI 3.3's HTTP API and SageMaker's container contract over an `Engine`.

Non-streaming routes answer errors with an HTTP status and `{"error", "error_type"}`.
Streaming routes, like TGI, validate inside the stream: the response is 200 and the error
arrives as an SSE event (TGI's shape on /generate_stream, OpenAI's on the Messages API, see
`messages_api`). A body that is not JSON is a 400, a body of the wrong shape a 422, on every
route. A client that disconnects cancels its sequence, which leaves the running batch before
the next decode step.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from llm_twin.protocol.tgi import error_body

from . import messages_api, wire
from .bodies import Failure, read_json, shape
from .engine import Engine
from .errors import RequestError
from .generation import EventStreamResponse
from .knobs import generation_fault, tgi_version
from .params import GenerateRequest, parse_generate_request
from .serving import ServerInfo, Serving

__all__ = ["ModelServerApp", "ServerInfo", "create_app"]
from .sse import event

ROUTER = "text-generation-router"
"""/info's `router`: TGI's own name, which clients may compare."""


class ModelServerApp(Serving):
    """Route handlers bound to one engine."""

    async def _generate(self, request: Request, parsed: GenerateRequest, *, compat: bool) -> Response:
        started = time.monotonic()
        done = await self.finish(request, self.start(self.validate(parsed)))
        if done is None:
            return Response(status_code=499)
        params = parsed.parameters
        payload = wire.generate_json(
            done,
            prompt=parsed.inputs if _full_text(params.return_full_text, compat=compat) else None,
            details=params.details or params.decoder_input_details,
        )
        headers = {
            "x-compute-type": "cpu",
            "x-compute-time": f"{time.monotonic() - started:.6f}",
            "x-prompt-tokens": str(done.input_length),
            "x-generated-tokens": str(done.generated_tokens),
        }
        # POST / wraps the answer in a list "to match api-inference" (TGI's compat_generate).
        return JSONResponse([payload] if compat else payload, headers=headers)

    def _stream_generate(self, parsed: GenerateRequest, *, compat: bool) -> Response:
        """/generate_stream's events; no `[DONE]` ends them (only the Messages API sends one)."""
        prompt = parsed.inputs if _full_text(parsed.parameters.return_full_text, compat=compat) else None
        details = parsed.parameters.details

        async def events() -> AsyncGenerator[bytes, None]:
            index = 0
            tokens = self.token_events(parsed)
            try:
                async for item in tokens:
                    if isinstance(item, Failure):
                        yield event(error_body(item.message, item.error_type))
                        return
                    index += 1
                    yield event(
                        wire.stream_json(index, item.token, item.finished, prompt=prompt, details=details)
                    )
            finally:
                await tokens.aclose()

        return EventStreamResponse(events())

    # -- routes ------------------------------------------------------------------------

    async def generate(self, request: Request) -> Response:
        body = await read_json(request)
        return await self._generate(request, shape(lambda: parse_generate_request(body)), compat=False)

    async def generate_stream(self, request: Request) -> Response:
        body = await read_json(request)
        return self._stream_generate(shape(lambda: parse_generate_request(body)), compat=False)

    async def compat_generate(self, request: Request) -> Response:
        return await self._compat(request, await read_json(request))

    async def _compat(self, request: Request, body: object) -> Response:
        parsed = shape(lambda: parse_generate_request(body))
        if parsed.stream:
            return self._stream_generate(parsed, compat=True)
        return await self._generate(request, parsed, compat=True)

    async def invocations(self, request: Request) -> Response:
        """SageMaker's entry point: TGI 3.x picks the route by the body's shape, in this order."""
        body = await read_json(request)
        if isinstance(body, dict) and "inputs" not in body:
            if "messages" in body:
                return await messages_api.chat_completions(self, request, body)
            if "prompt" in body:
                return await messages_api.completions(self, request, body)
        return await self._compat(request, body)

    async def chat_completions(self, request: Request) -> Response:
        return await messages_api.chat_completions(self, request, await read_json(request))

    async def completions(self, request: Request) -> Response:
        return await messages_api.completions(self, request, await read_json(request))

    async def health(self, request: Request) -> Response:
        if self.engine.healthy:
            return Response(status_code=200)
        return JSONResponse(error_body("unhealthy", "healthcheck"), status_code=503)

    async def model_info(self, request: Request) -> Response:
        """TGI 3.x's `Info`, field for field (research.md A5)."""
        limits = self.info.limits
        return JSONResponse(
            {
                "model_id": self.info.model_id,
                "model_sha": None,
                "model_pipeline_tag": None,
                "max_concurrent_requests": self.engine.config.max_concurrent_requests,
                "max_best_of": limits.max_best_of,
                "max_stop_sequences": limits.max_stop_sequences,
                "max_input_tokens": limits.max_input_tokens,
                "max_total_tokens": limits.max_total_tokens,
                "validation_workers": 1,
                "max_client_batch_size": messages_api.MAX_CLIENT_BATCH_SIZE,
                "router": ROUTER,
                "version": self.version,
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


def _full_text(requested: bool | None, *, compat: bool) -> bool:
    """`return_full_text` when not given: false, but on POST / (and /invocations) TGI takes the
    model's pipeline tag, and a model without one (ours: /info says null) answers true."""
    return compat if requested is None else requested


async def _answer(request: Request, exc: Exception) -> Response:
    """A refused or failed request as TGI answers it: its status, `{"error", "error_type"}`."""
    assert isinstance(exc, RequestError)
    return JSONResponse(error_body(str(exc), exc.error_type), status_code=exc.status)


def create_app(engine: Engine, info: ServerInfo) -> Starlette:
    """The ASGI app; the caller starts and stops the engine. Reads `knobs` from the environment."""
    server = ModelServerApp(engine, info, version=tgi_version(os.environ), fault=generation_fault(os.environ))
    routes = [
        Route("/", server.compat_generate, methods=["POST"]),
        Route("/", server.health, methods=["GET"]),
        Route("/generate", server.generate, methods=["POST"]),
        Route("/generate_stream", server.generate_stream, methods=["POST"]),
        Route("/v1/chat/completions", server.chat_completions, methods=["POST"]),
        Route("/v1/completions", server.completions, methods=["POST"]),
        Route("/invocations", server.invocations, methods=["POST"]),
        Route("/health", server.health, methods=["GET"]),
        Route("/ping", server.health, methods=["GET"]),
        Route("/info", server.model_info, methods=["GET"]),
        Route("/v1/models", server.models, methods=["GET"]),
        Route("/metrics", server.metrics, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={RequestError: _answer})
