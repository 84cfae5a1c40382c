"""TGI's `generate_stream` as typed events: `Token`, `StreamDetails`, `TokenEvent`.

`parse_generate_stream` is a generator over `Iterable[bytes]` (the payload bytes, cut
anywhere), so it is tested with no network and no boto3. It decodes each event straight
into its dataclasses with msgspec, in C. Whatever msgspec refuses (its types are stricter)
goes through `json` and the checks below, so both paths give the same result (tested) and
nothing `json` accepts is rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from llm_twin.client.stream.events import event_object
from llm_twin.errors import InferenceError, StreamParseError
from llm_twin.protocol.sse import sse_batches
from llm_twin.protocol.tgi import FinishReason

__all__ = ["FinishReason", "StreamDetails", "Token", "TokenEvent", "parse_generate_stream"]


@dataclass(frozen=True, slots=True)
class Token:
    """One generated token, as TGI streams it."""

    id: int | None
    """The token's id in the model's vocabulary; None where the server names none (vLLM's
    completion stream carries text only)."""
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
        for batch in sse_batches(chunks):
            for data in batch:
                # msgspec ignores unknown keys, so it would miss an error payload that also
                # has a token: data naming "error", or perhaps escaping it, takes the general path.
                if b'"error"' in data or b"\\u" in data:
                    event = token_event_from_json(data)
                else:
                    try:
                        event = decode(data)
                    except msgspec.DecodeError:
                        event = token_event_from_json(data)
                if event is None:
                    return
                token = event.token
                if not token.special:
                    keep(token.text)
                yield event
    except InferenceError as exc:
        exc.partial_text = "".join(texts)
        raise


def token_event_from_json(raw: bytes) -> TokenEvent | None:
    """Any token event, or None for `[DONE]`; the general path of `parse_generate_stream`."""
    obj = event_object(raw)
    if obj is None:
        return None
    try:
        token_obj = obj["token"]
        logprob = token_obj.get("logprob")
        token = Token(
            id=None if token_obj["id"] is None else _json_int(token_obj["id"]),
            text=_json_str(token_obj["text"]),
            logprob=None if logprob is None else float(logprob),
            special=_json_bool(token_obj["special"]),
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


def _stream_details(raw: dict[str, Any]) -> StreamDetails:
    seed = raw.get("seed")
    return StreamDetails(
        finish_reason=_json_str(raw["finish_reason"]),  # type: ignore[arg-type]  # any string, as json
        generated_tokens=_json_int(raw["generated_tokens"]),
        seed=None if seed is None else _json_int(seed),
    )


def _json_int(value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _json_str(value: object) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _json_bool(value: object) -> bool:
    if type(value) is not bool:
        raise TypeError(f"expected true or false, got {value!r}")
    return value
