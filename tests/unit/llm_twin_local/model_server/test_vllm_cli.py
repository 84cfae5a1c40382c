"""`python -m llm_twin_local.model_server --api vllm`: vLLM's start-up refusals end the process with 2.

As vLLM refuses a max_model_len above the model's own, and its argument parser an option it
does not know, so a container whose SM_VLLM_* cannot be served never passes /ping.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "llm_twin_local.model_server", "--api", "vllm", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=100, stdin=subprocess.DEVNULL)


def test_a_max_model_len_above_the_models_is_refused(tiny_model: Path) -> None:
    result = run("--model-dir", str(tiny_model), "--port", "9", "--max-model-len", "99999")
    assert result.returncode == 2
    assert (
        "SettingsError: User-specified max_model_len (99999) is greater than the derived max_model_len"
        in (result.stderr)
    )


def test_an_unknown_flag_is_a_usage_error(tiny_model: Path) -> None:
    result = run("--model-dir", str(tiny_model), "--no-such-option", "1")
    assert result.returncode == 2 and "No such option '--no-such-option'" in result.stderr
