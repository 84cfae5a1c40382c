"""Who llm-twin acts as: each rule of `identity`, on both targets, with no AWS (STS is a callback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_twin.config import Settings, build_settings
from llm_twin.config.credentials import Credentials
from llm_twin.config.model import Secret
from llm_twin.control import identity
from llm_twin.control.aws import Identity
from llm_twin.control.credentials import write_credentials
from llm_twin.errors import BootstrapRequiredError, StateError

DEPLOYER_ARN = "arn:aws:iam::123456789012:user/llm-twin-deployer"
ADMIN_ARN = "arn:aws:iam::123456789012:user/admin"


def local(tmp_path: Path) -> Settings:
    return build_settings({"target": "local", "state.dir": tmp_path / "state"})


def aws(tmp_path: Path) -> Settings:
    return build_settings(
        {
            "target": "aws",
            "state.dir": tmp_path / "state",
            "state.credentials_file": tmp_path / "deployer.json",
            "admin.access_key_id": Secret("AKIAADMIN"),
            "admin.secret_access_key": Secret("admin-secret"),
        }
    )


def with_deployer(settings: Settings, key: str = "AKIADEPLOYER") -> Settings:
    write_credentials(identity.credentials_path(settings), key, "deployer-secret", DEPLOYER_ARN)
    return settings


def sts(arn: str):
    """An `identify` callback that answers `arn` and remembers the stages it was asked for."""
    asked: list[str] = []

    def identify(stage: str, _credentials: Credentials) -> Identity:
        asked.append(stage)
        return Identity(account="123456789012", arn=arn)

    identify.asked = asked  # type: ignore[attr-defined]
    return identify


def test_the_local_admin_is_the_emulators_fixed_key(tmp_path: Path) -> None:
    assert identity.admin_credentials(local(tmp_path)) == identity.LOCAL_ADMIN


def test_the_aws_admin_comes_from_the_settings(tmp_path: Path) -> None:
    admin = identity.admin_credentials(aws(tmp_path))
    assert (admin.access_key_id, admin.secret_access_key) == ("AKIAADMIN", "admin-secret")


def test_the_key_file_lives_under_the_target_locally_and_where_configured_on_aws(tmp_path: Path) -> None:
    assert (
        identity.credentials_path(local(tmp_path))
        == tmp_path / "state" / "local" / "sagemaker_user_credentials.json"
    )
    assert identity.credentials_path(aws(tmp_path)) == tmp_path / "deployer.json"


def test_the_deployer_is_read_from_its_file(tmp_path: Path) -> None:
    settings = with_deployer(aws(tmp_path))
    credentials, arn = identity.deployer_credentials(settings)
    assert credentials.access_key_id == "AKIADEPLOYER" and arn == DEPLOYER_ARN


def test_the_main_stack_runs_as_the_verified_deployer(tmp_path: Path) -> None:
    settings = with_deployer(aws(tmp_path))
    identify = sts(DEPLOYER_ARN)
    credentials = identity.main_stack_credentials(settings, as_admin=False, identify=identify)
    assert credentials.access_key_id == "AKIADEPLOYER"
    assert identify.asked == ["main stack"]  # type: ignore[attr-defined]


def test_admin_keys_in_the_deployer_file_are_refused(tmp_path: Path) -> None:
    settings = with_deployer(aws(tmp_path), key="AKIAADMIN")
    with pytest.raises(StateError, match="must run as the deployer .* or pass --as-admin"):
        identity.main_stack_credentials(settings, as_admin=False, identify=sts(ADMIN_ARN))


def test_as_admin_runs_the_main_stack_as_the_admin(tmp_path: Path) -> None:
    identify = sts(ADMIN_ARN)
    credentials = identity.main_stack_credentials(aws(tmp_path), as_admin=True, identify=identify)
    assert credentials.access_key_id == "AKIAADMIN"
    assert identify.asked == ["main stack (--as-admin)"]  # type: ignore[attr-defined]


def test_the_main_stack_needs_the_bootstrap_first(tmp_path: Path) -> None:
    with pytest.raises(BootstrapRequiredError, match="run `make bootstrap`"):
        identity.main_stack_credentials(aws(tmp_path), as_admin=False, identify=sts(DEPLOYER_ARN))


def test_the_store_uses_the_deployer_unless_as_admin(tmp_path: Path) -> None:
    settings = with_deployer(aws(tmp_path))
    assert identity.store_credentials(settings, as_admin=False).access_key_id == "AKIADEPLOYER"
    assert identity.store_credentials(settings, as_admin=True).access_key_id == "AKIAADMIN"


def test_lookups_act_as_the_deployer_once_it_exists(tmp_path: Path) -> None:
    settings = aws(tmp_path)
    assert identity.acting_credentials(settings).access_key_id == "AKIAADMIN"
    with_deployer(settings)
    assert identity.acting_credentials(settings).access_key_id == "AKIADEPLOYER"
    assert identity.acting_credentials(settings, as_admin=True).access_key_id == "AKIAADMIN"


def test_inference_on_aws_falls_back_to_the_admin_without_a_key_file(tmp_path: Path) -> None:
    settings = aws(tmp_path)
    assert identity.inference_credentials(settings).access_key_id == "AKIAADMIN"
    with_deployer(settings)
    assert identity.inference_credentials(settings).access_key_id == "AKIADEPLOYER"


def test_inference_on_the_local_target_needs_the_deployer(tmp_path: Path) -> None:
    settings = local(tmp_path)
    with pytest.raises(BootstrapRequiredError):
        identity.inference_credentials(settings)
    with_deployer(settings)
    assert identity.inference_credentials(settings).access_key_id == "AKIADEPLOYER"
