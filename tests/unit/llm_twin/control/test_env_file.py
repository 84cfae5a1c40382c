"""Writing settings into `.env`: python-dotenv, the reader, is the referee of what was written."""

from pathlib import Path

import pytest
from dotenv import dotenv_values

from llm_twin.control.env_file import set_env_values
from llm_twin.errors import SettingsError


def test_values_are_replaced_in_place_and_others_kept(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nHF_MODEL_ID=old/model\nTARGET=local\n")
    set_env_values(env_file, {"HF_MODEL_ID": "/opt/ml/model", "MODEL_DATA_S3_URI": "s3://b/models/x/v1/"})
    assert env_file.read_text().startswith("# mine\nHF_MODEL_ID=/opt/ml/model\nTARGET=local\n")
    assert dotenv_values(env_file) == {
        "HF_MODEL_ID": "/opt/ml/model",
        "TARGET": "local",
        "MODEL_DATA_S3_URI": "s3://b/models/x/v1/",
    }


@pytest.mark.parametrize("value", ["s3://b/models/x/v1\nTARGET=aws", "a\rb", "x\x00y"])
def test_a_value_that_would_add_a_line_is_refused_and_nothing_is_written(tmp_path: Path, value: str) -> None:
    """A line break in a value would plant a second setting in `.env` (here TARGET=aws)."""
    env_file = tmp_path / ".env"
    env_file.write_text("TARGET=local\n")
    with pytest.raises(SettingsError) as caught:
        set_env_values(env_file, {"MODEL_DATA_S3_URI": value})
    assert str(caught.value) == (
        f"MODEL_DATA_S3_URI={value!r} cannot be written to {env_file}: a value in .env must be one line "
        "without control characters"
    )
    assert env_file.read_text() == "TARGET=local\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]
