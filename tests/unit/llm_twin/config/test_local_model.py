"""The local model's settings: LOCAL_MODEL_ID (unset, empty, set), LOCAL_MODEL, LOCAL_DTYPE, HF_MODEL_REVISION."""

from __future__ import annotations

import pytest

from llm_twin.config import load_settings
from llm_twin.config.model import DEFAULT_LOCAL_MODEL_ID
from llm_twin.errors import SettingsError


def test_unset_local_model_id_is_the_small_default_and_empty_is_hf_model_id() -> None:
    assert load_settings({}, dotenv_path=None).local.served_model_id == DEFAULT_LOCAL_MODEL_ID
    assert load_settings({"LOCAL_MODEL_ID": ""}, dotenv_path=None).local.served_model_id == ""
    assert load_settings({"LOCAL_MODEL_ID": " "}, dotenv_path=None).local.served_model_id == ""


def test_an_empty_local_model_id_in_the_env_file_is_kept_empty(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LOCAL_MODEL_ID=\n")
    assert load_settings({}, dotenv_path=env_file).local.served_model_id == ""


@pytest.mark.parametrize("value", ["me/my-twin", "/checkpoints/twin-ft"])
def test_local_model_id_takes_a_hub_id_or_an_absolute_path(value: str) -> None:
    assert load_settings({"LOCAL_MODEL_ID": value}, dotenv_path=None).local.served_model_id == value


@pytest.mark.parametrize(
    "revision", ["main", "v1.0", "refs/pr/12", "release_2024-01", "0123456789abcdef0123456789abcdef01234567"]
)
def test_a_revision_is_a_branch_a_tag_or_a_commit(revision: str) -> None:
    assert load_settings({"HF_MODEL_REVISION": revision}, dotenv_path=None).model.revision == revision


@pytest.mark.parametrize(
    "revision", ["a..b", "-x", "v1/", "v1.", "x.lock", "a//b", "a/.hidden", "a b", "tag\n", "ü"]
)
def test_a_revision_git_or_the_hub_would_refuse_is_named(revision: str) -> None:
    with pytest.raises(
        SettingsError, match=r"^HF_MODEL_REVISION=.* is invalid: expected a 40-hex commit sha"
    ):
        load_settings({"HF_MODEL_REVISION": revision}, dotenv_path=None)


def test_local_model_and_dtype_take_their_choices_only() -> None:
    s = load_settings({"LOCAL_MODEL": "stand-in", "LOCAL_DTYPE": "bfloat16"}, dotenv_path=None)
    assert (s.local.model, s.local.dtype) == ("stand-in", "bfloat16")
    with pytest.raises(
        SettingsError, match="LOCAL_DTYPE='fp16' is invalid: allowed: auto, bfloat16, float32"
    ):
        load_settings({"LOCAL_DTYPE": "fp16"}, dotenv_path=None)
