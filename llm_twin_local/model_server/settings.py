"""Server settings: TGI's launcher knobs, resolved against the model's context length."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from llm_twin.protocol.tgi import MAX_STOP_SEQUENCES

from .dtypes import DtypeChoice
from .engine import EngineConfig
from .errors import SettingsError
from .params import Limits

DEFAULT_MAX_TOTAL_TOKENS = 2048
DEFAULT_MAX_INPUT_TOKENS = 1024
DEFAULT_MAX_BATCH_TOTAL_TOKENS = 65536
DEFAULT_MAX_BATCH_SIZE = 32
DEFAULT_MAX_CONCURRENT_REQUESTS = 128


@dataclass(frozen=True)
class ServerSettings:
    """What the CLI collected (flags, else the container's environment); None means "default"."""

    model_dir: Path
    model_id: str | None = None
    """Reported by `/info`; defaults to the model directory."""
    max_input_tokens: int | None = None
    max_total_tokens: int | None = None
    max_batch_total_tokens: int | None = None
    max_batch_prefill_tokens: int | None = None
    max_batch_size: int | None = None
    max_concurrent_requests: int | None = None
    max_stop_sequences: int | None = None
    messages_api_enabled: bool = False
    dtype: DtypeChoice = "auto"
    """What the weights load in (`dtypes.served_dtype`); "auto" is the checkpoint's own."""

    def resolve(self, max_position_embeddings: int | None) -> tuple[Limits, EngineConfig]:
        """Fill in defaults the way TGI's launcher does, and refuse inconsistent values."""
        context = max_position_embeddings or DEFAULT_MAX_TOTAL_TOKENS
        total = self.max_total_tokens or min(DEFAULT_MAX_TOTAL_TOKENS, context)
        max_input = self.max_input_tokens or min(DEFAULT_MAX_INPUT_TOKENS, total - 1)
        if max_input >= total:
            raise SettingsError(f"MAX_INPUT_TOKENS ({max_input}) must be < MAX_TOTAL_TOKENS ({total})")
        if total > context:
            raise SettingsError(
                f"MAX_TOTAL_TOKENS ({total}) exceeds the model's max_position_embeddings ({context})"
            )
        prefill = self.max_batch_prefill_tokens or max_input + 50
        if prefill < max_input:
            raise SettingsError(
                f"MAX_BATCH_PREFILL_TOKENS ({prefill}) must be >= MAX_INPUT_TOKENS ({max_input})"
            )
        batch_total = self.max_batch_total_tokens or max(DEFAULT_MAX_BATCH_TOTAL_TOKENS, total)
        if batch_total < total:
            raise SettingsError(
                f"MAX_BATCH_TOTAL_TOKENS ({batch_total}) must be >= MAX_TOTAL_TOKENS ({total})"
            )
        batch_size = self.max_batch_size or DEFAULT_MAX_BATCH_SIZE
        concurrent = self.max_concurrent_requests or DEFAULT_MAX_CONCURRENT_REQUESTS
        if batch_size < 1 or concurrent < 1:
            raise SettingsError("MAX_BATCH_SIZE and MAX_CONCURRENT_REQUESTS must be >= 1")
        limits = Limits(
            max_input_tokens=max_input,
            max_total_tokens=total,
            max_stop_sequences=self.max_stop_sequences or MAX_STOP_SEQUENCES,
        )
        engine = EngineConfig(
            max_batch_size=batch_size,
            max_batch_total_tokens=batch_total,
            max_batch_prefill_tokens=prefill,
            max_concurrent_requests=concurrent,
        )
        return limits, engine


def compute_threads() -> int:
    """OMP_NUM_THREADS if set, else one core fewer than the process may use (at least one).

    The event loop needs a core of its own to stream tokens; and on a small, shared
    machine, intra-op threads that wait for each other at every matmul slow a decode
    step down many times over as soon as one of them is descheduled.
    """
    configured = os.environ.get("OMP_NUM_THREADS")
    if configured and configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, len(os.sched_getaffinity(0)) - 1)
