"""The CLI as people use it: a real subprocess for the full lifecycle, CliRunner for bad input."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli import main
from llm_twin.credentials import read_credentials, write_credentials
from llm_twin.deploy import Deployment
from tests.conftest import settings_for
from tests.project_resources import project_resources

HF_TOKEN = "hf_tok_never_print_me_4242"


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "llm-twin"), "--env-file", "/nonexistent/.env", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.stack
def test_apply_noop_plan_destroy_leaves_nothing(fresh_env: dict[str, str]) -> None:
    env = {**fresh_env, "HF_TOKEN": HF_TOKEN}
    applied = run_cli(env, "apply")
    assert applied.returncode == 0, applied.stderr
    assert "bootstrap has not run on the local target yet: running it first" in applied.stdout
    assert "+ module.iam.aws_iam_user.deployer  created" in applied.stdout
    assert "+ module.s3.aws_s3_bucket.this  created" in applied.stdout
    assert "endpoint llm-twin-endpoint is InService" in applied.stdout
    port = env["LOCAL_AWS_PORT"]
    made = project_resources(port)
    assert made["endpoints"] == ["llm-twin-endpoint"] and made["users"] == ["llm-twin-deployer"]

    replanned = run_cli(env, "plan")
    assert replanned.returncode == 0, replanned.stderr
    assert "no changes: the stack matches the settings" in replanned.stdout

    destroyed = run_cli(env, "destroy")
    assert destroyed.returncode == 0, destroyed.stderr
    assert "- module.sagemaker_endpoint.aws_sagemaker_endpoint.this  destroyed" in destroyed.stdout
    left = project_resources(port)
    assert {k: v for k, v in left.items() if v} == {
        "users": ["llm-twin-deployer"],
        "roles": ["llm-twin-sagemaker-execution"],
        "policies": ["llm-twin-deployer", "llm-twin-sagemaker-execution"],
    }

    unbootstrapped = run_cli(env, "destroy-bootstrap")
    assert unbootstrapped.returncode == 0, unbootstrapped.stderr
    assert not any(project_resources(port).values())

    # The token and the deployer's secret never reach the output or the tfvars files.
    state_dir = Path(env["LLM_TWIN_STATE_DIR"])
    deployment = Deployment(settings_for(env))
    everything = applied.stdout + applied.stderr + replanned.stdout + destroyed.stdout + unbootstrapped.stdout
    everything += "".join(p.read_text() for p in state_dir.rglob("terraform.tfvars.json"))
    everything += (state_dir / "emulator" / "emulator.log").read_text()
    assert HF_TOKEN not in everything
    assert "SecretAccessKey" not in everything
    assert not deployment.credentials_path.exists()


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
    result = CliRunner().invoke(main, ["--env-file", str(tmp_path / "none.env"), "apply"], env=env)
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
