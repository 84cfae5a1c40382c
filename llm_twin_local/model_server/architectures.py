"""The architectures this server runs exactly, and the check that refuses all others.

"Exactly" means: for every entry, tests/unit/llm_twin_local/model_server/test_reference.py builds a random
checkpoint and proves the server's greedy tokens and logprobs equal transformers'
`generate`, alone and batched, past any sliding window. That test imports this table,
so an entry cannot be added without its proof. Anything else is refused at load with a
`SettingsError`: a model served with wrong tokens is worse than one not served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import SettingsError

if TYPE_CHECKING:
    from transformers import PretrainedConfig


@dataclass(frozen=True)
class Architecture:
    """One supported `model_type` of config.json."""

    model_type: str
    causal_lm: str
    """The transformers class that `AutoModelForCausalLM` loads for it (config.json `architectures`)."""


SUPPORTED_ARCHITECTURES: dict[str, Architecture] = {
    arch.model_type: arch
    for arch in (
        Architecture("llama", "LlamaForCausalLM"),
        Architecture("qwen2", "Qwen2ForCausalLM"),
        Architecture("qwen3", "Qwen3ForCausalLM"),
        Architecture("mistral", "MistralForCausalLM"),
        Architecture("phi3", "Phi3ForCausalLM"),
        Architecture("gemma", "GemmaForCausalLM"),
        Architecture("gemma2", "Gemma2ForCausalLM"),
        Architecture("gemma3_text", "Gemma3ForCausalLM"),
        Architecture("gpt2", "GPT2LMHeadModel"),
        Architecture("gpt_neox", "GPTNeoXForCausalLM"),
        Architecture("olmo2", "Olmo2ForCausalLM"),
    )
}

# RoPE variants the reference test proves. "longrope" is not one: it switches its
# frequencies when the largest position in the forward pass passes the original context,
# and in a batch that position is another request's, so a short request batched with a
# long one would get other tokens. "dynamic" rescales only past max_position_embeddings,
# which the server's limits never let a sequence reach.
EXACT_ROPE_TYPES = frozenset({"default", "linear", "dynamic", "llama3", "yarn"})


def _supported_names() -> str:
    return ", ".join(sorted(SUPPORTED_ARCHITECTURES))


def _rope_types(config: PretrainedConfig) -> set[str]:
    params = getattr(config, "rope_parameters", None) or {}
    # Per-layer-type RoPE (Gemma3) nests one parameter dict per layer type.
    nested = [p for p in params.values() if isinstance(p, dict)]
    return {str(p.get("rope_type", "default")) for p in (nested or [params])}


def check_architecture(config: PretrainedConfig) -> Architecture:
    """The entry for `config` (a transformers config), or a `SettingsError` saying why not."""
    model_type = getattr(config, "model_type", None)
    declared = list(getattr(config, "architectures", None) or [])
    arch = SUPPORTED_ARCHITECTURES.get(str(model_type))
    if arch is None:
        named = f"model_type {model_type!r}" + (f" ({', '.join(declared)})" if declared else "")
        raise SettingsError(
            f"unsupported architecture: {named}; this server only runs model types proved "
            f"token-for-token against transformers: {_supported_names()}"
        )
    if declared and arch.causal_lm not in declared:
        raise SettingsError(
            f"config.json declares architectures {declared} for model_type {model_type!r}; "
            f"this server only runs {arch.causal_lm} (a causal LM head)"
        )
    inexact = sorted(_rope_types(config) - EXACT_ROPE_TYPES)
    if inexact:
        raise SettingsError(
            f"unsupported RoPE scaling {', '.join(inexact)} in {model_type!r}: it changes with the batch, "
            f"so batched output would differ; supported: {', '.join(sorted(EXACT_ROPE_TYPES))}"
        )
    if getattr(config, "use_bidirectional_attention", False):
        raise SettingsError(f"{model_type!r} with use_bidirectional_attention is not a causal LM; refused")
    return arch
