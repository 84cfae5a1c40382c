"""Preflight as apply meets it: the lookups run as the admin before the bootstrap, on the local target."""

from __future__ import annotations

import json
from pathlib import Path

from llm_twin.control.deploy.stacks import Stacks
from llm_twin.control.preflight.run import run_preflight
from tests.conftest import private_target, settings_for
from tests.support.preflight import LLAMA_8B


def test_the_report_starts_the_emulator_and_looks_up_as_the_admin(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(LLAMA_8B))
    with private_target(tmp_path / "state", HF_MODEL_ID=str(model)) as env:
        report = run_preflight(Stacks(settings_for(env)))
    assert report.by_name("credentials").status == "OK"
    assert report.by_name("credentials").detail.endswith("user/moto")  # the emulator's name for the admin key
    assert report.by_name("quota").status in ("OK", "WARN")
    assert (
        report.by_name("fit").status == "OK"
        and f"from local checkpoint {model}" in report.by_name("fit").detail
    )
