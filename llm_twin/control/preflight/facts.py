"""What a checkpoint's config.json says about serving it: parameters, download size, KV cache per token.

Pure: the lookups read config.json (local, S3 or the Hub); this turns it into `ModelFacts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KV_DTYPE_BYTES = 2
"""TGI keeps the KV cache in float16/bfloat16 whatever the weights' dtype."""

DTYPE_BYTES: dict[str, float] = {
    "float32": 4,
    "float": 4,
    "float16": 2,
    "half": 2,
    "bfloat16": 2,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "int8": 1,
}


@dataclass(frozen=True)
class ModelFacts:
    """What config.json (and the weights' sizes, when known) say about the model."""

    source: str
    """Where config.json was read, e.g. 'local checkpoint /models/twin' or 's3://b/models/x/1/'."""
    parameter_count: int
    checkpoint_bytes: int
    """Bytes to download: the index's total_size, the safetensors files, or parameters x dtype."""
    dtype: str
    layers: int
    kv_heads: int
    head_dim: int
    max_position_embeddings: int | None
    attention_heads: int = 0
    """num_attention_heads: vLLM refuses a tensor parallel size that does not divide it."""

    @property
    def kv_bytes_per_token(self) -> int:
        """layers x kv-heads x head-dim x 2 (K and V) x dtype bytes."""
        return self.layers * self.kv_heads * self.head_dim * 2 * KV_DTYPE_BYTES


def _int_field(config: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def dtype_bytes(dtype: str) -> float:
    return DTYPE_BYTES.get(dtype, 2)


def model_facts(
    config: Mapping[str, Any],
    *,
    source: str,
    index_total_size: int | None = None,
    weights_bytes: int | None = None,
) -> ModelFacts:
    """Facts from a decoder's config.json; ValueError names the field that is missing.

    The parameter count comes from the index's `total_size` when there is one (exact);
    otherwise it is computed from the shapes of a Llama-style decoder (embeddings, attention
    with grouped KV heads, gated MLP, experts when the config has them).
    """
    text = config.get("text_config")
    if isinstance(text, Mapping) and "hidden_size" not in config:
        config = {**text, **{k: v for k, v in config.items() if k in ("torch_dtype", "dtype")}}
    hidden = _int_field(config, "hidden_size", "n_embd", "d_model")
    layers = _int_field(config, "num_hidden_layers", "n_layer", "num_layers")
    heads = _int_field(config, "num_attention_heads", "n_head")
    if hidden is None or layers is None or heads is None:
        missing = [
            n
            for n, v in (
                ("hidden_size", hidden),
                ("num_hidden_layers", layers),
                ("num_attention_heads", heads),
            )
            if v is None
        ]
        raise ValueError(f"config.json has no positive {', '.join(missing)}")
    kv_heads = _int_field(config, "num_key_value_heads") or heads
    head_dim = _int_field(config, "head_dim") or hidden // heads
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "bfloat16")
    if index_total_size:
        parameters = int(index_total_size / dtype_bytes(dtype))
    else:
        vocab = _int_field(config, "vocab_size") or 32000
        intermediate = _int_field(config, "intermediate_size", "n_inner") or 4 * hidden
        experts = _int_field(config, "num_local_experts", "num_experts") or 1
        attention = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
        mlp = 3 * hidden * intermediate * experts + (hidden * experts if experts > 1 else 0)
        embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
        parameters = embeddings + layers * (attention + mlp + 2 * hidden) + hidden
    checkpoint = index_total_size or weights_bytes or int(parameters * dtype_bytes(dtype))
    return ModelFacts(
        source=source,
        parameter_count=parameters,
        checkpoint_bytes=checkpoint,
        dtype=dtype,
        layers=layers,
        kv_heads=kv_heads,
        head_dim=head_dim,
        max_position_embeddings=_int_field(config, "max_position_embeddings", "n_positions", "max_seq_len"),
        attention_heads=heads,
    )
