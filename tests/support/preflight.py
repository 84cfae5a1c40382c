"""Model configs and preflight inputs for the preflight tests (unit and system)."""

from __future__ import annotations

import dataclasses

from llm_twin.config import Settings
from llm_twin.control.preflight.checks import (
    HubLookup,
    IdentityLookup,
    ModelLookup,
    PreflightInputs,
    QuotaLookup,
    model_facts,
)

LLAMA_70B = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 8192,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "intermediate_size": 28672,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "torch_dtype": "bfloat16",
    "tie_word_embeddings": False,
}
LLAMA_8B = {**LLAMA_70B, "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32}
LLAMA_8B["intermediate_size"] = 14336
QUOTA_CODE_G5_2XL = "L-9614C779"


def inputs(settings: Settings, config: dict | None = None, **changes) -> PreflightInputs:
    facts = model_facts(config, source="test config") if config else None
    base = PreflightInputs(
        settings=settings,
        identity=IdentityLookup(account="123456789012", arn="arn:aws:iam::123456789012:user/deployer"),
        quota=QuotaLookup(code=QUOTA_CODE_G5_2XL, name="ml.g5.2xlarge for endpoint usage", value=2),
        model=ModelLookup(facts=facts),
        hub=HubLookup(),
        is_hub_model=False,
    )
    return dataclasses.replace(base, **changes)
