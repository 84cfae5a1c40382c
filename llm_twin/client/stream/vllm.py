"""vLLM's completion stream (OpenAI's `text_completion` chunks) as TGI's typed events.

vLLM answers a `prompt` body with one `data: {chunk}` event per engine step, the new text in
`choices[0].text`; `finish_reason` on the last one, then (with `stream_options.include_usage`)
a chunk with `choices: []` and `usage`, then `data: [DONE]`. An error mid-stream is
`data: {"error": {"message", "type", "param", "code"}}`, and `[DONE]` still follows it.

`parse_completion_stream` yields the `TokenEvent`s TGI's parser yields, so the CLI, `--json`
and the book's class read one type whatever the backend:

    index           the chunk's position, from 1
    token           Token(id=None, text=choices[0].text, logprob=None, special=False): the
                    stream names no token id, and vLLM leaves special tokens out of the text
    generated_text  on the last token event only: all the text
    details         on the last token event only, when the usage chunk came: the finish reason
                    in TGI's words (`finish_reason`) and `usage.completion_tokens`

The finishing chunk is held until the usage chunk or `[DONE]`, so its details can carry the
token count. A stream that ends with no finishing chunk yields no `generated_text`: the caller
knows it was cut, as with TGI. Chat chunks (`chat.completion.chunk`) are the Messages API's
parser's (`stream.chat`), the same on both backends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from llm_twin.client.stream.events import event_object
from llm_twin.client.stream.tgi import StreamDetails, Token, TokenEvent
from llm_twin.errors import GenerationError, IncompleteGenerationError, InferenceError, StreamParseError
from llm_twin.protocol.sse import sse_batches

__all__ = ["parse_completion_stream", "tgi_finish_reason"]


class _Choice(msgspec.Struct):
    text: str
    finish_reason: str | None = None
    stop_reason: str | int | None = None


class _Usage(msgspec.Struct):
    completion_tokens: int


class _Chunk(msgspec.Struct):
    choices: list[_Choice]
    usage: _Usage | None = None
    # msgspec skips unknown keys; named here, an error next to choices is not skipped (msgspec
    # unescapes keys, so "\u0065rror" lands here too).
    error: Any = None


_decode_chunk = msgspec.json.Decoder(_Chunk).decode
_TOKEN_CACHE_SIZE = 4096
"""Distinct texts whose Token is kept for reuse: a stream repeats its tokens, and a Token is immutable."""


def tgi_finish_reason(finish_reason: str, stop_reason: str | int | None) -> str:
    """vLLM's finish reason in TGI's words: "stop" is the end-of-sequence token when no stop
    string or stop token caused it (`stop_reason` null), else a stop sequence."""
    if finish_reason == "stop":
        return "eos_token" if stop_reason is None else "stop_sequence"
    return finish_reason


def _chunk(data: bytes) -> _Chunk | None:
    """One event as a chunk, None for `[DONE]`; an error payload raises its error."""
    try:
        chunk = _decode_chunk(data)
    except msgspec.DecodeError:
        pass  # [DONE], an error payload without choices, or no chunk: json's path says which
    else:
        if chunk.error is None:
            return chunk
    obj = event_object(data)
    if obj is None:
        return None
    try:
        return msgspec.convert(obj, _Chunk)
    except msgspec.ValidationError as exc:
        raise StreamParseError(f"not a text_completion chunk ({exc}): {str(obj)[:200]}") from exc


def _unfinished(finish_reason: str) -> InferenceError | None:
    """The error a finish reason that is not an end stands for."""
    if finish_reason == "abort":
        return IncompleteGenerationError("vLLM aborted the generation (finish_reason abort)")
    if finish_reason == "error":
        return GenerationError("vLLM stopped the generation with an error (finish_reason error)")
    return None


def parse_completion_stream(chunks: Iterable[bytes]) -> Iterator[TokenEvent]:
    """Yield vLLM's completion stream as TGI's token events; an error payload raises its error.

    Every `InferenceError` raised here carries the text received so far as `partial_text`.
    """
    texts: list[str] = []
    keep = texts.append
    index = 0
    held: _Choice | None = None  # the finishing choice, until the usage chunk or [DONE]
    tokens: dict[str, Token] = {}

    def last(choice: _Choice, usage: _Usage | None) -> TokenEvent:
        details = None
        if usage is not None and choice.finish_reason is not None:
            reason = tgi_finish_reason(choice.finish_reason, choice.stop_reason)
            details = StreamDetails(reason, usage.completion_tokens, None)  # type: ignore[arg-type]
        return TokenEvent(index, Token(None, choice.text, None, False), "".join(texts), details)

    try:
        for batch in sse_batches(chunks):
            for data in batch:
                chunk = _chunk(data)
                if chunk is None:
                    break
                if not chunk.choices:
                    if held is not None and chunk.usage is not None:
                        yield last(held, chunk.usage)
                        held = None
                    continue
                if held is not None:
                    raise StreamParseError("vLLM sent a text chunk after the finishing one")
                choice = chunk.choices[0]
                text = choice.text
                index += 1
                keep(text)
                if choice.finish_reason is None:
                    token = tokens.get(text)
                    if token is None:
                        token = Token(None, text, None, False)
                        if len(tokens) < _TOKEN_CACHE_SIZE:
                            tokens[text] = token
                    yield TokenEvent(index, token, None, None)
                    continue
                error = _unfinished(choice.finish_reason)
                if error is not None:
                    raise error
                held = choice
            else:
                continue
            break
        if held is not None:
            yield last(held, None)
    except InferenceError as exc:
        exc.partial_text = "".join(texts)
        raise
