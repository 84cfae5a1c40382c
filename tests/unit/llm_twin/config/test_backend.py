"""SERVING_BACKEND and the settings only one backend reads: refused on the other, never ignored."""

import pytest

from llm_twin.config import load_settings
from llm_twin.config.model import DEFAULT_VLLM_VERSION
from llm_twin.config.spec import BACKEND_ONLY, SPEC
from llm_twin.errors import SettingsError
from tests.conftest import REPO

# A valid value other than the default, for each backend-only setting.
NON_DEFAULT = {
    "TGI_VERSION": "3.2.3",
    "TGI_IMAGE_URI": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/tgi:custom",
    "MAX_INPUT_TOKENS": "1024",
    "MAX_BATCH_TOTAL_TOKENS": "16384",
    "MAX_BATCH_PREFILL_TOKENS": "4096",
    "HF_MODEL_QUANTIZE": "awq",
    "MESSAGES_API_ENABLED": "true",
    "VLLM_VERSION": "0.28.0",
    "VLLM_IMAGE_URI": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/vllm:custom",
    "VLLM_GPU_MEMORY_UTILIZATION": "0.8",
    "VLLM_MAX_NUM_SEQS": "64",
}


def test_the_default_backend_is_the_books() -> None:
    s = load_settings({}, dotenv_path=None)
    assert s.model.backend == "tgi"
    assert (s.model.vllm_version, s.model.vllm_image_uri) == (DEFAULT_VLLM_VERSION, "")
    assert (s.vllm.gpu_memory_utilization, s.vllm.max_num_seqs) == (0.9, 256)


def test_vllm_settings_are_read_on_vllm() -> None:
    s = load_settings(
        {"SERVING_BACKEND": "vllm", **{k: NON_DEFAULT[k] for k in NON_DEFAULT if k.startswith("VLLM_")}}, None
    )
    assert s.model.backend == "vllm"
    assert (s.model.vllm_version, s.model.vllm_image_uri) == ("0.28.0", NON_DEFAULT["VLLM_IMAGE_URI"])
    assert (s.vllm.gpu_memory_utilization, s.vllm.max_num_seqs) == (0.8, 64)


def test_every_backend_only_setting_has_a_non_default_example() -> None:
    assert set(NON_DEFAULT) == set(BACKEND_ONLY)
    assert set(BACKEND_ONLY) <= set(SPEC)


@pytest.mark.parametrize("name", sorted(BACKEND_ONLY))
def test_a_setting_of_the_other_backend_is_refused(name: str) -> None:
    owner = BACKEND_ONLY[name]
    other = "tgi" if owner == "vllm" else "vllm"
    load_settings({"SERVING_BACKEND": owner, name: NON_DEFAULT[name]}, None)  # fine where it applies
    with pytest.raises(SettingsError) as error:
        load_settings({"SERVING_BACKEND": other, name: NON_DEFAULT[name]}, None)
    assert str(error.value) == (
        f"{name}={NON_DEFAULT[name]!r} does not apply to SERVING_BACKEND={other}: "
        f"only the {owner} container reads it; remove it, or set SERVING_BACKEND={owner}"
    )


def test_env_example_loads_on_either_backend() -> None:
    """Its TGI and vLLM lines hold the defaults, so switching the backend needs one line."""
    for backend in ("tgi", "vllm"):
        assert load_settings({"SERVING_BACKEND": backend}, REPO / ".env.example").model.backend == backend


def test_tgi_token_rules_do_not_bind_vllm() -> None:
    """vLLM reads MAX_TOTAL_TOKENS alone; TGI's batch total (default 8192) does not cap it."""
    assert (
        load_settings({"SERVING_BACKEND": "vllm", "MAX_TOTAL_TOKENS": "16384"}, None).tokens.max_total_tokens
        == 16384
    )
    with pytest.raises(SettingsError, match="MAX_BATCH_TOTAL_TOKENS=8192 must be >= MAX_TOTAL_TOKENS=16384"):
        load_settings({"MAX_TOTAL_TOKENS": "16384"}, None)


@pytest.mark.parametrize(
    ("name", "raw", "allowed"),
    [
        ("SERVING_BACKEND", "sglang", "allowed: tgi, vllm"),
        ("VLLM_GPU_MEMORY_UTILIZATION", "0", "expected a number > 0 and at most 1"),
        ("VLLM_GPU_MEMORY_UTILIZATION", "1.01", "expected a number > 0 and at most 1"),
        ("VLLM_MAX_NUM_SEQS", "0", "expected a whole number from 1 to 2048"),
        ("VLLM_VERSION", "latest", "expected a version like 0.29.0"),
    ],
)
def test_bad_vllm_values_name_what_is_allowed(name: str, raw: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({"SERVING_BACKEND": "vllm", name: raw}, None)
    assert str(error.value) == f"{name}={raw!r} is invalid: {allowed}"
