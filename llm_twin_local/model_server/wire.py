"""TGI's JSON payloads, built from engine results (field order as TGI serializes them)."""

from __future__ import annotations

from typing import Any

from .engine import Finished, PrefillToken, Token
from .params import FinishReason
from .sse import f32

# TGI's Messages API speaks OpenAI's finish reasons.
CHAT_FINISH_REASONS: dict[FinishReason, str] = {
    "length": "length",
    "eos_token": "stop",
    "stop_sequence": "stop",
}


def token_json(token: Token) -> dict[str, Any]:
    return {"id": token.id, "text": token.text, "logprob": f32(token.logprob), "special": token.special}


def prefill_json(token: PrefillToken) -> dict[str, Any]:
    return {"id": token.id, "text": token.text, "logprob": f32(token.logprob)}


def details_json(done: Finished) -> dict[str, Any]:
    return {
        "finish_reason": done.finish_reason,
        "generated_tokens": done.generated_tokens,
        "seed": done.seed,
        "prefill": [prefill_json(t) for t in done.prefill],
        "tokens": [token_json(t) for t in done.tokens],
    }


def generate_json(done: Finished, *, prompt: str | None, details: bool) -> dict[str, Any]:
    """`GenerateResponse`: `prompt` is prepended when `return_full_text`."""
    text = (prompt or "") + done.generated_text
    return {"generated_text": text, "details": details_json(done) if details else None}


def stream_json(
    index: int, token: Token, done: Finished | None, *, prompt: str | None, details: bool
) -> dict[str, Any]:
    """`StreamResponse`: the last one carries `generated_text` (and `details` if asked)."""
    stream_details = None
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


def _logprobs(tokens: list[Token]) -> dict[str, Any]:
    return {"content": [{"token": t.text, "logprob": f32(t.logprob), "top_logprobs": []} for t in tokens]}


def _usage(done: Finished) -> dict[str, int]:
    return {
        "prompt_tokens": done.input_length,
        "completion_tokens": done.generated_tokens,
        "total_tokens": done.input_length + done.generated_tokens,
    }


def _chat_json(
    kind: str,
    choice: dict[str, Any],
    usage: dict[str, int] | None,
    *,
    model: str,
    fingerprint: str,
    created: int,
) -> dict[str, Any]:
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
) -> dict[str, Any]:
    choice = {
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
) -> dict[str, Any]:
    choice = {
        "index": 0,
        "delta": {"role": "assistant", "content": "" if token.special else token.text},
        "logprobs": _logprobs([token]) if logprobs else None,
        "finish_reason": None if done is None else CHAT_FINISH_REASONS[done.finish_reason],
    }
    usage = _usage(done) if done is not None and include_usage else None
    return _chat_json(
        "chat.completion.chunk", choice, usage, model=model, fingerprint=fingerprint, created=created
    )
