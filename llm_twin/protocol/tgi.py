"""TGI 3.3's wire rules, one owner: parameter ranges, the order TGI checks them in, its messages,
its error types and statuses, and finish reasons (research.md A2-A4).

Readers, each with its own way of saying no:
- the stand-in (`llm_twin_local.model_server.params`) answers TGI's messages, in TGI's order
  (`parameter_problem`, `truncate_problem`, `length_problem`), prefixed `Input validation error: `;
- the gateway (`llm_twin.gateway`) and the CLI (`llm_twin.client.parameters`) build their own
  one-line refusals from the same ranges.

Two routes, two meanings, one range for top_p. TGI's generate takes temperature > 0; the
Messages API maps temperature 0 to greedy. Both pass top_p to the same check, so TGI refuses
top_p = 1 on both routes (OpenAI's own API takes it: that range is `CHAT_TOP_P`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CHAT_TEMPERATURE",
    "CHAT_TOP_P",
    "DEFAULT_GENERATION_LENGTH",
    "DEFAULT_TGI_VERSION",
    "ERROR_STATUS",
    "FREQUENCY_PENALTY",
    "INPUT_VALIDATION",
    "MAX_BEST_OF",
    "MAX_NEW_TOKENS",
    "MAX_STOP_SEQUENCES",
    "MAX_TOP_N_TOKENS",
    "OPENAI_PENALTY",
    "REPETITION_PENALTY",
    "SEED",
    "TEMPERATURE",
    "TOP_K",
    "TOP_P",
    "TYPICAL_P",
    "ErrorType",
    "FinishReason",
    "Interval",
    "Limits",
    "Rule",
    "Sampling",
    "best_of_problem",
    "chat_finish_reason",
    "chat_stream_error",
    "error_body",
    "granted_new_tokens",
    "length_problem",
    "parameter_problem",
    "parse_version",
    "stop_count_message",
    "stream_problem",
    "truncate_problem",
]

FinishReason = Literal["length", "eos_token", "stop_sequence"]
"""Why TGI stopped: `max_new_tokens` reached, the end-of-sequence token, or a stop sequence."""

DEFAULT_TGI_VERSION = "3.3.6"
"""The TGI release the stand-in answers as, unless told the endpoint's (TGI_VERSION)."""
MAX_STOP_SEQUENCES = 4
"""TGI's launcher default for `--max-stop-sequences`: most entries accepted in `stop`."""
MAX_TOP_N_TOKENS = 5
"""TGI's launcher default for `--max-top-n-tokens`."""
MAX_BEST_OF = 2
"""TGI's launcher default for `--max-best-of` (the stand-in is launched with 1: see `Limits`)."""
DEFAULT_GENERATION_LENGTH = 1024
"""TGI 3.x's chunk: the default `max_new_tokens`, and the most one validation pass grants."""

INPUT_VALIDATION = "Input validation error: "
"""What TGI puts before every `ValidationError` message (`InferError::ValidationError`)."""


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
FREQUENCY_PENALTY = Rule(
    "frequency_penalty", Interval(-2, 2), "`frequency_penalty` must be >= -2.0 and <= 2.0"
)
TOP_P = Rule("top_p", Interval(0, 1, low_open=True, high_open=True), "`top_p` must be > 0.0 and < 1.0")
"""Every TGI route: 1 is refused (null, not 1, turns the cut off)."""
TYPICAL_P = Rule(
    "typical_p", Interval(0, 1, low_open=True, high_open=True), "`typical_p` must be > 0.0 and < 1.0"
)
TOP_K = Rule("top_k", Interval(low=1), "`top_k` must be strictly positive")
MAX_NEW_TOKENS = Rule("max_new_tokens", Interval(low=1), "`max_new_tokens` must be strictly positive")
SEED = Rule("seed", Interval(0, 2**64 - 1), "`seed` must be positive")
"""A u64 (a value outside it fails TGI's deserialization, before validation)."""

CHAT_TEMPERATURE = Rule("temperature", Interval(0, 2))
"""OpenAI's range; 0 is greedy."""
CHAT_TOP_P = Rule("top_p", Interval(0, 1, low_open=True), "`top_p` must be > 0.0 and <= 1.0")
"""OpenAI's range, where 1 is no cut. TGI's Messages API does not take it: it checks `TOP_P`."""
OPENAI_PENALTY = Interval(-2, 2)
"""`frequency_penalty` and `presence_penalty` of the Messages API."""


@dataclass(frozen=True)
class Limits:
    """A TGI server's launcher limits (the arguments of the same names), as its /info reports them."""

    max_input_tokens: int
    """Longest accepted prompt, in tokens."""
    max_total_tokens: int
    """Longest accepted prompt + `max_new_tokens`."""
    max_stop_sequences: int = MAX_STOP_SEQUENCES
    """Most entries accepted in `stop`."""
    max_top_n_tokens: int = MAX_TOP_N_TOKENS
    """Most alternatives per token in `top_tokens`."""
    max_best_of: int = 1
    """`best_of` above 1 runs several generations; the stand-in is launched with `--max-best-of 1`."""


@dataclass(frozen=True)
class Sampling:
    """The parameters TGI checks before tokenizing, as the request gave them (None: not given)."""

    best_of: int | None = None
    do_sample: bool = False
    temperature: float | None = None
    repetition_penalty: float | None = None
    frequency_penalty: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    typical_p: float | None = None
    max_new_tokens: int | None = None
    stop_count: int = 0
    seed: int | None = None
    top_n_tokens: int | None = None

    @property
    def sampling(self) -> bool:
        """TGI's validation: `do_sample` or any warper given at all (for the `best_of` rule)."""
        given = (self.temperature, self.top_k, self.top_p, self.typical_p)
        return self.do_sample or any(value is not None for value in given)


def stop_count_message(limit: int, given: int) -> str:
    """TGI's message for too many stop sequences."""
    return f"`stop` supports up to {limit} stop sequences. Given: {given}"


def parameter_problem(params: Sampling, limits: Limits) -> str | None:
    """TGI's first failing check before tokenizing (validation.rs `validate`, in its order), else None.

    The message is TGI's, without the `Input validation error: ` TGI puts before it.
    """
    best_of = 1 if params.best_of is None else params.best_of
    if best_of > 1 and not params.sampling:
        return "you must use sampling when `best_of` is > 1"
    ranged: tuple[tuple[Rule, float | None], ...] = (
        (TEMPERATURE, params.temperature),
        (REPETITION_PENALTY, params.repetition_penalty),
        (FREQUENCY_PENALTY, params.frequency_penalty),
        (TOP_P, params.top_p),
        (TYPICAL_P, params.typical_p),
        (TOP_K, params.top_k),
    )
    for rule, value in ranged:
        if value is not None and value not in rule.interval:
            return rule.tgi_message
    if params.max_new_tokens == 0:
        return MAX_NEW_TOKENS.tgi_message
    if params.stop_count > limits.max_stop_sequences:
        return stop_count_message(limits.max_stop_sequences, params.stop_count)
    if params.seed is not None and best_of > 1:
        return "`seed` must not be set when `best_of` > 1"
    top_n = params.top_n_tokens or 0
    if top_n > limits.max_top_n_tokens:
        return f"`top_n_tokens` must be >= 0 and <= {limits.max_top_n_tokens}. Given: {top_n}"
    return None


def stream_problem(*, best_of: int | None, decoder_input_details: bool) -> str | None:
    """What TGI refuses on a stream before validating (`generate_stream_internal`), else None."""
    if best_of is not None and best_of != 1:
        return "`best_of` != 1 is not supported when streaming tokens"
    if decoder_input_details:
        return "`decoder_input_details` == true is not supported when streaming tokens"
    return None


def best_of_problem(best_of: int | None, limits: Limits) -> str | None:
    """TGI's last check, made where it runs several generations (`generate_best_of`), else None."""
    if best_of is None or best_of == 1:
        return None
    if limits.max_best_of == 1:
        return "`best_of` != 1 is not allowed for this endpoint"
    if best_of < 1 or best_of > limits.max_best_of:
        return f"`best_of` must be > 0 and <= {limits.max_best_of}. Given: {best_of}"
    return None


def truncate_problem(truncate: int | None, limits: Limits) -> str | None:
    """TGI refuses 0 and more than max_input_tokens (checked before tokenizing), else None."""
    if truncate is not None and (truncate == 0 or truncate > limits.max_input_tokens):
        return (
            f"`truncate` must be strictly positive and less than {limits.max_input_tokens}. Given: {truncate}"
        )
    return None


def parse_version(version: str) -> tuple[int, int, int]:
    """ "3.3.6" as (3, 3, 6); ValueError for anything else."""
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(f"expected a TGI version like {DEFAULT_TGI_VERSION}, got {version!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _chunked(version: str) -> bool:
    """TGI 3.x checks one chunk of at most 1024 new tokens, and re-queues for the rest."""
    return parse_version(version) >= (3, 0, 0)


def length_problem(
    input_length: int, max_new_tokens: int | None, limits: Limits, *, version: str = DEFAULT_TGI_VERSION
) -> str | None:
    """TGI's length checks once tokenized (and truncated): the total first, then the input, else None.

    TGI 3.x counts at most one chunk (1024) of the requested new tokens against
    `max_total_tokens`: a larger request is accepted when one chunk fits (`granted_new_tokens`
    says how many it then gets). TGI 2.x counted them all.
    """
    room = limits.max_total_tokens - input_length
    if max_new_tokens is None:
        counted = min(max(room, 0), DEFAULT_GENERATION_LENGTH) if _chunked(version) else max(room, 0)
    elif _chunked(version):
        counted = min(max_new_tokens, DEFAULT_GENERATION_LENGTH)
    else:
        counted = max_new_tokens
    if input_length + counted > limits.max_total_tokens:
        return (
            f"`inputs` tokens + `max_new_tokens` must be <= {limits.max_total_tokens}. "
            f"Given: {input_length} `inputs` tokens and {counted} `max_new_tokens`"
        )
    if input_length > limits.max_input_tokens:
        return f"`inputs` must have less than {limits.max_input_tokens} tokens. Given: {input_length}"
    return None


def granted_new_tokens(
    input_length: int, max_new_tokens: int | None, limits: Limits, *, version: str = DEFAULT_TGI_VERSION
) -> int:
    """How many tokens TGI generates at most for a request that passed `length_problem`.

    Unset: 3.x's default chunk, min(room, 1024); 2.x filled the room. Set, on 3.x: TGI
    generates a chunk of at most 1024, then re-queues the grown input for the next chunk
    while tokens remain; the re-queued request passes the same length checks, and when it
    fails them the generation ends with finish_reason "length" (research.md A2; the exact
    release that brought the re-queue is uncertain, assumed in every 3.x).
    """
    room = max(limits.max_total_tokens - input_length, 0)
    if max_new_tokens is None:
        return min(room, DEFAULT_GENERATION_LENGTH) if _chunked(version) else room
    if not _chunked(version):
        return max_new_tokens
    wanted = min(max_new_tokens, room)
    granted = min(wanted, DEFAULT_GENERATION_LENGTH)
    while granted < wanted:
        chunk = min(wanted - granted, DEFAULT_GENERATION_LENGTH)
        if length_problem(input_length + granted, chunk, limits, version=version) is not None:
            break
        granted += chunk
    return granted


def chat_finish_reason(reason: FinishReason) -> str:
    """The Messages API's `finish_reason`: "eos_token" reads "stop", the others keep TGI's names
    (`FinishReason::format(true)`: a stop sequence is "stop_sequence", not OpenAI's "stop")."""
    return "stop" if reason == "eos_token" else reason


ErrorType = Literal[
    "validation",
    "generation",
    "overloaded",
    "incomplete_generation",
    "incomplete_generation_stream",
    "template_error",
    "missing_template_variable",
    "tool_error",
    "stream_serialization_error",
]
"""`error_type` of TGI's `{"error", "error_type"}` answers (`InferError::error_type`)."""

ERROR_STATUS: dict[ErrorType, int] = {
    "validation": 422,
    "generation": 424,
    "overloaded": 429,
    "incomplete_generation": 500,
    "incomplete_generation_stream": 500,
    "template_error": 422,
    "missing_template_variable": 422,
    "tool_error": 422,
    "stream_serialization_error": 500,
}
"""The HTTP status TGI answers each error type with, outside a stream."""


def error_body(message: str, error_type: str) -> dict[str, str]:
    """TGI's error answer: the HTTP body outside a stream, the event of /generate_stream."""
    return {"error": message, "error_type": error_type}


def chat_stream_error(message: str) -> dict[str, dict[str, str | int]]:
    """An error inside a Messages API (or /v1/completions) stream: OpenAI's shape, and always 422
    whatever the error (`InferError::into_openai_event`); `data: [DONE]` follows it."""
    return {"error": {"message": message, "http_status_code": 422}}
