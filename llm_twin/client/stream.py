"""Parse the token stream a TGI endpoint sends back through SageMaker.

SageMaker's `InvokeEndpointWithResponseStream` hands back TGI's server-sent events cut into
`PayloadPart`s at arbitrary byte boundaries: mid-line, and mid UTF-8 character. The layers here
are plain generators over `Iterable[bytes]`, so they are tested with no network and no boto3:

    payload_parts(response["Body"])  ->  bytes      (SageMaker event dicts; error events raise)
    iter_lines(parts)                ->  bytes      (one line, terminator removed)
    iter_sse_data(parts)             ->  str        (the data of one server-sent event)
    parse_generate_stream(parts)     ->  TokenEvent (TGI's `generate_stream`)
    parse_chat_stream(parts)         ->  ChatDelta  (TGI's Messages API, until `[DONE]`)

Lines end in LF or CRLF (what TGI sends); a lone CR is not a line terminator here.
`parse_generate_stream` decodes each event straight into its dataclasses with msgspec, in C.
Whatever msgspec refuses (its types are stricter) goes through `json` and the checks below,
so both paths give the same result (tested) and nothing `json` accepts is rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal

import msgspec

from llm_twin.errors import (
    GenerationError,
    InferenceError,
    ModelStreamError,
    StreamParseError,
    generation_error,
)

__all__ = [
    "MAX_LINE_BYTES",
    "ChatDelta",
    "FinishReason",
    "StreamDetails",
    "Token",
    "TokenEvent",
    "iter_lines",
    "iter_sse_data",
    "parse_chat_stream",
    "parse_generate_stream",
    "payload_parts",
]

MAX_LINE_BYTES = 16 * 1024 * 1024
"""A line longer than this is not TGI's; raising beats buffering a broken stream without end."""

FinishReason = Literal["length", "eos_token", "stop_sequence"]

_DONE = "[DONE]"
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Token:
    """One generated token, as TGI streams it."""

    id: int
    """The token's id in the model's vocabulary."""
    text: str
    """The token decoded to text; may be empty while a multi-token character is incomplete."""
    logprob: float | None
    """Log-probability of the token; None when TGI sent none (e.g. NaN serialised as null)."""
    special: bool
    """True for special tokens such as `</s>`; these are not part of the generated text."""


@dataclass(frozen=True, slots=True)
class StreamDetails:
    """Why and how a generation finished; TGI sends it on the last event only."""

    finish_reason: FinishReason
    """`length` (max_new_tokens reached), `eos_token` or `stop_sequence`."""
    generated_tokens: int
    """How many tokens were generated."""
    seed: int | None
    """The sampling seed, when sampling was used."""


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """One event of TGI's `generate_stream`."""

    index: int
    """Position of the token in the generation, from 1."""
    token: Token
    """The token this event carries."""
    generated_text: str | None
    """The whole generated text; set on the last event only."""
    details: StreamDetails | None
    """Finish details; set on the last event only (and only when requested)."""


# Typed decoding in C: it builds the frozen dataclasses itself, so a token event costs about
# what `json.loads` alone costs, with no dict to pick apart and no frozen `__init__` to run.
_decode_token_event = msgspec.json.Decoder(TokenEvent).decode


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """One `chat.completion.chunk` of the Messages API, reduced to its first choice."""

    content: str
    """`choices[0].delta.content`; empty when the chunk carries none (role or tool-call deltas)."""
    finish_reason: str | None
    """`choices[0].finish_reason` (`stop`, `length`, ...); None until the last chunk."""
    role: str | None = None
    """`choices[0].delta.role`; TGI sends `assistant`, sometimes on the first chunk only."""


def payload_parts(event_stream: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    """Yield the bytes of each `PayloadPart` of a SageMaker response stream (`response["Body"]`).

    `ModelStreamError` and `InternalStreamFailure` raise `ModelStreamError`, whether they
    arrive as event dicts or as the `EventStreamError` botocore raises for a modeled
    exception. Unknown event keys are skipped, so a newer service model cannot break us.
    """
    try:
        for event in event_stream:
            part = event.get("PayloadPart")
            if part is not None:
                yield part["Bytes"]
                continue
            error = event.get("ModelStreamError")
            if error is not None:
                code = error.get("ErrorCode", "unknown")
                raise ModelStreamError(f"ModelStreamError ({code}): {error.get('Message', '')}")
            failure = event.get("InternalStreamFailure")
            if failure is not None:
                raise ModelStreamError(f"InternalStreamFailure: {failure.get('Message', '')}")
    except Exception as exc:
        mapped = _model_stream_error_from_client_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


def _model_stream_error_from_client_error(exc: Exception) -> ModelStreamError | None:
    # botocore raises EventStreamError (a ClientError) for `:message-type: exception` events,
    # with the shape name as the code and without the shape's ErrorCode. Duck-typed, so this
    # module needs no botocore import.
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error") or {}
    code = error.get("Code")
    if code not in ("ModelStreamError", "InternalStreamFailure"):
        return None
    return ModelStreamError(f"{code}: {error.get('Message', '')}")


def iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Yield each line of the byte stream without its LF or CRLF.

    A last line with no terminator is yielded when the input ends. A line longer than
    `MAX_LINE_BYTES` raises `StreamParseError`.
    """
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        if b"\n" not in chunk:
            if len(pending) > MAX_LINE_BYTES:
                raise _line_too_long()
            continue
        end = pending.rfind(b"\n")
        lines = bytes(pending[:end]).split(b"\n")
        del pending[: end + 1]
        for line in lines:
            yield line[:-1] if line[-1:] == b"\r" else line
    if pending:
        yield bytes(pending).removesuffix(b"\r")


def iter_sse_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """Yield the data of each server-sent event, multi-line data joined with LF.

    Follows the WHATWG event-stream rules as TGI uses them: `data:` with or without one
    space, a blank line dispatches, comments (`:...`, TGI's keep-alive) and the `event`,
    `id` and `retry` fields are ignored, a leading byte-order mark is skipped, and an
    event left open when the stream ends is still dispatched. Invalid UTF-8 raises
    `StreamParseError`, after the events of the lines before it.
    """
    for batch in _sse_batches(chunks):
        for data in batch:
            yield data.decode()


def parse_generate_stream(chunks: Iterable[bytes]) -> Iterator[TokenEvent]:
    """Yield TGI `generate_stream` events; TGI's error payload raises its `GenerationError`.

    Every `InferenceError` raised here carries the non-special token text received so far
    as `partial_text`, including a `ModelStreamError` raised by `chunks` itself.
    """
    # Text only, not the Tokens: str is not tracked by the cyclic GC, and 100k surviving
    # tracked objects made the collector a fifth of the parse time.
    texts: list[str] = []
    keep = texts.append
    decode = _decode_token_event
    try:
        for batch in _sse_batches(chunks):
            for data in batch:
                # msgspec ignores unknown keys, so it would miss an error payload that also
                # has a token: data naming "error", or perhaps escaping it, takes the general path.
                if b'"error"' in data or b"\\u" in data:
                    event = _token_event_from_json(data)
                else:
                    try:
                        event = decode(data)
                    except msgspec.DecodeError:
                        event = _token_event_from_json(data)
                if event is None:
                    return
                token = event.token
                if not token.special:
                    keep(token.text)
                yield event
    except InferenceError as exc:
        exc.partial_text = "".join(texts)
        raise


def _payload(raw: bytes) -> dict[str, Any] | None:
    """One event's JSON object, or None for `[DONE]`; a TGI error payload raises."""
    data = raw.decode()
    if data.strip() == _DONE:
        return None
    obj = _decode_json(data)
    if type(obj) is not dict:
        raise StreamParseError(f"expected a JSON object, got {data[:200]!r}")
    if obj.get("error") is not None:
        raise _error_from_payload(obj)
    return obj


def _token_event_from_json(raw: bytes) -> TokenEvent | None:
    """Any token event, or None for `[DONE]`; the general path of `parse_generate_stream`."""
    obj = _payload(raw)
    if obj is None:
        return None
    try:
        raw = obj["token"]
        logprob = raw.get("logprob")
        token = Token(
            id=_json_int(raw["id"]),
            text=_json_str(raw["text"]),
            logprob=None if logprob is None else float(logprob),
            special=_json_bool(raw["special"]),
        )
        raw_details = obj.get("details")
        generated_text = obj.get("generated_text")
        return TokenEvent(
            index=_json_int(obj["index"]),
            token=token,
            generated_text=None if generated_text is None else _json_str(generated_text),
            details=None if raw_details is None else _stream_details(raw_details),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise StreamParseError(f"not a TGI token event: {str(obj)[:200]}") from exc


def parse_chat_stream(chunks: Iterable[bytes]) -> Iterator[ChatDelta]:
    """Yield the Messages API's deltas until `[DONE]`; TGI's error payload raises.

    Chunks without choices (TGI's closing usage chunk) yield nothing. Every
    `InferenceError` raised here carries the content received so far as `partial_text`.
    """
    contents: list[str] = []
    try:
        for batch in _sse_batches(chunks):
            for raw in batch:
                obj = _payload(raw)
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


def _sse_batches(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The data of each event, in one list per part that completes any (valid UTF-8 bytes).

    This is the parsers' whole hot path, so it is one generator, resumed once per part, not
    once per line or event. A part without a line break is only held; a part with one is
    split into lines once, as a whole. Invalid UTF-8 raises, after the events before it.
    """
    held: list[bytes] = []  # the parts of the line still open
    held_size = 0
    at_start = True
    data: bytes | None = None  # the open event's first data line
    more: list[bytes] = []  # its further data lines, kept apart so a long event stays linear
    # A line break after the last part ends an unterminated last line, as the stream's end does.
    for chunk in chain(chunks, (b"\n",)):
        if b"\n" not in chunk:
            held.append(chunk)
            held_size += len(chunk)
            if held_size > MAX_LINE_BYTES:
                raise _line_too_long()
            continue
        if held:
            held.append(chunk)
            chunk = b"".join(held)
            held.clear()
        if at_start:
            # One leading byte-order mark is not part of the stream (WHATWG).
            chunk = chunk.removeprefix(_UTF8_BOM)
            at_start = False
        if b"\r" in chunk:
            # Also joins a CR held back from the previous part to its LF.
            chunk = chunk.replace(b"\r\n", b"\n")
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if tail:
            held.append(tail)
        held_size = len(tail)
        invalid = None
        if not chunk.isascii():
            try:
                chunk.decode()
            except UnicodeDecodeError as exc:
                # A character split across parts is in the tail, and checked once complete.
                if exc.start < len(chunk) - len(tail):
                    invalid = exc
                    del lines[chunk.count(b"\n", 0, exc.start) :]
        batch: list[bytes] = []
        for line in lines:
            if not line:
                if data is not None:
                    batch.append(b"\n".join([data, *more]) if more else data)
                    more.clear()
                    data = None
            elif line.startswith(b"data:"):
                if data is None:
                    data = line[5:].removeprefix(b" ")
                else:
                    more.append(line[5:].removeprefix(b" "))
            elif line == b"data":
                if data is None:
                    data = b""
                else:
                    more.append(b"")
            # Anything else is a comment (":...") or a field TGI's clients need not read.
        if batch:
            yield batch
        if invalid is not None:
            raise _invalid_utf8(invalid) from invalid
    if data is not None:
        yield [b"\n".join([data, *more])]


def _invalid_utf8(exc: UnicodeDecodeError) -> StreamParseError:
    return StreamParseError(f"invalid UTF-8 in event stream: {exc}")


def _line_too_long() -> StreamParseError:
    return StreamParseError(f"no line break within {MAX_LINE_BYTES} bytes; not a TGI event stream")


def _decode_json(data: str) -> Any:
    # A str, never bytes: json.loads guesses UTF-16 or UTF-32 for bytes that start with NULs.
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise StreamParseError(f"event data is not JSON: {data[:200]!r}") from exc


def _error_from_payload(obj: dict[str, Any]) -> GenerationError:
    error = obj["error"]
    error_type = obj.get("error_type")
    if isinstance(error, dict):
        # The OpenAI-style shape {"error": {"message", "type"}} some servers send.
        error_type = error_type or error.get("type")
        error = error.get("message", error)
    return generation_error(str(error), error_type if isinstance(error_type, str) else None)


def _stream_details(raw: dict[str, Any]) -> StreamDetails:
    seed = raw.get("seed")
    return StreamDetails(
        finish_reason=_json_str(raw["finish_reason"]),
        generated_tokens=_json_int(raw["generated_tokens"]),
        seed=None if seed is None else _json_int(seed),
    )


def _json_int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _json_str(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _json_bool(value: Any) -> bool:
    if type(value) is not bool:
        raise TypeError(f"expected true or false, got {value!r}")
    return value
