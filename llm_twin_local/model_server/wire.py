"""TGI 3.3's JSON payloads, built from engine results (field order as TGI serializes them).

Shapes from TGI's router `lib.rs` (research.md A4, A6): `details` is left out of a
GenerateResponse unless asked for; `top_tokens` is left out wherever it is empty; the last
stream event's StreamDetails carries `input_length`; the Messages API keeps TGI's own finish
reasons but "eos_token" (`protocol.tgi.chat_finish_reason`).
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from llm_twin.protocol.tgi import chat_finish_reason

from .engine import Finished, PrefillToken, Token
from .params import FinishReason
from .sse import f32


class TokenJson(TypedDict):
    id: int
    text: str
    logprob: float | None
    special: bool


class PrefillJson(TypedDict):
    id: int
    text: str
    logprob: float | None


class DetailsJson(TypedDict):
    finish_reason: FinishReason
    generated_tokens: int
    seed: int | None
    prefill: list[PrefillJson]
    tokens: list[TokenJson]
    top_tokens: NotRequired[list[list[TokenJson]]]


class GenerateJson(TypedDict):
    generated_text: str
    details: NotRequired[DetailsJson]


class StreamDetailsJson(TypedDict):
    finish_reason: FinishReason
    generated_tokens: int
    seed: int | None
    input_length: int


class StreamJson(TypedDict):
    index: int
    token: TokenJson
    top_tokens: NotRequired[list[TokenJson]]
    generated_text: str | None
    details: StreamDetailsJson | None


class TopLogprobJson(TypedDict):
    token: str
    logprob: float | None


class LogprobJson(TypedDict):
    token: str
    logprob: float | None
    top_logprobs: list[TopLogprobJson]


class LogprobsJson(TypedDict):
    content: list[LogprobJson]


class UsageJson(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MessageJson(TypedDict):
    role: Literal["assistant"]
    content: str


class ChoiceJson(TypedDict):
    index: int
    message: MessageJson
    logprobs: LogprobsJson | None
    finish_reason: str


class ChunkChoiceJson(TypedDict):
    index: int
    delta: MessageJson
    logprobs: LogprobsJson | None
    finish_reason: str | None


class ChatJson(TypedDict):
    """The Messages API's envelope (`chat.completion` or `chat.completion.chunk`)."""

    object: str
    id: str
    created: int
    model: str
    system_fingerprint: str
    choices: list[ChoiceJson] | list[ChunkChoiceJson]
    usage: UsageJson | None


class CompletionChoiceJson(TypedDict):
    index: int
    text: str
    logprobs: None
    finish_reason: str


class CompletionJson(TypedDict):
    """/v1/completions: a `Chunk` (no usage) or a `CompletionFinal`."""

    object: Literal["text_completion"]
    id: str
    created: int
    model: str
    system_fingerprint: str
    choices: list[CompletionChoiceJson]
    usage: NotRequired[UsageJson]


def token_json(token: Token) -> TokenJson:
    return {"id": token.id, "text": token.text, "logprob": f32(token.logprob), "special": token.special}


def prefill_json(token: PrefillToken) -> PrefillJson:
    return {"id": token.id, "text": token.text, "logprob": f32(token.logprob)}


def details_json(done: Finished) -> DetailsJson:
    details: DetailsJson = {
        "finish_reason": done.finish_reason,
        "generated_tokens": done.generated_tokens,
        "seed": done.seed,
        "prefill": [prefill_json(t) for t in done.prefill],
        "tokens": [token_json(t) for t in done.tokens],
    }
    top = [[token_json(t) for t in token.top_tokens] for token in done.tokens]
    if any(top):
        details["top_tokens"] = top
    return details


def generate_json(done: Finished, *, prompt: str | None, details: bool) -> GenerateJson:
    """`GenerateResponse`: `prompt` is prepended when `return_full_text`."""
    answer: GenerateJson = {"generated_text": (prompt or "") + done.generated_text}
    if details:
        answer["details"] = details_json(done)
    return answer


def stream_json(
    index: int, token: Token, done: Finished | None, *, prompt: str | None, details: bool
) -> StreamJson:
    """`StreamResponse`: the last one carries `generated_text` (and `details` if asked)."""
    stream_details: StreamDetailsJson | None = None
    if done is not None and details:
        stream_details = {
            "finish_reason": done.finish_reason,
            "generated_tokens": done.generated_tokens,
            "seed": done.seed,
            "input_length": done.input_length,
        }
    event: StreamJson = {
        "index": index,
        "token": token_json(token),
        "generated_text": None if done is None else (prompt or "") + done.generated_text,
        "details": stream_details,
    }
    top = token.top_tokens
    if top:
        event["top_tokens"] = [token_json(t) for t in top]
    return event


def _logprob(token: Token) -> LogprobJson:
    return {
        "token": token.text,
        "logprob": f32(token.logprob),
        "top_logprobs": [{"token": t.text, "logprob": f32(t.logprob)} for t in token.top_tokens],
    }


def usage_json(done: Finished) -> UsageJson:
    return {
        "prompt_tokens": done.input_length,
        "completion_tokens": done.generated_tokens,
        "total_tokens": done.input_length + done.generated_tokens,
    }


def chat_completion_json(
    done: Finished, *, model: str, fingerprint: str, created: int, logprobs: bool
) -> ChatJson:
    """`ChatCompletion`: `usage` is always there."""
    choice: ChoiceJson = {
        "index": 0,
        "message": {"role": "assistant", "content": done.generated_text},
        "logprobs": {"content": [_logprob(t) for t in done.tokens]} if logprobs else None,
        "finish_reason": chat_finish_reason(done.finish_reason),
    }
    return {
        "object": "chat.completion",
        "id": "",
        "created": created,
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [choice],
        "usage": usage_json(done),
    }


def chat_chunk_json(
    token: Token | None, done: Finished | None, *, model: str, fingerprint: str, created: int, logprobs: bool
) -> ChatJson:
    """`ChatCompletionChunk`: one per token with `usage: null`; with no token, the usage chunk
    `stream_options.include_usage` asks for (`choices: []`, after the finishing chunk)."""
    if token is None:
        assert done is not None
        choices: list[ChunkChoiceJson] = []
        usage: UsageJson | None = usage_json(done)
    else:
        choices = [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "" if token.special else token.text},
                "logprobs": {"content": [_logprob(token)]} if logprobs else None,
                "finish_reason": None if done is None else chat_finish_reason(done.finish_reason),
            }
        ]
        usage = None
    return {
        "object": "chat.completion.chunk",
        "id": "",
        "created": created,
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": choices,
        "usage": usage,
    }


def completion_json(
    choices: list[tuple[int, Finished]], *, model: str, fingerprint: str, created: int
) -> CompletionJson:
    """`CompletionFinal` of a non-streamed /v1/completions: one choice per prompt, usage summed."""
    return {
        "object": "text_completion",
        "id": "",
        "created": created,
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [
            {
                "index": index,
                "text": done.generated_text,
                "logprobs": None,
                "finish_reason": chat_finish_reason(done.finish_reason),
            }
            for index, done in choices
        ],
        "usage": {
            "prompt_tokens": sum(done.input_length for _, done in choices),
            "completion_tokens": sum(done.generated_tokens for _, done in choices),
            "total_tokens": sum(done.input_length + done.generated_tokens for _, done in choices),
        },
    }


def completion_chunk_json(
    index: int, token: Token, done: Finished | None, *, model: str, fingerprint: str, created: int
) -> CompletionJson:
    """A streamed /v1/completions event: a `Chunk` (finish_reason ""), and for the last token a
    `CompletionFinal` with usage and the finish reason as TGI displays it ("eos_token": TGI's own
    inconsistency with the non-streamed answer, research.md A4)."""
    chunk: CompletionJson = {
        "object": "text_completion",
        "id": "",
        "created": created,
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [
            {
                "index": index,
                "text": token.text,
                "logprobs": None,
                "finish_reason": "" if done is None else done.finish_reason,
            }
        ],
    }
    if done is not None:
        chunk["usage"] = usage_json(done)
    return chunk
