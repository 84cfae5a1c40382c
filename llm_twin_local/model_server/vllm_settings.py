"""Server settings in vLLM mode: vLLM's engine arguments, resolved against the model's context length.

`--max-model-len` defaults to the model's own (`max_position_embeddings`), and may not exceed
it, as vLLM refuses at start-up; `--max-num-seqs` is the batch size. vLLM queues without
limit, so the engine never refuses a request as overloaded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .dtypes import DtypeChoice
from .engine import EngineConfig
from .errors import SettingsError

DEFAULT_MAX_NUM_SEQS = 256
"""vLLM's `--max-num-seqs` before its V1 engine chose by hardware (research.md C1)."""
DEFAULT_MAX_MODEL_LEN = 2048
"""For a config that names no context length."""
UNLIMITED_QUEUE = 1_000_000
"""Requests waiting or running: vLLM has no `max_concurrent_requests`, it queues them all."""


@dataclass(frozen=True)
class VllmSettings:
    """What the CLI collected for `--api vllm`; None means vLLM's default."""

    model_dir: Path
    model: str | None = None
    """`--model` as the container gave it (a Hub id, or /opt/ml/model): `root` on /v1/models."""
    served_model_name: str | None = None
    """What answers' `model` says, and the only `model` a request may name; else `model`."""
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    dtype: DtypeChoice = "auto"

    @property
    def name(self) -> str:
        return self.served_model_name or self.model or str(self.model_dir)

    def resolve(self, max_position_embeddings: int | None) -> tuple[int, EngineConfig]:
        """vLLM's start-up checks: the max model length the model allows, a batch of at least one."""
        derived = max_position_embeddings or DEFAULT_MAX_MODEL_LEN
        length = self.max_model_len or derived
        if length > derived:
            raise SettingsError(
                f"User-specified max_model_len ({length}) is greater than the derived max_model_len "
                f"(max_position_embeddings={derived} in model's config.json)."
            )
        seqs = self.max_num_seqs or DEFAULT_MAX_NUM_SEQS
        engine = EngineConfig(
            max_batch_size=seqs,
            max_batch_total_tokens=length * seqs,
            max_batch_prefill_tokens=length,
            max_concurrent_requests=UNLIMITED_QUEUE,
        )
        return length, engine
