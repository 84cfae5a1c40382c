"""--dtype: which dtype the weights load in, by the checkpoint's config.json or the caller's choice.

The local runtime sizes models by the same rule before it starts a server (runtime/memory.py),
so the rule is checked here on what transformers actually loads.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from llm_twin_local.model_server.checkpoint import EOS_ID, build_tokenizer
from llm_twin_local.model_server.dtypes import checkpoint_dtype, config_dtype, served_dtype
from llm_twin_local.model_server.engine import Engine, EngineConfig, load_model
from tests.support.engine import generate, submit, wait

pytestmark = pytest.mark.timeout(120)

SHAPE = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}


def _checkpoint(path: Path, dtype: torch.dtype | None) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=300, **SHAPE))
    if dtype is not None:
        model = model.to(dtype)
    model.save_pretrained(path)
    if dtype is None:  # a config.json naming no dtype at all, as old checkpoints have
        config = (path / "config.json").read_text()
        (path / "config.json").write_text(config.replace('"dtype": "float32",', ""))
    build_tokenizer(300).save_pretrained(path)
    return path


@pytest.mark.parametrize(
    ("stored", "choice", "loaded"),
    [
        (torch.bfloat16, "auto", torch.bfloat16),
        (torch.float16, "auto", torch.float32),
        (torch.float32, "auto", torch.float32),
        (None, "auto", torch.float32),
        (torch.float32, "bfloat16", torch.bfloat16),
        (torch.bfloat16, "float32", torch.float32),
    ],
    ids=["bf16-auto", "f16-widens", "f32-auto", "unnamed-auto", "f32-as-bf16", "bf16-as-f32"],
)
def test_the_weights_load_in_the_rule_s_dtype(
    tmp_path: Path, stored: torch.dtype | None, choice: Any, loaded: torch.dtype
) -> None:
    path = _checkpoint(tmp_path, stored)
    named = checkpoint_dtype(path)
    assert named == (str(stored).removeprefix("torch.") if stored is not None else None)
    model = load_model(path, dtype=choice)
    assert model.dtype == str(loaded) == f"torch.{served_dtype(choice, named)}"


def test_config_dtype_reads_both_spellings() -> None:
    assert (
        config_dtype({"dtype": "bfloat16"}) == config_dtype({"torch_dtype": "torch.bfloat16"}) == "bfloat16"
    )
    assert config_dtype({"dtype": None}) is None and config_dtype({"dtype": 16}) is None


def test_a_bfloat16_engine_decodes_as_transformers_does_in_bfloat16(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    path = _checkpoint(tmp_path, torch.bfloat16)
    loaded = load_model(path)
    engine = Engine(loaded, EngineConfig())
    engine.start()
    try:
        ids = loaded.encode("The quick brown fox")
        served = wait(submit(engine, ids, 12)).ids
    finally:
        engine.stop()
    reference = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).eval()
    assert served == generate(reference, ids, 12, EOS_ID)[0]


def test_a_dtype_the_server_does_not_serve_is_refused_naming_the_choices(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "llm_twin_local.model_server",
            "--model-dir",
            str(tmp_path),
            "--dtype",
            "float16",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "'float16' is not one of 'auto', 'bfloat16', 'float32'" in run.stderr
