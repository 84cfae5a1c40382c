"""TGI's OpenAI-shaped routes: the Messages API (/v1/chat/completions) and /v1/completions.

As TGI 3.3's `chat_completions` and `completions` (research.md A3, A4): what fails before
generating (the body's shape, the chat template, tools) is an HTTP error in TGI's shape,
`{"error", "error_type"}`, whether streamed or not; so is everything that fails a non-streamed
request. Inside a stream, any error is one OpenAI-shaped event, `{"error": {"message",
"http_status_code": 422}}`, and every stream ends with `data: [DONE]`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llm_twin.protocol.tgi import chat_stream_error

from . import wire
from .bodies import Failure, shape
from .engine import Finished, Token
from .errors import CompletionsError, ShapeError, TemplateError
from .generation import EventStreamResponse
from .openai_params import ChatRequest, parse_chat_request, parse_completion_request
from .params import GenerateRequest
from .serving import Serving
from .sse import DONE, event

MAX_CLIENT_BATCH_SIZE = 4
"""TGI's launcher default: prompts one /v1/completions request may carry."""


def _model(server: Serving, requested: str | None) -> str:
    """The request's `model`, unless absent or "tgi": then the served model's id (as TGI)."""
    return server.info.model_id if requested in (None, "tgi") else str(requested)


def _render(server: Serving, chat: ChatRequest) -> GenerateRequest:
    try:
        prompt = server.tokenizer.apply_chat_template(
            chat.messages, tokenize=False, add_generation_prompt=True
        )
    except Exception as err:  # jinja raises anything
        raise TemplateError(f"Template error: {err}") from err
    assert isinstance(prompt, str)  # tokenize=False: the text (transformers types every return shape)
    return GenerateRequest(inputs=prompt, parameters=chat.parameters, add_special_tokens=False)


async def chat_completions(server: Serving, request: Request, body: object) -> Response:
    if not isinstance(body, dict):
        raise ShapeError("Failed to deserialize the JSON body into the target type: expected an object")
    chat = shape(lambda: parse_chat_request(body))
    parsed = _render(server, chat)
    model, created, logprobs = _model(server, chat.model), int(time.time()), chat.logprobs
    fingerprint = server.fingerprint
    if not chat.stream:
        done = await server.finish(request, server.start(server.validate(parsed)))
        if done is None:
            return Response(status_code=499)
        answer = wire.chat_completion_json(
            done, model=model, fingerprint=fingerprint, created=created, logprobs=logprobs
        )
        return JSONResponse(answer)

    def chunk(token: Token | None, done: Finished | None) -> bytes:
        return event(
            wire.chat_chunk_json(
                token, done, model=model, fingerprint=fingerprint, created=created, logprobs=logprobs
            )
        )

    async def events() -> AsyncGenerator[bytes, None]:
        tokens = server.token_events(parsed)
        try:
            async for item in tokens:
                if isinstance(item, Failure):
                    yield event(chat_stream_error(item.message))
                    break
                yield chunk(item.token, item.finished)
                if item.finished is not None and chat.include_usage:
                    yield chunk(None, item.finished)
            yield DONE
        finally:
            await tokens.aclose()

    return EventStreamResponse(events())


async def completions(server: Serving, request: Request, body: object) -> Response:
    if not isinstance(body, dict):
        raise ShapeError("Failed to deserialize the JSON body into the target type: expected an object")
    completion = shape(lambda: parse_completion_request(body))
    if completion.suffix:
        raise CompletionsError(
            "Suffix is not supported and can be achieved by preprocessing the prompt.", "suffix not supported"
        )
    if len(completion.prompts) > MAX_CLIENT_BATCH_SIZE:
        raise CompletionsError(
            f"Number of prompts exceeds the maximum allowed batch size of {MAX_CLIENT_BATCH_SIZE}",
            "batch size exceeded",
        )
    requests = [
        GenerateRequest(inputs=prompt, parameters=completion.parameters) for prompt in completion.prompts
    ]
    model, created = _model(server, completion.model), int(time.time())
    if not completion.stream:
        valid = [server.validate(r) for r in requests]
        finished = await asyncio.gather(*(server.finish(request, server.start(v)) for v in valid))
        if any(done is None for done in finished):
            return Response(status_code=499)
        choices = [(index, done) for index, done in enumerate(finished) if done is not None]
        return JSONResponse(
            wire.completion_json(choices, model=model, fingerprint=server.fingerprint, created=created)
        )

    async def events() -> AsyncGenerator[bytes, None]:
        # One prompt after the other (TGI interleaves them; each event names its `index`).
        for index, parsed in enumerate(requests):
            tokens = server.token_events(parsed)
            try:
                async for item in tokens:
                    if isinstance(item, Failure):
                        yield event(chat_stream_error(item.message))
                        break
                    chunk = wire.completion_chunk_json(
                        index,
                        item.token,
                        item.finished,
                        model=model,
                        fingerprint=server.fingerprint,
                        created=created,
                    )
                    yield event(chunk)
            finally:
                await tokens.aclose()
        yield DONE

    return EventStreamResponse(events())
