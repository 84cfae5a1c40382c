"""The Messages API's stream (`/v1/chat/completions` with `stream: true`) as typed deltas."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from llm_twin.client.stream.events import event_object
from llm_twin.errors import InferenceError, StreamParseError
from llm_twin.protocol.sse import sse_batches

__all__ = ["ChatDelta", "parse_chat_stream"]


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """One `chat.completion.chunk` of the Messages API, reduced to its first choice."""

    content: str
    """`choices[0].delta.content`; empty when the chunk carries none (role or tool-call deltas)."""
    finish_reason: str | None
    """`choices[0].finish_reason` (`stop`, `length`, ...); None until the last chunk."""
    role: str | None = None
    """`choices[0].delta.role`; TGI sends `assistant`, sometimes on the first chunk only."""


def parse_chat_stream(chunks: Iterable[bytes]) -> Iterator[ChatDelta]:
    """Yield the Messages API's deltas until `[DONE]`; TGI's error payload raises.

    Chunks without choices (TGI's closing usage chunk) yield nothing. Every
    `InferenceError` raised here carries the content received so far as `partial_text`.
    """
    contents: list[str] = []
    try:
        for batch in sse_batches(chunks):
            for raw in batch:
                obj = event_object(raw)
                if obj is None:
                    return
                try:
                    choices = obj.get("choices")
                    if not choices:
                        continue
                    choice = choices[0]
                    delta = choice.get("delta") or {}
                    content = delta.get("content") or ""
                    event = ChatDelta(content, choice.get("finish_reason"), delta.get("role"))
                except (KeyError, TypeError, AttributeError, IndexError) as exc:
                    raise StreamParseError(f"not a chat.completion.chunk: {str(obj)[:200]}") from exc
                if type(content) is not str:
                    raise StreamParseError(f"delta content is not a string: {str(obj)[:200]}")
                contents.append(content)
                yield event
    except InferenceError as exc:
        exc.partial_text = "".join(contents)
        raise
