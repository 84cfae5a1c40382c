"""vLLM's OpenAI JSON answers, field for field as its pydantic models dump them (research.md C4).

A non-streamed answer is `model_dump()`: every field, nulls included. A stream chunk is
`model_dump_json(exclude_unset=True)`: the fields vLLM's code sets, nulls it sets included;
the usage chunk (`stream_options.include_usage`) is dumped with `exclude_none`, so it has
`choices: []` and no nulls. Ids are `cmpl-<hex>` and `chatcmpl-<hex>`; `model` is the served
model name. The fields of vLLM releases after the stand-in's (routed experts, metrics) are left out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from llm_twin.protocol.vllm import CHAT_CHUNK_OBJECT, CHAT_OBJECT, COMPLETION_OBJECT

Json = dict[str, Any]


def request_id(kind: str) -> str:
    """`cmpl-` or `chatcmpl-` and a random uuid's hex, as vLLM names a request it was given no id for."""
    return f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{uuid.uuid4().hex}"


def usage(prompt_tokens: int, completion_tokens: int, *, dumped_whole: bool) -> Json:
    """`UsageInfo`, in its field order; `prompt_tokens_details` only where nulls are dumped."""
    answer: Json = {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }
    if dumped_whole:
        answer["prompt_tokens_details"] = None
    return answer


@dataclass(frozen=True)
class Envelope:
    """What every answer of one request repeats."""

    id: str
    created: int
    model: str

    def head(self, obj: str) -> Json:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}


@dataclass(frozen=True)
class Outcome:
    """One finished choice: its text (stop string cut off), why it ended, its token counts."""

    text: str
    finish_reason: str
    stop_reason: str | None
    prompt_tokens: int
    completion_tokens: int


def completion(envelope: Envelope, outcomes: list[Outcome]) -> Json:
    """`CompletionResponse`: one choice per prompt, usage summed over them."""
    choices = [
        {
            "index": index,
            "text": done.text,
            "logprobs": None,
            "finish_reason": done.finish_reason,
            "stop_reason": done.stop_reason,
            "prompt_logprobs": None,
        }
        for index, done in enumerate(outcomes)
    ]
    return {
        **envelope.head(COMPLETION_OBJECT),
        "choices": choices,
        "service_tier": None,
        "system_fingerprint": None,
        "usage": usage(
            sum(d.prompt_tokens for d in outcomes),
            sum(d.completion_tokens for d in outcomes),
            dumped_whole=True,
        ),
        "kv_transfer_params": None,
    }


def completion_chunk(
    envelope: Envelope, index: int, text: str, done: Outcome | None, running_usage: Json | None = None
) -> Json:
    """`CompletionStreamResponse` of one token; the last carries the finish and stop reasons."""
    chunk: Json = {
        **envelope.head(COMPLETION_OBJECT),
        "choices": [
            {
                "index": index,
                "text": text,
                "logprobs": None,
                "finish_reason": None if done is None else done.finish_reason,
                "stop_reason": None if done is None else done.stop_reason,
                "prompt_token_ids": None,
                "token_ids": None,
            }
        ],
    }
    if running_usage is not None:
        chunk["usage"] = running_usage
    return chunk


def chat(envelope: Envelope, done: Outcome) -> Json:
    """`ChatCompletionResponse` of one choice."""
    message: Json = {
        "role": "assistant",
        "content": done.text,
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "tool_calls": [],
        "reasoning_content": None,
    }
    return {
        **envelope.head(CHAT_OBJECT),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": done.finish_reason,
                "stop_reason": done.stop_reason,
            }
        ],
        "service_tier": None,
        "system_fingerprint": None,
        "usage": usage(done.prompt_tokens, done.completion_tokens, dumped_whole=True),
        "prompt_logprobs": None,
        "kv_transfer_params": None,
    }


def chat_first_chunk(envelope: Envelope) -> Json:
    """The role chunk every chat stream opens with (`delta: {role, content: ""}`)."""
    choice = {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": None,
    }
    return {**envelope.head(CHAT_CHUNK_OBJECT), "choices": [choice]}


def chat_chunk(
    envelope: Envelope, text: str, done: Outcome | None, running_usage: Json | None = None
) -> Json:
    """One token's `ChatCompletionStreamResponse`; `stop_reason` is set only on the last."""
    choice: Json = {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}
    if done is not None:
        choice["finish_reason"] = done.finish_reason
        choice["stop_reason"] = done.stop_reason
    chunk: Json = {**envelope.head(CHAT_CHUNK_OBJECT), "choices": [choice]}
    if running_usage is not None:
        chunk["usage"] = running_usage
    return chunk


def usage_chunk(envelope: Envelope, obj: str, prompt_tokens: int, completion_tokens: int) -> Json:
    """The stream's last chunk with `include_usage`: no choices, the usage (nulls excluded)."""
    return {
        **envelope.head(obj),
        "choices": [],
        "usage": usage(prompt_tokens, completion_tokens, dumped_whole=False),
    }


def model_list(served: str, root: str, max_model_len: int, created: int) -> Json:
    """`/v1/models`: the one served model (`ModelCard`)."""
    card = {
        "id": served,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": root,
        "parent": None,
        "max_model_len": max_model_len,
        "permission": [],
    }
    return {"object": "list", "data": [card]}
