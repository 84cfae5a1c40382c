"""The vLLM SageMaker container's HTTP contract over the same `Engine` (`--api vllm`).

Routes as vLLM's OpenAI server and its SageMaker router (research.md C1, C4): GET and POST
/ping, /health, /version, /v1/models, /metrics, POST /v1/completions, /v1/chat/completions,
and /invocations, which hands a body to the chat handler when it has `messages`, to the
completion handler when it has `prompt`, and answers anything else (a TGI `inputs` body)
with 400 "Cannot find suitable handler for request". Refusals before generating are HTTP
errors of vLLM's shape, streamed or not; a failure inside a stream is one
`data: {"error": {...}}` event; every stream ends with `data: [DONE]`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from llm_twin.protocol import vllm
from llm_twin.protocol.text import json_text_problem
from llm_twin.protocol.vllm import Problem

from . import vllm_wire as wire
from .engine import Engine, ErrorEvent, Finished
from .generation import EventStreamResponse, Generation, wait_disconnect
from .knobs import GenerationFault, generation_fault
from .params import ValidRequest
from .sse import DONE, event
from .vllm_params import Defaults, Refusal, VllmRequest, plan, read_chat, read_completion
from .vllm_text import StopText

NO_KEEP_ALIVE = 365 * 24 * 3600.0
"""vLLM's streams carry no keep-alive comments: the interval is never reached."""


@dataclass(frozen=True)
class VllmInfo:
    """What the server was started as (`--served-model-name`, `--max-model-len`, its version)."""

    served_model_name: str
    root: str
    """The model as given (`--model`): `/v1/models`' `root`."""
    max_model_len: int
    version: str = vllm.DEFAULT_VLLM_VERSION


def _error(problem: Problem) -> JSONResponse:
    return JSONResponse(problem.body(), status_code=problem.status)


def _stream_error(message: str) -> bytes:
    """An error inside a stream: `json.dumps` of the body, default separators (vLLM's own call)."""
    return f"data: {json.dumps(vllm.error_body(message, 500))}\n\n".encode()


@dataclass
class _Choice:
    """One prompt's run inside a request."""

    valid: ValidRequest
    generation: Generation
    text: StopText

    def outcome(self, done: Finished) -> wire.Outcome:
        self.text.finish(stopped_by_string=done.finish_reason == "stop_sequence")
        return wire.Outcome(
            text=self.text.text,
            finish_reason=vllm.finish_reason(done.finish_reason),
            stop_reason=self.text.stop_reason,
            prompt_tokens=done.input_length,
            completion_tokens=done.generated_tokens,
        )


class VllmServer:
    """Route handlers bound to one engine, answering as vLLM does."""

    def __init__(
        self, engine: Engine, info: VllmInfo, defaults: Defaults, fault: GenerationFault | None = None
    ) -> None:
        self.engine = engine
        self.info = info
        self.defaults = defaults
        self.fault = fault
        self.loaded = engine.loaded

    # -- reading a request ------------------------------------------------------------

    async def _body(self, request: Request) -> object:
        """`validate_json_request`, then the JSON body (400 when it is not JSON)."""
        media = request.headers.get("content-type", "").lower().split(";", 1)[0].strip()
        if media != "application/json":
            raise Refusal(Problem("Unsupported Media Type: Only 'application/json' is allowed", status=415))
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise Refusal(Problem(f"JSON decode error: {err}")) from err
        problem = json_text_problem(body)
        if problem:
            raise Refusal(Problem(f"JSON decode error: {problem}"))
        return body

    def _prompt_ids(self, parsed: VllmRequest) -> list[tuple[str, list[int]]]:
        if parsed.kind == "completion":
            return [(p, self.loaded.encode(p, add_special_tokens=True)) for p in parsed.prompts]
        try:
            rendered = self.loaded.tokenizer.apply_chat_template(
                parsed.messages, tokenize=False, add_generation_prompt=True
            )
        except Exception as err:  # jinja raises anything; vLLM answers a TemplateError or ValueError with 400
            raise Refusal(Problem(str(err))) from err
        assert isinstance(rendered, str)
        return [(rendered, self.loaded.encode(rendered, add_special_tokens=False))]

    def _start(self, parsed: VllmRequest) -> list[_Choice]:
        """The model check, then each prompt's length and sampling checks, then the engine."""
        if parsed.model is not None and parsed.model != self.info.served_model_name:
            raise Refusal(Problem(f"The model `{parsed.model}` does not exist.", "model", 404))
        planned = []
        for text, ids in self._prompt_ids(parsed):
            granted, params = plan(parsed, ids, self.info.max_model_len, self.defaults)
            seed = None
            if params.do_sample:  # the engine samples only with a generator: draw a seed if none was given
                seed = parsed.seed if parsed.seed is not None else random.getrandbits(63)
            valid = ValidRequest(
                inputs=text,
                input_ids=ids,
                parameters=params,
                max_new_tokens=granted,
                seed=seed,
                stop=params.stop,
            )
            planned.append(valid)
        return [_Choice(v, Generation(self.engine, v, self.fault), StopText(v.stop)) for v in planned]

    # -- answering -----------------------------------------------------------------------

    async def _run(self, request: Request, parsed: VllmRequest) -> Response:
        envelope = wire.Envelope(wire.request_id(parsed.kind), int(time.time()), self.info.served_model_name)
        choices = self._start(parsed)
        if parsed.stream:
            return EventStreamResponse(self._events(parsed, envelope, choices), keep_alive=NO_KEEP_ALIVE)
        outcomes = await self._finish(request, choices)
        if outcomes is None:
            return Response(status_code=499)
        if isinstance(outcomes, str):
            return JSONResponse(vllm.error_body(outcomes, 500), status_code=500)
        if parsed.kind == "chat":
            return JSONResponse(wire.chat(envelope, outcomes[0]))
        return JSONResponse(wire.completion(envelope, outcomes))

    async def _finish(self, request: Request, choices: list[_Choice]) -> list[wire.Outcome] | str | None:
        """Every choice's outcome; the first error's message; None when the client left first."""

        async def one(choice: _Choice) -> wire.Outcome | str:
            async for item in choice.generation.events():
                if isinstance(item, ErrorEvent):
                    return item.message
                if not item.token.special:
                    choice.text.feed(item.token.text)
                if item.finished is not None:
                    return choice.outcome(item.finished)
            return "Internal server error"

        async def all_of() -> list[wire.Outcome | str]:
            return list(await asyncio.gather(*(one(c) for c in choices)))

        finishing = asyncio.ensure_future(all_of())
        watching = asyncio.ensure_future(wait_disconnect(request.receive))
        try:
            await asyncio.wait([finishing, watching], return_when=asyncio.FIRST_COMPLETED)
            if not finishing.done():
                return None
            results = finishing.result()
        finally:
            for choice in choices:
                choice.generation.cancel()
            for task in (finishing, watching):
                task.cancel()
            await asyncio.gather(finishing, watching, return_exceptions=True)
        errors = [r for r in results if isinstance(r, str)]
        return errors[0] if errors else [r for r in results if isinstance(r, wire.Outcome)]

    async def _events(
        self, parsed: VllmRequest, envelope: wire.Envelope, choices: list[_Choice]
    ) -> AsyncGenerator[bytes, None]:
        chat = parsed.kind == "chat"
        prompt_tokens = completion_tokens = 0
        try:
            if chat:
                yield event(wire.chat_first_chunk(envelope))
            for index, choice in enumerate(choices):
                prompt_tokens += choice.valid.input_length
                generated = 0
                async for item in choice.generation.events():
                    if isinstance(item, ErrorEvent):
                        yield _stream_error(item.message)
                        yield DONE
                        return
                    generated += 1
                    if not item.token.special:
                        choice.text.feed(item.token.text)
                    done = None if item.finished is None else choice.outcome(item.finished)
                    piece = choice.text.take(finished=done is not None)
                    running = None
                    if parsed.continuous_usage and parsed.include_usage:
                        running = wire.usage(prompt_tokens, completion_tokens + generated, dumped_whole=False)
                    if chat:
                        yield event(wire.chat_chunk(envelope, piece, done, running))
                    else:
                        yield event(wire.completion_chunk(envelope, index, piece, done, running))
                completion_tokens += generated
            if parsed.include_usage:
                obj = vllm.CHAT_CHUNK_OBJECT if chat else vllm.COMPLETION_OBJECT
                yield event(wire.usage_chunk(envelope, obj, prompt_tokens, completion_tokens))
            yield DONE
        finally:
            for choice in choices:
                choice.generation.cancel()

    # -- routes --------------------------------------------------------------------------

    async def completions(self, request: Request) -> Response:
        body = await self._body(request)
        return await self._run(request, read_completion(_object(body, "completion"), self.defaults))

    async def chat_completions(self, request: Request) -> Response:
        body = await self._body(request)
        return await self._run(request, read_chat(_object(body, "chat"), self.defaults))

    async def invocations(self, request: Request) -> Response:
        """SageMaker's entry point: the first request type the body validates as, else 400."""
        body = await self._body(request)
        kind = vllm.invocation_kind(body)
        readers: dict[str, Callable[[dict[str, object], Defaults], VllmRequest]] = {
            "chat": read_chat,
            "completion": read_completion,
        }
        parsed = None
        if kind is not None and isinstance(body, dict):
            try:
                parsed = readers[kind](body, self.defaults)
            except Refusal:  # pydantic did not validate it as that type: no handler takes it
                parsed = None
        if parsed is None:
            return _error(Problem(vllm.no_handler_message()))
        return await self._run(request, parsed)

    async def ping(self, request: Request) -> Response:
        return Response(status_code=200 if self.engine.healthy else 503)

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": self.info.version})

    async def models(self, request: Request) -> Response:
        info = self.info
        return JSONResponse(
            wire.model_list(info.served_model_name, info.root, info.max_model_len, int(time.time()))
        )

    async def metrics(self, request: Request) -> Response:
        """A few of vLLM's Prometheus gauges (the scheduler's view)."""
        name = self.info.served_model_name
        lines = [
            "# TYPE vllm:num_requests_running gauge",
            f'vllm:num_requests_running{{model_name="{name}"}} {self.engine.batch_size}',
            "# TYPE vllm:num_requests_waiting gauge",
            f'vllm:num_requests_waiting{{model_name="{name}"}} {self.engine.queue_size}',
        ]
        return PlainTextResponse("\n".join(lines) + "\n")


def _object(body: object, kind: str) -> dict[str, object]:
    if not isinstance(body, dict):
        name = "ChatCompletionRequest" if kind == "chat" else "CompletionRequest"
        raise Refusal(Problem(f"1 validation error for {name}\n  Input should be a valid dictionary"))
    return body


async def _answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return _error(exc.problem)


def create_vllm_app(engine: Engine, info: VllmInfo, defaults: Defaults | None = None) -> Starlette:
    """The ASGI app; the caller starts and stops the engine. Reads LLM_TWIN_SERVER_FAULT (`knobs`)."""
    server = VllmServer(engine, info, defaults or Defaults(), generation_fault(os.environ))
    routes = [
        Route("/ping", server.ping, methods=["GET", "POST"]),
        Route("/health", server.ping, methods=["GET"]),
        Route("/version", server.version, methods=["GET"]),
        Route("/v1/models", server.models, methods=["GET"]),
        Route("/metrics", server.metrics, methods=["GET"]),
        Route("/v1/completions", server.completions, methods=["POST"]),
        Route("/v1/chat/completions", server.chat_completions, methods=["POST"]),
        Route("/invocations", server.invocations, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={Refusal: _answer})
