"""A person's sampling options as an endpoint's request parameters, and what those options accept.

One set of options (`--max-new-tokens`, `--temperature`, `--top-p`, `--stop`, `--seed`) reaches
two APIs: TGI's generate, under TGI's names and meanings, and the Messages API, under OpenAI's.
`request_parameters` translates; the `*_OPTION` rules say what the options accept, which is
what the translation can express (the ranges themselves are `llm_twin.protocol.tgi`'s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm_twin.protocol.tgi import CHAT_TOP_P, MAX_NEW_TOKENS, Interval

__all__ = [
    "MAX_NEW_TOKENS_OPTION",
    "TEMPERATURE_OPTION",
    "TOP_P_OPTION",
    "OptionRule",
    "request_parameters",
]


@dataclass(frozen=True)
class OptionRule:
    """What one option accepts, and the usage message when it does not (for click.BadParameter)."""

    interval: Interval
    message: str

    def problem(self, value: float | None) -> str | None:
        """None when `value` is fine (or not given), else the message to show."""
        if value is None or value in self.interval:
            return None
        return self.message


MAX_NEW_TOKENS_OPTION = OptionRule(MAX_NEW_TOKENS.interval, f"must be at least {MAX_NEW_TOKENS.interval.low}")
TEMPERATURE_OPTION = OptionRule(Interval(low=0), "must be >= 0 (0 means greedy decoding)")
"""0 is accepted on both APIs: `request_parameters` turns it into greedy decoding for generate."""
TOP_P_OPTION = OptionRule(CHAT_TOP_P.interval, f"must be {CHAT_TOP_P.interval}")
"""1 is accepted on both APIs: `request_parameters` turns it into no cut (null) for generate."""


def request_parameters(
    *,
    chat: bool,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    stop: tuple[str, ...] = (),
    seed: int | None = None,
) -> dict[str, Any]:
    """Request parameters under TGI's names (generate) or OpenAI's (Messages API); None is "not given"."""
    parameters: dict[str, Any] = {}
    if max_new_tokens is not None:
        parameters["max_tokens" if chat else "max_new_tokens"] = max_new_tokens
    if chat:
        # The Messages API takes OpenAI's meanings: temperature 0 is greedy, top_p 1 no cut.
        parameters.update(
            {k: v for k, v in (("temperature", temperature), ("top_p", top_p)) if v is not None}
        )
    else:
        # TGI's generate refuses temperature 0; null removes the sampling defaults instead.
        if temperature == 0:
            parameters.update(temperature=None, top_p=None, do_sample=False)
        elif temperature is not None:
            parameters["temperature"] = temperature
        if top_p is not None and "do_sample" not in parameters:
            parameters["top_p"] = None if top_p == 1 else top_p
    if stop:
        parameters["stop"] = list(stop)
    if seed is not None:
        parameters["seed"] = seed
    if not chat:
        parameters["details"] = True
    return parameters
