"""What the engine sends back for a request: tokens, the finish record, or an error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .params import FinishReason


@dataclass(frozen=True)
class Token:
    """One generated token, as TGI reports it."""

    id: int
    text: str
    """The incremental decode: the texts of the non-special tokens concatenate to the output."""
    logprob: float
    special: bool
    top_tokens: tuple[Token, ...] = ()
    """The `top_n_tokens` likeliest tokens at this step, likeliest first (TGI's order); empty
    unless asked. Their `text` is the id decoded alone, as TGI gives it."""


@dataclass(frozen=True)
class PrefillToken:
    """A prompt token (`decoder_input_details`); the first one has no logprob."""

    id: int
    text: str
    logprob: float | None


@dataclass(frozen=True)
class Finished:
    """What the last token carries on top of itself."""

    generated_text: str
    finish_reason: FinishReason
    generated_tokens: int
    seed: int | None
    input_length: int
    tokens: list[Token]
    prefill: list[PrefillToken] = field(default_factory=list)


@dataclass(frozen=True)
class TokenEvent:
    """A token; `finished` is set on the last one."""

    token: Token
    finished: Finished | None = None


@dataclass(frozen=True)
class ErrorEvent:
    """Generation failed; nothing follows."""

    message: str
    error_type: str = "generation"


Event = TokenEvent | ErrorEvent
Sink = Callable[[Event], None]
