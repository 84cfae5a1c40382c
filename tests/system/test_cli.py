"""The CLI through CliRunner: bad settings, a missing bootstrap, admin keys refused.

Offline runs use a real subprocess, since the process environment is what they test.
The full lifecycle through a real subprocess is in tests/system/test_lifecycle.py.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.config.spec import DEFAULT_PLUGIN_MIRROR, SPEC
from llm_twin.control.credentials import read_credentials, write_credentials
from llm_twin.control.deploy.deployment import Deployment
from llm_twin_local.aws.daemon import free_port
from tests.conftest import private_target, settings_for, stack_environ

BAD_INPUTS = [
    ({"AWS_REGION": "moon-1"}, ["apply"], "SettingsError: AWS_REGION='moon-1' is invalid"),
    (
        {"SAGEMAKER_INSTANCE_TYPE": "p4d.24xlarge"},
        ["plan"],
        "SettingsError: SAGEMAKER_INSTANCE_TYPE='p4d.24xlarge'",
    ),
    ({"MAX_TOTAL_TOKENS": "1024"}, ["apply"], "SettingsError: MAX_TOTAL_TOKENS=1024 must be greater than"),
    ({"SAGEMAKER_ENDPOINT_NAME": "llm-twin-bad_name"}, ["apply"], "SettingsError: SAGEMAKER_ENDPOINT_NAME="),
    ({"TARGET": "aws"}, ["apply"], "SettingsError: TARGET=aws needs admin credentials"),
    ({"TARGET": "aws"}, ["bootstrap"], "SettingsError: TARGET=aws needs admin credentials"),
    ({"TGI_VERSION": "0.0.1"}, ["render"], "TGI_VERSION='0.0.1' is not in the DLC catalogue"),
    ({"ROLLOUT_CANARY_PERCENT": "75"}, ["apply"], "SettingsError: ROLLOUT_CANARY_PERCENT='75' is invalid"),
    (
        {"SCHEDULED_SCALE_IN": "true"},
        ["plan"],
        "SettingsError: SCHEDULED_SCALE_IN=true needs AUTOSCALING_ENABLED",
    ),
]


@pytest.mark.parametrize(("environ", "args", "message"), BAD_INPUTS)
def test_bad_settings_stop_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], args: list[str], message: str
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    state_dir = tmp_path / "state"
    env = {"LLM_TWIN_STATE_DIR": str(state_dir), "LOCAL_AWS_PORT": "1", **environ}
    result = CliRunner().invoke(main, ["--env-file", str(tmp_path / "none.env"), *args], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not state_dir.exists()  # no emulator started, no state written


def test_main_stack_before_bootstrap_on_aws_names_the_fix(tmp_path: Path) -> None:
    env = {
        "TARGET": "aws",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "not-used",
        "LLM_TWIN_STATE_DIR": str(tmp_path / "state"),
        "SAGEMAKER_USER_CREDENTIALS": str(tmp_path / "creds.json"),
    }
    args = ["--env-file", str(tmp_path / "none.env"), "apply", "--skip-preflight", "--yes"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1
    assert (
        "BootstrapRequiredError: the main stack needs the bootstrap's outputs: run `make bootstrap`"
        in result.output
    )


def test_local_status_when_not_running(tmp_path: Path) -> None:
    env = {"LLM_TWIN_STATE_DIR": str(tmp_path), "LOCAL_AWS_PORT": "1"}
    result = CliRunner().invoke(main, ["--env-file", str(tmp_path / "none.env"), "local", "status"], env=env)
    assert result.exit_code == 3
    assert result.output.strip() == "not running"


@pytest.mark.stack
def test_admin_credentials_for_the_main_stack_are_refused_unless_asked(fresh_env: dict[str, str]) -> None:
    """Detected by comparing the caller's ARN with the deployer's, from STS."""
    runner = CliRunner()
    args = ["--env-file", "/nonexistent/.env"]
    assert runner.invoke(main, [*args, "bootstrap"], env=fresh_env).exit_code == 0
    deployment = Deployment(settings_for(fresh_env))
    _, deployer_arn = read_credentials(deployment.credentials_path)
    write_credentials(deployment.credentials_path, "test", "test", deployer_arn)  # admin keys by mistake

    refused = runner.invoke(main, [*args, "plan"], env=fresh_env)
    assert refused.exit_code == 1
    assert f"StateError: the main stack must run as the deployer {deployer_arn}" in refused.output
    assert "pass --as-admin if you mean it" in refused.output
    assert not deployment.main_paths.state.exists()

    allowed = runner.invoke(main, [*args, "plan", "--as-admin"], env=fresh_env)
    assert allowed.exit_code == 0, allowed.output
    assert "main stack (--as-admin) runs as" in allowed.output


# -- offline, from the venv: no Makefile to point Terraform at the provider mirror -------------


def _offline(tmp_path: Path, settings_env: dict[str, str]) -> dict[str, str]:
    """The process environment of `llm-twin` run by hand offline: TF_PLUGIN_DIR unset, no registry.

    HTTPS_PROXY names a closed local port, so a registry request fails at once instead of
    hanging; loopback (the local AWS) stays direct.
    """
    if not DEFAULT_PLUGIN_MIRROR.is_dir():
        pytest.skip(f"no offline provider mirror at {DEFAULT_PLUGIN_MIRROR}")
    env = {k: v for k, v in os.environ.items() if k not in SPEC and not k.lower().endswith("_proxy")}
    env.update({k: v for k, v in settings_env.items() if k != "TF_PLUGIN_DIR"})
    closed = free_port()
    env.update(HTTPS_PROXY=f"http://127.0.0.1:{closed}", NO_PROXY="127.0.0.1,localhost")
    return env


def _llm_twin(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("llm-twin")),
        "--env-file",
        str(tmp_path / "none.env"),
        *args,
    ]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_validate_from_the_venv_works_offline_without_tf_plugin_dir(tmp_path: Path) -> None:
    env = _offline(tmp_path, stack_environ(tmp_path / "state", free_port()))
    result = _llm_twin(tmp_path, env, "validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["bootstrap: valid", "main: valid"]


@pytest.mark.stack
def test_plan_from_the_venv_works_offline_without_tf_plugin_dir(tmp_path: Path) -> None:
    """Runs `terraform init` for both stacks (bootstrap applied first), as `make plan` would."""
    with private_target(tmp_path / "state") as settings_env:
        result = _llm_twin(tmp_path, _offline(tmp_path, settings_env), "plan")
    assert result.returncode == 0, result.stderr
    assert "Plan:" in result.stdout or "no changes" in result.stdout


@pytest.mark.stack
def test_status_from_the_venv_works_offline_without_tf_plugin_dir(
    applied_stack: Deployment, shared_env: dict[str, str], tmp_path: Path
) -> None:
    result = _llm_twin(tmp_path, _offline(tmp_path, shared_env), "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"endpoint: {applied_stack.settings.names.endpoint}\n")
    assert "status:   InService" in result.stdout
