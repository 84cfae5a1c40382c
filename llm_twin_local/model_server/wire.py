"""TGI's JSON payloads, built from engine results (field order as TGI serializes them)."""

from __future__ import annotations

from typing import Literal, TypedDict

from .engine import Finished, PrefillToken, Token
from .params import FinishReason
from .sse import f32

# TGI's Messages API speaks OpenAI's finish reasons.
CHAT_FINISH_REASONS: dict[FinishReason, str] = {
    "length": "length",
    "eos_token": "stop",
    "stop_sequence": "stop",
}


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


class GenerateJson(TypedDict):
    generated_text: str
    details: DetailsJson | None


class StreamDetailsJson(TypedDict):
    finish_reason: FinishReason
    generated_tokens: int
    seed: int | None
    input_length: int


class StreamJson(TypedDict):
    index: int
    token: TokenJson
    generated_text: str | None
    details: StreamDetailsJson | None


class TopLogprobJson(TypedDict):
    token: str
    logprob: float | None


class LogprobJson(TypedDict):
    token: str
    logprob: float | None
    top_logprobs: list[TopLogprobJson]
    """Always empty: the stand-in reports no alternatives."""


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
    choices: list[ChoiceJson | ChunkChoiceJson]
    usage: UsageJson | None


def token_json(token: Token) -> TokenJson:
    return {"id": token.id, "text": token.text, "logprob": f32(token.logprob), "special": token.special}


def prefill_json(token: PrefillToken) -> PrefillJson:
    return {"id": token.id, "text": token.text, "logprob": f32(token.logprob)}


def details_json(done: Finished) -> DetailsJson:
    return {
        "finish_reason": done.finish_reason,
        "generated_tokens": done.generated_tokens,
        "seed": done.seed,
        "prefill": [prefill_json(t) for t in done.prefill],
        "tokens": [token_json(t) for t in done.tokens],
    }


def generate_json(done: Finished, *, prompt: str | None, details: bool) -> GenerateJson:
    """`GenerateResponse`: `prompt` is prepended when `return_full_text`."""
    text = (prompt or "") + done.generated_text
    return {"generated_text": text, "details": details_json(done) if details else None}


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
    return {
        "index": index,
        "token": token_json(token),
        "generated_text": None if done is None else (prompt or "") + done.generated_text,
        "details": stream_details,
    }


def error_json(message: str, error_type: str) -> dict[str, str]:
    return {"error": message, "error_type": error_type}


def _logprobs(tokens: list[Token]) -> LogprobsJson:
    return {"content": [{"token": t.text, "logprob": f32(t.logprob), "top_logprobs": []} for t in tokens]}


def _usage(done: Finished) -> UsageJson:
    return {
        "prompt_tokens": done.input_length,
        "completion_tokens": done.generated_tokens,
        "total_tokens": done.input_length + done.generated_tokens,
    }


def _chat_json(
    kind: str,
    choice: ChoiceJson | ChunkChoiceJson,
    usage: UsageJson | None,
    *,
    model: str,
    fingerprint: str,
    created: int,
) -> ChatJson:
    """The Messages API's envelope around one choice; `kind` is its `object`."""
    return {
        "object": kind,
        "id": "",
        "created": created,
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [choice],
        "usage": usage,
    }


def chat_completion_json(
    done: Finished, *, model: str, fingerprint: str, created: int, logprobs: bool
) -> ChatJson:
    choice: ChoiceJson = {
        "index": 0,
        "message": {"role": "assistant", "content": done.generated_text},
        "logprobs": _logprobs(done.tokens) if logprobs else None,
        "finish_reason": CHAT_FINISH_REASONS[done.finish_reason],
    }
    return _chat_json(
        "chat.completion", choice, _usage(done), model=model, fingerprint=fingerprint, created=created
    )


def chat_chunk_json(
    token: Token,
    done: Finished | None,
    *,
    model: str,
    fingerprint: str,
    created: int,
    logprobs: bool,
    include_usage: bool,
) -> ChatJson:
    choice: ChunkChoiceJson = {
        "index": 0,
        "delta": {"role": "assistant", "content": "" if token.special else token.text},
        "logprobs": _logprobs([token]) if logprobs else None,
        "finish_reason": None if done is None else CHAT_FINISH_REASONS[done.finish_reason],
    }
    usage = _usage(done) if done is not None and include_usage else None
    return _chat_json(
        "chat.completion.chunk", choice, usage, model=model, fingerprint=fingerprint, created=created
    )
