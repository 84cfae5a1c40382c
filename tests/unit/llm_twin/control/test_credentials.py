import os
import stat
from pathlib import Path

import pytest

from llm_twin.control.credentials import read_credentials, write_credentials
from llm_twin.errors import BootstrapRequiredError, StateError


def test_written_owner_only_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "sagemaker_user_credentials.json"
    write_credentials(path, "AKIAEXAMPLE", "secret/value", "arn:aws:iam::123456789012:user/llm-twin-deployer")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    credentials, arn = read_credentials(path)
    assert credentials.access_key_id == "AKIAEXAMPLE"
    assert arn.endswith("user/llm-twin-deployer")
    assert "secret/value" not in repr(credentials)


def test_missing_file_names_the_fixing_command(tmp_path: Path) -> None:
    with pytest.raises(BootstrapRequiredError, match="run `make bootstrap`"):
        read_credentials(tmp_path / "absent.json")


def test_loose_permissions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    write_credentials(path, "AKIAEXAMPLE", "secret", "arn")
    os.chmod(path, 0o644)
    with pytest.raises(StateError, match=r"readable by others \(mode 0644\): run `chmod 600"):
        read_credentials(path)
