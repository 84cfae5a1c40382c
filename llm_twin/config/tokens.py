"""TGI's token-limit rules, owned here once: the settings, preflight and the tests of
Terraform's validation all read them from this table.

TGI's launcher refuses to start when one of them is broken, which on SageMaker costs
the whole start-up timeout; so llm-twin checks them before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llm_twin.config.model import TokenLimits


@dataclass(frozen=True)
class TokenRule:
    """One relation between two limits, with the line that names it when broken."""

    holds: Callable[[TokenLimits], bool]
    message: Callable[[TokenLimits], str]
    fix: Callable[[TokenLimits], str]
    terraform_condition: str
    """The same rule in `terraform/modules/sagemaker_endpoint`'s validation of `token_limits`."""


TOKEN_RULES: tuple[TokenRule, ...] = (
    TokenRule(
        lambda t: t.max_total_tokens > t.max_input_tokens,
        lambda t: (
            f"MAX_TOTAL_TOKENS={t.max_total_tokens} must be greater than MAX_INPUT_TOKENS={t.max_input_tokens}"
        ),
        lambda t: "lower MAX_INPUT_TOKENS below MAX_TOTAL_TOKENS",
        "var.token_limits.max_total_tokens > var.token_limits.max_input_tokens",
    ),
    TokenRule(
        lambda t: t.max_batch_prefill_tokens >= t.max_input_tokens,
        lambda t: (
            f"MAX_BATCH_PREFILL_TOKENS={t.max_batch_prefill_tokens} must be >= "
            f"MAX_INPUT_TOKENS={t.max_input_tokens}"
        ),
        lambda t: f"set MAX_BATCH_PREFILL_TOKENS >= {t.max_input_tokens}",
        "var.token_limits.max_batch_prefill_tokens >= var.token_limits.max_input_tokens",
    ),
    TokenRule(
        lambda t: t.max_batch_total_tokens >= t.max_total_tokens,
        lambda t: (
            f"MAX_BATCH_TOTAL_TOKENS={t.max_batch_total_tokens} must be >= "
            f"MAX_TOTAL_TOKENS={t.max_total_tokens}"
        ),
        lambda t: f"set MAX_BATCH_TOTAL_TOKENS >= {t.max_total_tokens}",
        "var.token_limits.max_batch_total_tokens >= var.token_limits.max_total_tokens",
    ),
)


def broken_rules(limits: TokenLimits) -> list[TokenRule]:
    """The rules `limits` breaks, in the order they are reported."""
    return [rule for rule in TOKEN_RULES if not rule.holds(limits)]


def context_problem(limits: TokenLimits, max_position_embeddings: int | None) -> str | None:
    """Why the model's context cannot hold MAX_TOTAL_TOKENS; None when it can (or is unknown)."""
    if max_position_embeddings is None or limits.max_total_tokens <= max_position_embeddings:
        return None
    return f"MAX_TOTAL_TOKENS={limits.max_total_tokens} > the model's max_position_embeddings={max_position_embeddings}"
