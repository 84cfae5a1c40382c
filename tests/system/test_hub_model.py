"""The local target serves a real Hub model: `llm-twin apply` downloads it, `infer` streams it.

The Hub is `tests/support/hub_server.py` on loopback (HF_ENDPOINT); the model is a small
random Llama with a real tokenizer, built here. Real subprocesses throughout: `llm-twin
apply` starts the emulator (which inherits HF_ENDPOINT and HF_HUB_CACHE, as it would a
user's), Terraform renders LOCAL_MODEL_ID into the container, the runtime downloads with
huggingface_hub while apply prints the bytes, and `llm-twin infer --temperature 0` must
print exactly what transformers' greedy `generate` gives for the same checkpoint and prompt.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from llm_twin_local.model_server.checkpoint import create_test_checkpoint
from tests.conftest import client, private_target
from tests.support.hub_server import FakeHub, HubRepo

pytestmark = pytest.mark.stack

REPO = "test-org/small-llama"
PROMPT = "Engineers deploy services to the cloud, and"
NEW_TOKENS = 24


def _cli(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("llm-twin")), "--env-file", "/nonexistent/.env", *args]


def _greedy_reference(model_dir: Path) -> str:
    """transformers' own greedy generation, decoded as TGI's generated_text (special tokens skipped)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompt_ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(prompt_ids, do_sample=False, max_new_tokens=NEW_TOKENS)
    text: str = tokenizer.decode(out[0, prompt_ids.shape[1] :], skip_special_tokens=True)
    return text


def test_apply_downloads_the_local_model_and_infer_streams_what_transformers_generates(
    tmp_path: Path,
) -> None:
    model_dir = create_test_checkpoint(tmp_path / "small-llama", max_position_embeddings=8192, seed=5)
    weights = (model_dir / "model.safetensors").stat().st_size
    cache = tmp_path / "hf-cache"
    with (
        FakeHub({REPO: HubRepo({"main": model_dir, "v1": model_dir})}) as hub,
        private_target(
            tmp_path / "state", LOCAL_MODEL="auto", LOCAL_MODEL_ID=REPO, HF_MODEL_REVISION="v1"
        ) as env,
    ):
        process_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))},
            **env,
            "HF_ENDPOINT": hub.url,
            "HF_HUB_CACHE": str(cache),
            "HF_HUB_DISABLE_TELEMETRY": "1",
        }
        # The weights stop a third of the way until apply has shown that much: the progress is real.
        release = threading.Event()
        hub.cut("model.safetensors", after_bytes=weights // 3, hold=release)
        apply = subprocess.Popen(
            _cli("apply"), env=process_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(
            target=lambda: [lines.put(line) for line in apply.stdout or []], daemon=True
        )
        reader.start()
        shown = []
        try:
            while not any(line.startswith(f"» downloading {REPO}@") for line in shown):
                shown.append(lines.get(timeout=300))
        finally:
            release.set()
        stderr = apply.stderr.read() if apply.stderr else ""
        assert apply.wait(timeout=600) == 0, stderr
        reader.join(timeout=10)
        shown += [lines.get() for _ in range(lines.qsize())]

        commit = hub.commit(REPO, "v1")
        progress = [line for line in shown if line.startswith(f"» downloading {REPO}@{commit[:12]}: ")]
        assert progress, shown
        assert "stand-in" not in stderr
        sagemaker = client(env["LOCAL_AWS_PORT"], "sagemaker")
        endpoint = sagemaker.describe_endpoint(EndpointName="llm-twin-endpoint")
        assert endpoint["EndpointStatus"] == "InService"
        image = endpoint["ProductionVariants"][0]["DeployedImages"][0]["ResolvedImage"]
        assert image == f"llm-twin-model-server:{REPO}@{commit}"
        model = sagemaker.describe_model(ModelName=sagemaker.list_models()["Models"][0]["ModelName"])
        environment = model["PrimaryContainer"]["Environment"]
        assert environment["HF_MODEL_REVISION"] == "v1" and environment["LLM_TWIN_LOCAL_MODEL_ID"] == REPO
        assert environment["HF_MODEL_ID"] == "mlabonne/TwinLlama-3.1-8B-DPO"  # the cloud's model stays
        resumed = [r.range for r in hub.requests("cdn") if r.method == "GET"]
        assert resumed[-1] == f"bytes={weights // 3}-"  # the stalled body was cut and resumed

        infer = subprocess.run(
            _cli("infer", "--temperature", "0", "--max-new-tokens", str(NEW_TOKENS), PROMPT),
            env=process_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert infer.returncode == 0, infer.stderr
    assert infer.stderr == ""  # no stand-in notice: the model itself answered
    assert infer.stdout == _greedy_reference(model_dir) + "\n"
