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
`parse_generate_stream` has a fast path for the exact text TGI writes for a token event,
and decodes anything else as JSON; both give the same result (tested).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

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
_scan_json = json.JSONDecoder().scan_once

# Every token event but the last, exactly as TGI serialises it (serde_json: fixed field
# order, no whitespace). Matching this text costs less than building two dicts and picking
# them apart, which is what lets the parser beat LineIterator + json.loads despite typed
# results. Anything else, including the last event and error payloads, is decoded as JSON.
_PLAIN_TOKEN_EVENT = re.compile(
    r'\{"index":(0|[1-9][0-9]*),'
    r'"token":\{"id":(0|[1-9][0-9]*),'
    # A JSON string body: no quote, backslash or control character, except as an escape.
    r'"text":"([^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*)",'
    r'"logprob":(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|null),'
    r'"special":(true|false)\},'
    r'"generated_text":null,"details":null\}'
)


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


# The slot descriptors' setters, in field order, for the hot loop of parse_generate_stream.
_TOKEN_SLOTS = tuple(vars(Token)[field.name].__set__ for field in fields(Token))
_TOKEN_EVENT_SLOTS = tuple(vars(TokenEvent)[field.name].__set__ for field in fields(TokenEvent))


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
        yield from batch


def parse_generate_stream(chunks: Iterable[bytes]) -> Iterator[TokenEvent]:
    """Yield TGI `generate_stream` events; TGI's error payload raises its `GenerationError`.

    Every `InferenceError` raised here carries the non-special token text received so far
    as `partial_text`, including a `ModelStreamError` raised by `chunks` itself.
    """
    # Text only, not the Tokens: str is not tracked by the cyclic GC, and 100k surviving
    # tracked objects made the collector a fifth of the parse time.
    texts: list[str] = []
    keep = texts.append
    match_plain = _PLAIN_TOKEN_EVENT.fullmatch
    new = object.__new__
    set_id, set_text, set_logprob, set_special = _TOKEN_SLOTS
    set_index, set_token, set_generated_text, set_details = _TOKEN_EVENT_SLOTS
    try:
        for batch in _sse_batches(chunks):
            for data in batch:
                match = match_plain(data)
                if match is None:
                    event = _token_event_from_json(data)
                    if event is None:
                        return
                    if not event.token.special:
                        keep(event.token.text)
                    yield event
                    continue
                index, token_id, text, logprob, special = match.groups()
                if "\\" in text:
                    text = _scan_json(f'"{text}"', 0)[0]
                # Token(...) and TokenEvent(...), minus the frozen __init__'s
                # object.__setattr__ per field, which costs as much as the match.
                token = new(Token)
                set_id(token, int(token_id))
                set_text(token, text)
                set_logprob(token, None if logprob == "null" else float(logprob))
                set_special(token, special == "true")
                event = new(TokenEvent)
                set_index(event, int(index))
                set_token(event, token)
                set_generated_text(event, None)
                set_details(event, None)
                if special == "false":
                    keep(text)
                yield event
    except InferenceError as exc:
        exc.partial_text = "".join(texts)
        raise


def _token_event_from_json(data: str) -> TokenEvent | None:
    """Any token event, or None for `[DONE]`; the general path of `parse_generate_stream`."""
    if data.strip() == _DONE:
        return None
    obj = _decode_json(data)
    if type(obj) is not dict:
        raise StreamParseError(f"expected a JSON object, got {data[:200]!r}")
    if obj.get("error") is not None:
        raise _error_from_payload(obj)
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
        raise StreamParseError(f"not a TGI token event: {data[:200]!r}") from exc


def parse_chat_stream(chunks: Iterable[bytes]) -> Iterator[ChatDelta]:
    """Yield the Messages API's deltas until `[DONE]`; TGI's error payload raises.

    Chunks without choices (TGI's closing usage chunk) yield nothing. Every
    `InferenceError` raised here carries the content received so far as `partial_text`.
    """
    contents: list[str] = []
    try:
        for batch in _sse_batches(chunks):
            for data in batch:
                if data.strip() == _DONE:
                    return
                obj = _decode_json(data)
                if type(obj) is not dict:
                    raise StreamParseError(f"expected a JSON object, got {data[:200]!r}")
                if obj.get("error") is not None:
                    raise _error_from_payload(obj)
                try:
                    choices = obj.get("choices")
                    if not choices:
                        continue
                    choice = choices[0]
                    delta = choice.get("delta") or {}
                    content = delta.get("content") or ""
                    event = ChatDelta(content, choice.get("finish_reason"), delta.get("role"))
                except (KeyError, TypeError, AttributeError, IndexError) as exc:
                    raise StreamParseError(f"not a chat.completion.chunk: {data[:200]!r}") from exc
                if type(content) is not str:
                    raise StreamParseError(f"delta content is not a string: {data[:200]!r}")
                contents.append(content)
                yield event
    except InferenceError as exc:
        exc.partial_text = "".join(contents)
        raise


def _sse_batches(chunks: Iterable[bytes]) -> Iterator[list[str]]:
    # One list per part, not one yield per event: with events this small, a generator
    # resume per event is a measurable share of the parse.
    data: str | None = None  # the open event's first data line
    more: list[str] = []  # its further data lines, kept apart so a long event stays linear
    for text in _whole_lines(chunks):
        batch: list[str] = []
        for line in text.split("\n"):
            if not line:
                if data is not None:
                    batch.append("\n".join([data, *more]) if more else data)
                    more.clear()
                    data = None
            elif line.startswith("data:"):
                if data is None:
                    data = line[5:].removeprefix(" ")
                else:
                    more.append(line[5:].removeprefix(" "))
            elif line == "data":
                if data is None:
                    data = ""
                else:
                    more.append("")
            # Anything else is a comment (":...") or a field TGI's clients need not read.
        if batch:
            yield batch
    if data is not None:
        yield ["\n".join([data, *more])]


def _whole_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decode the stream in runs of whole lines: LF-separated, terminators and CRs removed.

    Each run ends where a part's last line break was; the run after the stream ends is
    the unterminated last line. Invalid UTF-8 raises, after the run of lines before it.
    """
    pending = bytearray()
    at_start = True
    for chunk in chunks:
        pending += chunk
        if b"\n" not in chunk:
            if len(pending) > MAX_LINE_BYTES:
                raise _line_too_long()
            continue
        if at_start:
            # One leading byte-order mark is not part of the stream (WHATWG).
            if pending.startswith(_UTF8_BOM):
                del pending[: len(_UTF8_BOM)]
            at_start = False
        end = pending.rfind(b"\n")
        try:
            # Whole lines only: a character split across parts is decoded once complete.
            text = pending[:end].decode()
        except UnicodeDecodeError as exc:
            good_end = pending.rfind(b"\n", 0, exc.start)
            if good_end >= 0:
                yield _strip_cr(pending[:good_end].decode())
            raise _invalid_utf8(exc) from exc
        del pending[: end + 1]
        yield _strip_cr(text) if "\r" in text else text
    if pending:
        if at_start and pending.startswith(_UTF8_BOM):
            del pending[: len(_UTF8_BOM)]
        try:
            text = pending.decode()
        except UnicodeDecodeError as exc:
            raise _invalid_utf8(exc) from exc
        yield _strip_cr(text)


def _strip_cr(text: str) -> str:
    # The run's last CR is the CR of a CRLF whose LF ended the run (or of the final line).
    return text.replace("\r\n", "\n").removesuffix("\r")


def _invalid_utf8(exc: UnicodeDecodeError) -> StreamParseError:
    return StreamParseError(f"invalid UTF-8 in event stream: {exc}")


def _line_too_long() -> StreamParseError:
    return StreamParseError(f"no line break within {MAX_LINE_BYTES} bytes; not a TGI event stream")


def _decode_json(data: str) -> Any:
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
