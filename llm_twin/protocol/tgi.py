"""TGI's wire vocabulary, one owner: finish reasons, and the request parameters' names, ranges
and TGI's own messages.

Three readers of the parameter rules, each with its own way of saying no:
- the stand-in (`llm_twin_local.model_server.params`) answers TGI's messages, in TGI's order;
- the gateway (`llm_twin.gateway.payloads`) refuses a body before it costs an invocation, with
  one line built from the same ranges ("top_p must be a number in (0, 1), or null, got 1.0");
- the CLI's option callbacks, through `llm_twin.client.parameters`.

Two routes, two meanings. TGI's generate takes temperature > 0 and top_p in (0, 1); the
Messages API takes OpenAI's: temperature 0 is greedy and top_p 1 is no cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CHAT_TEMPERATURE",
    "CHAT_TOP_P",
    "MAX_NEW_TOKENS",
    "MAX_STOP_SEQUENCES",
    "OPENAI_PENALTY",
    "REPETITION_PENALTY",
    "SEED",
    "TEMPERATURE",
    "TOP_K",
    "TOP_P",
    "FinishReason",
    "Interval",
    "Rule",
    "stop_count_message",
]

FinishReason = Literal["length", "eos_token", "stop_sequence"]
"""Why TGI stopped: `max_new_tokens` reached, the end-of-sequence token, or a stop sequence."""

MAX_STOP_SEQUENCES = 4
"""TGI's launcher default for `--max-stop-sequences`: most entries accepted in `stop`."""


@dataclass(frozen=True)
class Interval:
    """The numbers a parameter accepts; an open end excludes its bound, None has none."""

    low: int | float | None = None
    high: int | float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        # Written as what passes, so NaN (which compares false to everything) never does.
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def __str__(self) -> str:
        """As the messages say it: "> 0", ">= 1", "in (0, 1]", "from 0 to 2"."""
        if self.low is not None and self.high is not None:
            if not (self.low_open or self.high_open):
                return f"from {self.low} to {self.high}"
            return (
                f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"
            )
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high}"
        return "any number"

    def capped(self, high: int | float) -> Interval:
        """The same range with a (closed) upper bound: a caller's own limit on top of TGI's."""
        return Interval(self.low, high, self.low_open, False)


@dataclass(frozen=True)
class Rule:
    """One parameter: its name, the range TGI accepts, and TGI's message when it is out of it."""

    name: str
    interval: Interval
    tgi_message: str = ""
    """TGI's wording (its router's `validation.rs`); empty for OpenAI's ranges TGI does not state."""


TEMPERATURE = Rule("temperature", Interval(low=0, low_open=True), "`temperature` must be strictly positive")
REPETITION_PENALTY = Rule(
    "repetition_penalty", Interval(low=0, low_open=True), "`repetition_penalty` must be strictly positive"
)
TOP_P = Rule("top_p", Interval(0, 1, low_open=True, high_open=True), "`top_p` must be > 0.0 and < 1.0")
"""TGI's generate: 1 is refused (null, not 1, turns the cut off)."""
TOP_K = Rule("top_k", Interval(low=1), "`top_k` must be strictly positive")
MAX_NEW_TOKENS = Rule("max_new_tokens", Interval(low=1), "`max_new_tokens` must be strictly positive")
SEED = Rule("seed", Interval(0, 2**64 - 1), "`seed` must be positive")
"""A u64."""

CHAT_TEMPERATURE = Rule("temperature", Interval(0, 2))
"""OpenAI's range; 0 is greedy."""
CHAT_TOP_P = Rule("top_p", Interval(0, 1, low_open=True), "`top_p` must be > 0.0 and <= 1.0")
"""OpenAI's range; 1 is no cut. The stand-in applies it on generate too, where TGI refuses 1,
and answers with this message of its own: its wire behaviour is pinned by tests until a later
issue aligns it with TGI 3.3."""
OPENAI_PENALTY = Interval(-2, 2)
"""`frequency_penalty` and `presence_penalty` of the Messages API."""


def stop_count_message(limit: int, given: int) -> str:
    """TGI's message for too many stop sequences."""
    return f"`stop` supports up to {limit} stop sequences. Given: {given}"
