"""A tiny root module and a runner on it, for the runner's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_twin.control.tf.messages import ProgressEvent
from llm_twin.control.tf.runner import Terraform, TerraformConfig
from tests.support.terraform_modules import MAIN_TF, write_module


@pytest.fixture
def module(tmp_path: Path) -> Path:
    return write_module(tmp_path / "stack", MAIN_TF)


@pytest.fixture
def config(tmp_path: Path, module: Path) -> TerraformConfig:
    return TerraformConfig(working_dir=module, data_dir=tmp_path / "data")


@pytest.fixture
def events() -> list[ProgressEvent]:
    return []


@pytest.fixture
def terraform(config: TerraformConfig, events: list[ProgressEvent]) -> Terraform:
    return Terraform(config, on_event=events.append)
